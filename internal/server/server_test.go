package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutes(t *testing.T) {
	s := start(t, Config{})
	tests := []struct {
		path   string
		status int
		body   string // a substring the body must hold
	}{
		{"/healthz", 200, "ok"},
		{"/", 200, "<"},
		{"/r/Abc_123-x", 200, "<"},
		{"/r/bad!room", 404, ""},
		{"/api/ice-servers", 200, `"iceServers":[]`},
	}
	for _, tc := range tests {
		resp, body := get(t, s.URL()+tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	// Without metrics a call report is accepted and dropped, not sent to
	// the static files.
	rep, err := http.Post(s.URL()+"/api/call-report", "application/json", strings.NewReader(`{"outcome":"connected","path":"direct","setupMs":5}`))
	if err != nil {
		t.Fatal(err)
	}
	rep.Body.Close()
	if rep.StatusCode != http.StatusNoContent {
		t.Errorf("POST /api/call-report without metrics = %d, want 204", rep.StatusCode)
	}
	resp, _ := get(t, s.URL()+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
}

func TestOriginPolicy(t *testing.T) {
	check, err := OriginChecker([]string{"https://app.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Config{Signal: signalCfg(check)})
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws"
	host := strings.TrimPrefix(s.URL(), "http://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://app.example.org", true},
		{"https://evil.example", false},
		{"http://app.example.org", false}, // scheme matters
		{"null", false},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(wsURL, h)
		if tc.ok != (err == nil) {
			t.Errorf("origin %q: err = %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if err == nil {
			c.Close()
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: want HTTP 403, got %v", tc.origin, resp)
		}
	}
	if _, err := OriginChecker([]string{"app.example.org"}); err == nil {
		t.Error("an origin without scheme must be rejected")
	}
}

// /api/ice-servers is anonymous, so it hands out what costs nothing: the
// STUN server. Relay credentials go only to connections that joined a
// room; before, anyone could take an hour's credential from here.
func TestICEServersEndpointHandsOutNoCredentials(t *testing.T) {
	ice := func(host, user string) []protocol.ICEServer {
		return []protocol.ICEServer{
			{URLs: []string{"stun:" + host + ":3478"}},
			{URLs: []string{"turn:" + host + ":3478"}, Username: "1:" + user, Credential: "secret"},
		}
	}
	cfg := Config{}
	cfg.Signal.ICEServers = ice
	s := start(t, cfg)
	_, body := get(t, s.URL()+"/api/ice-servers")
	var got struct{ ICEServers []protocol.ICEServer }
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.ICEServers) != 1 || got.ICEServers[0].URLs[0] != "stun:127.0.0.1:3478" {
		t.Fatalf("body %s (err %v), want the STUN server alone", body, err)
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "turn:") {
		t.Fatalf("anonymous request got a relay credential: %s", body)
	}
}

func TestShutdownTwiceAndRestartOnSamePort(t *testing.T) {
	s := start(t, Config{})
	addr := s.Addr().String()
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	s2, _ := New(Config{Addr: addr, Logger: slog.New(slog.DiscardHandler)})
	if err := s2.Start(ctx); err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	s2.Shutdown(ctx)
}

func TestCheckPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if _, err := LoadOrCreateSecret(p); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(p); err != nil {
		t.Fatalf("a secret duet wrote is not private: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable secret: %v, want an error that says what to do", err)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d", "secret")
	a, err := LoadOrCreateSecret(p)
	if err != nil || len(a) != 32 {
		t.Fatalf("create: %v %d", err, len(a))
	}
	b, err := LoadOrCreateSecret(p)
	if err != nil || string(a) != string(b) {
		t.Fatalf("reload gave a different secret (err %v)", err)
	}
}

func signalCfg(check func(*http.Request) bool) (c signalConfig) {
	c.CheckOrigin = check
	return c
}

type signalConfig = signal.Config
