package web

import (
	"bytes"
	"image/png"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"rsc.io/qr"

	"github.com/duet-call/duet/internal/clientaddr"
)

// TestQR: /qr/{room} is a PNG whose modules are exactly the QR code of the
// room's link on the host asked (https behind a trusted TLS proxy, which
// nobody else can fake), and bad room ids are refused, so it encodes
// nothing else.
func TestQR(t *testing.T) {
	// httptest's requests come from 192.0.2.1.
	h := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}).Handler(Handler())
	tests := []struct {
		name, path, proto, want string
		status                  int
	}{
		{"room link", "/qr/Abc_123-x", "", "http://example.com/r/Abc_123-x", 200},
		{"behind a TLS proxy", "/qr/Abc_123-x", "https", "https://call.example.org/r/Abc_123-x", 200},
		{"forwarded by an untrusted peer", "/qr/Abc_123-x", "untrusted", "http://example.com/r/Abc_123-x", 200},
		{"bad room", "/qr/bad.room", "", "", 404},
		{"too long", "/qr/" + strings.Repeat("a", 65), "", "", 404},
		{"arbitrary text", "/qr/hello%20world", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			switch tc.proto {
			case "https":
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("X-Forwarded-Host", "call.example.org")
			case "untrusted":
				req.RemoteAddr = "203.0.113.9:4000"
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("X-Forwarded-Host", "evil.example")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "image/png" {
				t.Fatalf("Content-Type %q", ct)
			}
			body, _ := io.ReadAll(res.Body)
			img, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			want, err := qr.Encode(tc.want, qr.M)
			if err != nil {
				t.Fatal(err)
			}
			const scale = 6
			b := img.Bounds()
			if b.Dx() != b.Dy() || b.Dx() != (want.Size+8)*scale {
				t.Fatalf("image %v, want a square of %d px (%d modules, quiet zone 4, scale %d)", b, (want.Size+8)*scale, want.Size, scale)
			}
			// Sample the centre of every module: dark where the QR code of
			// the expected link is dark.
			for y := range want.Size {
				for x := range want.Size {
					r, _, _, _ := img.At((x+4)*scale+scale/2, (y+4)*scale+scale/2).RGBA()
					if dark := r < 0x8000; dark != want.Black(x, y) {
						t.Fatalf("module (%d,%d) differs from the QR code of %q", x, y, tc.want)
					}
				}
			}
		})
	}
}
