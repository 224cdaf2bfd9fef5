package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

var versioned = regexp.MustCompile(`/v/([0-9a-f]{16})/app\.js`)

// TestVersionedAndCompressed (issue 15): the page names its module under
// this build's version; that file is served gzipped to a browser that
// takes it, cached for a year, and the same bytes as the plain file once
// unzipped; a page is revalidated (ETag, 304); another build's version is
// 404, so an old page never gets a new module to mix with its old ones.
func TestVersionedAndCompressed(t *testing.T) {
	h := Handler()
	res, page := do(t, h, "/", nil)
	m := versioned.FindSubmatch(page)
	if m == nil {
		t.Fatalf("the page loads no versioned app.js:\n%s", page)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q, want no-cache", cc)
	}
	etag := res.Header.Get("ETag")
	if res, _ := do(t, h, "/", map[string]string{"If-None-Match": etag}); etag == "" || res.StatusCode != http.StatusNotModified {
		t.Errorf("page with its ETag %q: status %d, want 304", etag, res.StatusCode)
	}

	_, plain := do(t, h, "/app.js", nil)
	res, gz := do(t, h, string(m[0]), map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("%s: status %d, Content-Encoding %q, Vary %q; want 200, gzip, Accept-Encoding", m[0], res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("%s: Cache-Control %q, want a year, immutable", m[0], cc)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) || len(gz) >= len(plain) {
		t.Errorf("gzipped app.js: %d bytes, unzipped equal to the plain file: %v", len(gz), bytes.Equal(unzipped, plain))
	}
	if res, _ := do(t, h, string(m[0]), nil); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that did not ask for it")
	}
	if res, _ := do(t, h, string(m[0]), map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it (q=0)")
	}
	for _, path := range []string{"/v/0000000000000000/app.js", "/v/" + string(m[1]) + "/index.html", "/v/" + string(m[1]) + "/nope.js"} {
		if res, _ := do(t, h, path, nil); res.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
}

// TestServiceWorker: /sw.js names this build's version and shell, is
// revalidated on each load, and its shell holds no signaling, API or QR path.
func TestServiceWorker(t *testing.T) {
	h := Handler()
	_, page := do(t, h, "/", nil)
	version := string(versioned.FindSubmatch(page)[1])
	res, sw := do(t, h, "/sw.js", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("/sw.js: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	s := string(sw)
	if strings.Contains(s, "__DUET_") || !strings.Contains(s, `"`+version+`"`) || !strings.Contains(s, "/v/"+version+"/app.js") {
		t.Errorf("/sw.js lacks this build's version %s and shell", version)
	}
	for _, bad := range []string{`"/ws`, `"/api/`, `"/qr/`} {
		if strings.Contains(s, bad) {
			t.Errorf("/sw.js's shell lists %s", bad)
		}
	}
	res, body := do(t, h, "/manifest.webmanifest", nil)
	if res.Header.Get("Content-Type") != "application/manifest+json" || !strings.Contains(string(body), `"display": "standalone"`) {
		t.Errorf("manifest: %q", res.Header.Get("Content-Type"))
	}
}

// TestPageLanguage: <html lang> follows Accept-Language.
func TestPageLanguage(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ accept, want string }{
		{"", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
		{"zh-TW", "zh-CN"},
		{"en-GB,zh;q=0.5", "en"},
		{"fr-FR,zh;q=0.7,en;q=0.5", "zh-CN"},
		{"de, en;q=0.2, zh;q=0.9", "zh-CN"},
		{"zh;q=0, en", "en"},
		{"fr", "en"},
	} {
		for _, path := range []string{"/", "/r/abc", "/check"} {
			res, body := do(t, h, path, map[string]string{"Accept-Language": tc.accept})
			if !strings.Contains(string(body), `<html lang="`+tc.want+`">`) {
				t.Errorf("GET %s, Accept-Language %q: want lang %s", path, tc.accept, tc.want)
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept-Language") {
				t.Errorf("GET %s: Vary %q lacks Accept-Language", path, res.Header.Get("Vary"))
			}
		}
	}
}
