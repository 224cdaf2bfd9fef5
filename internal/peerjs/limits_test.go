package peerjs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHTTPEndpoints(t *testing.T) {
	tests := []struct {
		name, method, path string
		cfg                Config
		origin             string
		wantStatus         int
		check              func(t *testing.T, body string, h http.Header)
	}{
		{name: "info", method: "GET", path: "/peerjs", wantStatus: 200, check: func(t *testing.T, body string, _ http.Header) {
			if !strings.Contains(body, `"PeerJS Server"`) {
				t.Errorf("body %q", body)
			}
		}},
		{name: "info slash", method: "GET", path: "/peerjs/", wantStatus: 200},
		{name: "id", method: "GET", path: "/peerjs/peerjs/id?ts=1&version=1.5.5", origin: "https://app.example", wantStatus: 200,
			check: func(t *testing.T, body string, h http.Header) {
				if !validID(body) {
					t.Errorf("id %q is not a valid PeerJS id", body)
				}
				if h.Get("Access-Control-Allow-Origin") != "https://app.example" {
					t.Errorf("CORS header %q", h.Get("Access-Control-Allow-Origin"))
				}
			}},
		{name: "id refused origin", method: "GET", path: "/peerjs/peerjs/id", origin: "https://evil.example",
			cfg: Config{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://app.example" }}, wantStatus: 200,
			check: func(t *testing.T, _ string, h http.Header) {
				if v := h.Get("Access-Control-Allow-Origin"); v != "" {
					t.Errorf("CORS header %q for a refused origin", v)
				}
			}},
		{name: "preflight", method: "OPTIONS", path: "/peerjs/peerjs/id", origin: "https://app.example", wantStatus: 204},
		{name: "peers off", method: "GET", path: "/peerjs/peerjs/peers", wantStatus: 401},
		{name: "peers on", method: "GET", path: "/peerjs/peerjs/peers", cfg: Config{AllowDiscovery: true}, wantStatus: 200,
			check: func(t *testing.T, body string, _ http.Header) {
				var ids []string
				if err := json.Unmarshal([]byte(body), &ids); err != nil || len(ids) != 1 || ids[0] != "listed" {
					t.Errorf("peers %q (%v)", body, err)
				}
			}},
		{name: "unknown", method: "GET", path: "/peerjs/a/b/c", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, hs := start(t, tc.cfg)
			open(t, hs, "listed")
			req, _ := http.NewRequest(tc.method, hs.URL+tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.check != nil {
				tc.check(t, string(body), resp.Header)
			}
		})
	}
}

func TestWebSocketOriginPolicy(t *testing.T) {
	_, hs := start(t, Config{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://app.example" }})
	open(t, hs, "ok") // dial sends Origin https://app.example
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/peerjs/peerjs?key=peerjs&id=x&token=t"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("want 403, got %v %v", resp, err)
	}
}

func TestAliveTimeout(t *testing.T) {
	srv, hs := start(t, Config{AliveTimeout: time.Second, PingInterval: 300 * time.Millisecond})
	// This client never reads, so it never answers a ping, and never
	// sends HEARTBEAT: the server must free its id.
	dial(t, hs, "peerjs", "sleepy", "t1")
	waitFor(t, "registered", func() bool { return srv.Stats().Peers == 1 })
	waitFor(t, "id freed", func() bool { return srv.Stats().Peers == 0 })
	// One that sends HEARTBEATs stays.
	c := open(t, hs, "awake")
	stop := time.Now().Add(2500 * time.Millisecond) // over two alive timeouts
	for time.Now().Before(stop) {
		c.sendJSON(map[string]string{"type": typeHeartbeat})
		time.Sleep(50 * time.Millisecond)
	}
	if st := srv.Stats(); st.Peers != 1 {
		t.Fatalf("stats %+v: the heartbeating client was dropped", st)
	}
}

func TestSlowConsumerIsCut(t *testing.T) {
	srv, hs := start(t, Config{SendQueue: 4, QueueLen: 2, MsgRate: 1e6, MsgBurst: 1e6})
	fast := open(t, hs, "fast")
	open(t, hs, "slow") // never reads again
	big := `{"sdp":"` + strings.Repeat("x", 60<<10) + `"}`
	for i := 0; i < 200 && srv.Stats().Peers == 2; i++ {
		fast.sendJSON(relay(typeOffer, "slow", big))
	}
	// The sender hears LEAVE as if the slow peer had gone.
	if m := fast.read(); m.Type != typeLeave || m.Src != "slow" {
		t.Fatalf("got %s, want LEAVE from slow", m.raw)
	}
	waitFor(t, "slow gone", func() bool { return srv.Stats().Conns == 1 })
}

func TestLimits(t *testing.T) {
	t.Run("message flood", func(t *testing.T) {
		_, hs := start(t, Config{MsgRate: 1, MsgBurst: 5})
		c := open(t, hs, "flooder")
		go func() {
			for range 100 {
				if c.ws.WriteJSON(map[string]string{"type": typeHeartbeat}) != nil {
					return
				}
			}
		}()
		if code := c.closed(); code != websocket.ClosePolicyViolation {
			t.Fatalf("close %d, want 1008", code)
		}
	})
	t.Run("per-IP connections", func(t *testing.T) {
		_, hs := start(t, Config{MaxConnsPerIP: 2})
		open(t, hs, "one")
		open(t, hs, "two")
		c := dial(t, hs, "peerjs", "three", "t")
		if m := c.read(); m.Type != typeError || m.errorText() != errMsgPerIP {
			t.Fatalf("got %s", m.raw)
		}
		if code := c.closed(); code != websocket.CloseTryAgainLater {
			t.Fatalf("close %d, want 1013", code)
		}
	})
	t.Run("per-IP connection rate", func(t *testing.T) {
		_, hs := start(t, Config{ConnRate: 0.001, ConnBurst: 2})
		open(t, hs, "one")
		open(t, hs, "two")
		c := dial(t, hs, "peerjs", "three", "t")
		if m := c.read(); m.Type != typeError || m.errorText() != errMsgConnRate {
			t.Fatalf("got %s", m.raw)
		}
	})
	t.Run("message too big", func(t *testing.T) {
		_, hs := start(t, Config{MaxMessageSize: 1024})
		c := open(t, hs, "big")
		c.sendRaw(websocket.TextMessage, []byte(`{"type":"OFFER","dst":"x","payload":{"s":"`+strings.Repeat("y", 2000)+`"}}`))
		if code := c.closed(); code != websocket.CloseMessageTooBig {
			t.Fatalf("close %d, want 1009", code)
		}
	})
}

// Bad frames are ignored, as the reference server ignores them: the
// connection stays and nothing reaches the other peer.
func TestBadInputIgnored(t *testing.T) {
	_, hs := start(t, Config{})
	a, b := open(t, hs, "sender"), open(t, hs, "target")
	bad := []string{
		`not json`, `[]`, `"OFFER"`, `{"type":1,"dst":"target"}`, `{"type":"OFFER","dst":7}`,
		`{"type":"OFFER","dst":"target","payload":"str"}`, `{"type":"OFFER","dst":"target","payload":[1]}`,
		`{"type":"OPEN","dst":"target"}`, `{"type":"ID-TAKEN","dst":"target"}`, `{"type":"offer","dst":"target"}`,
		`{"type":"OFFER"}`, `{}`,
	}
	for _, s := range bad {
		a.sendRaw(websocket.TextMessage, []byte(s))
	}
	a.sendRaw(websocket.BinaryMessage, []byte(`{"type":"OFFER","dst":"target","payload":{}}`))
	a.sendJSON(relay(typeOffer, "target", `{"good":true}`))
	if m := b.read(); string(m.Payload) != `{"good":true}` {
		t.Fatalf("target got %s before the good frame", m.raw)
	}
}

func TestShutdown(t *testing.T) {
	srv, hs := start(t, Config{})
	a := open(t, hs, "a")
	open(t, hs, "b").sendJSON(relay(typeOffer, "queued-for", `{}`))
	waitFor(t, "queued", func() bool { return srv.Stats().QueuedMessages == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := a.closed(); code != websocket.CloseGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if st := srv.Stats(); st != (Stats{}) {
		t.Fatalf("stats after shutdown %+v", st)
	}
	c := dial(t, hs, "peerjs", "late", "t")
	if m := c.read(); m.Type != typeError || m.errorText() != errMsgShutdown {
		t.Fatalf("got %s", m.raw)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"ping not under alive", Config{AliveTimeout: time.Second, PingInterval: 2 * time.Second}},
		{"queue over send queue", Config{QueueLen: 64, SendQueue: 64}},
		{"key too long", Config{Key: strings.Repeat("k", 200)}},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.cfg)
		}
	}
}

// An idle connection costs no goroutine: wsconn's pollers (at most one per
// CPU, shared by every connection) read it, writes need none once they are
// out, and the HTTP handler has returned.
func TestIdleConnectionHasNoGoroutine(t *testing.T) {
	srv, hs := start(t, Config{MaxConnsPerIP: 1000, ConnBurst: 1000})
	const n = 50
	for i := range n {
		open(t, hs, fmt.Sprintf("idle%d", i))
	}
	if st := srv.Stats(); st.Conns != n {
		t.Fatalf("stats %+v, want %d connections", st, n)
	}
	var ours, pollers int
	waitFor(t, fmt.Sprintf("no goroutine but pollers for %d idle connections", n), func() bool {
		ours, pollers = 0, 0
		buf := make([]byte, 8<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			// Goroutines running the server's code (not the tests').
			switch {
			case strings.Contains(g, "internal/wsconn.(*poller).loop("):
				pollers++
			case strings.Contains(g, "internal/peerjs.(*") || strings.Contains(g, "internal/wsconn."):
				ours++
			}
		}
		return ours == 0 && pollers <= runtime.GOMAXPROCS(0)
	})
	if pollers == 0 {
		t.Fatal("no poller reads the connections")
	}
}
