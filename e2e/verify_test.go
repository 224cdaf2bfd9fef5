package e2e

import (
	"context"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestVerifyCode: both pages of a call show the same six digits (and the
// share box its QR code), and the
// app's derivation gives, for a fixed pair of descriptions, the code
// computed outside the browser from docs/protocol.md (the same vector as
// the Go SDK's test).
func TestVerifyCode(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	first, second := connectPair(t, b, srv.URL()+"/r/verify-room")
	var codes [2]string
	for i, p := range []context.Context{first, second} {
		must(t, browsertest.WaitFor(p, `/^\d{3} \d{3}$/.test(`+browsertest.TestID("verify-code")+`.textContent)`, stepTimeout))
		s, err := browsertest.Text(p, "verify-code")
		must(t, err)
		codes[i] = s
	}
	if codes[0] != codes[1] {
		t.Fatalf("the pages show %q and %q", codes[0], codes[1])
	}
	// The share box's QR code of the room link loaded from the server.
	must(t, browsertest.WaitFor(first, `(() => { const q = `+browsertest.TestID("qr-code")+`; return q.complete && q.naturalWidth > 100 && q.src.endsWith("/qr/verify-room"); })()`, stepTimeout))
	var vector string
	must(t, browsertest.Eval(first, `(async () => {
		const { verifyCodeFromSDP } = await import("/verify.js");
		const a = "v=0\r\ns=-\r\na=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n";
		const b = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:SHA-256 01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef\r\n";
		return await verifyCodeFromSDP(b, a);
	})()`, &vector))
	if vector != "138 104" {
		t.Fatalf("verifyCodeFromSDP on the fixed vector = %q, want 138 104", vector)
	}
}
