package certs

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHSTS: the header is on responses to requests that came over TLS,
// never on plain HTTP, and not at all with a max-age of 0.
func TestHSTS(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		tls    bool
		want   string
	}{
		{"https", 365 * 24 * time.Hour, true, "max-age=31536000"},
		{"plain http", 365 * 24 * time.Hour, false, ""},
		{"https, off", 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := HSTS(tc.maxAge)(app)
			var srv *httptest.Server
			if tc.tls {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/r/room")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("Strict-Transport-Security %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRedirectHandler: every request to the plain port is sent, with its
// path and query and method kept (308), to the same host over HTTPS.
func TestRedirectHandler(t *testing.T) {
	for _, tc := range []struct {
		name      string
		port      int
		method    string
		host, uri string
		wantCode  int
		wantLoc   string
	}{
		{"standard port drops the port", 443, "GET", "call.example.org", "/r/abc?x=1", 308, "https://call.example.org/r/abc?x=1"},
		{"host with port 80", 443, "GET", "call.example.org:80", "/", 308, "https://call.example.org/"},
		{"other https port", 8443, "GET", "call.example.org", "/ws", 308, "https://call.example.org:8443/ws"},
		{"POST keeps its method", 443, "POST", "call.example.org", "/api/call-report", 308, "https://call.example.org/api/call-report"},
		{"IPv6 literal", 443, "GET", "[2001:db8::1]:80", "/", 308, "https://[2001:db8::1]/"},
		{"IPv6 literal, other port", 8443, "GET", "[2001:db8::1]", "/a", 308, "https://[2001:db8::1]:8443/a"},
		{"no host", 443, "GET", "", "/", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://placeholder"+tc.uri, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			RedirectHandler(tc.port).ServeHTTP(w, r)
			if w.Code != tc.wantCode || w.Header().Get("Location") != tc.wantLoc {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tc.wantCode, tc.wantLoc)
			}
		})
	}
}

// TestPlainServer: the port-80 server really listens and redirects, and
// its Shutdown can be called twice.
func TestPlainServer(t *testing.T) {
	s, err := ListenPlain(t.Context(), "127.0.0.1:0", RedirectHandler(443), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{}},
	}
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/r/room", nil)
	req.Host = "call.example.org"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://call.example.org/r/room" {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on plain HTTP")
	}
	for range 2 {
		if err := s.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}
}
