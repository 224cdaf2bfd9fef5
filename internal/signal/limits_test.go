package signal

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

func TestMessageFlood(t *testing.T) {
	_, url := startHub(t, Config{MsgRate: 0.001, MsgBurst: 5})
	c := dial(t, url)
	for range 6 {
		c.send(&protocol.Ping{})
	}
	for range 5 {
		expect[*protocol.Pong](c)
	}
	c.expectError(protocol.CodeRateLimited)
	// Keep flooding: after a burst's worth of dropped messages, cut off,
	// and told only once in between.
	for range 10 {
		if c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
			break
		}
	}
	if code := c.expectClose(); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", code)
	}
}

func TestJoinRateLimitPerIP(t *testing.T) {
	_, url := startHub(t, Config{JoinRate: 0.001, JoinBurst: 3})
	a, b := dial(t, url), dial(t, url) // same IP, two connections
	for _, room := range []string{"g1", "g2"} {
		a.join(room)
		expect[*protocol.Joined](a)
		a.send(&protocol.Leave{})
	}
	b.join("g3")
	expect[*protocol.Joined](b)
	a.join("g4")
	a.expectError(protocol.CodeRateLimited)
}

func TestConnectionCaps(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		code protocol.Code
	}{
		{"per ip", Config{MaxConnsPerIP: 2}, protocol.CodeTooManyConns},
		{"total", Config{MaxConns: 2}, protocol.CodeOverCapacity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, url := startHub(t, tc.cfg)
			a := dial(t, url)
			dial(t, url)
			// The handshake completes before the server admits, so wait
			// for both to count before the third arrives.
			waitFor(t, "two admitted", func() bool { return h.Stats().Sessions == 2 })
			c := dial(t, url)
			c.expectError(tc.code)
			if code := c.expectClose(); code != websocket.CloseTryAgainLater {
				t.Fatalf("close code = %d, want 1013", code)
			}
			a.closeClean()
			waitFor(t, "slot freed", func() bool { return h.Stats().Sessions == 1 })
			d := dial(t, url)
			d.send(&protocol.Ping{})
			expect[*protocol.Pong](d)
		})
	}
}

// A connection that never joins, or that left and joins nothing else, is
// closed after JoinTimeout with join-timeout; one in a room stays. Before,
// 100 sockets that never joined held an address's connection limit for
// as long as their owner liked.
func TestConnectionsInNoRoomAreClosed(t *testing.T) {
	h, url := startHub(t, Config{JoinTimeout: 300 * time.Millisecond})
	idle := dial(t, url)
	left := dial(t, url)
	left.join("a")
	expect[*protocol.Joined](left)
	left.send(&protocol.Leave{})
	refused := dial(t, url)
	a, b := pair(t, url, "full")
	_ = a
	refused.join("full")
	refused.expectError(protocol.CodeRoomFull) // a refused join does not restart the clock

	for name, c := range map[string]*wsClient{"never joined": idle, "left": left, "refused": refused} {
		c.expectError(protocol.CodeJoinTimeout)
		if code := c.expectClose(); code != websocket.ClosePolicyViolation {
			t.Fatalf("%s: close code = %d, want 1008", name, code)
		}
	}
	// The pair in a room is still served.
	b.send(&protocol.Ping{})
	expect[*protocol.Pong](b)
	waitFor(t, "the pair's 2 sessions alone", func() bool { return h.Stats().Sessions == 2 })
}
