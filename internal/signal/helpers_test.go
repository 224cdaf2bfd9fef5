package signal

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/protocol"
)

// startHub runs a hub behind a real HTTP server on a loopback port. Every
// frame either way is checked against protocol/schema (schematest.AgreeTap).
func startHub(t *testing.T, cfg Config) (*Hub, string) {
	t.Helper()
	if cfg.Tap == nil {
		cfg.Tap = schematest.AgreeTap(t)
	}
	h := NewHub(cfg, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Shutdown(t.Context())
		ts.Close()
	})
	return h, "ws" + strings.TrimPrefix(ts.URL, "http")
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, url string) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn}
}

// smallBufDialer dials with a 4 KB socket receive buffer, for clients
// that never read: what they leave unread then stays in the server's
// queue, not in the kernel's buffers (megabytes on loopback), so the
// server's bound is what is measured and reached.
var smallBufDialer = websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
}}).DialContext}

// dialSmall is dial with smallBufDialer.
func dialSmall(t *testing.T, url string) *wsClient {
	t.Helper()
	conn, _, err := smallBufDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *wsClient) send(m protocol.Message) {
	c.t.Helper()
	b, err := protocol.Encode(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

func (c *wsClient) join(room string) {
	c.t.Helper()
	c.send(&protocol.Join{V: protocol.Version, Room: room})
}

// next reads one server message, failing the test after 5 s.
func (c *wsClient) next() protocol.Message {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		c.t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// expect reads the next message and fails unless it has type T.
func expect[T protocol.Message](c *wsClient) T {
	c.t.Helper()
	m := c.next()
	v, ok := m.(T)
	if !ok {
		var want T
		c.t.Fatalf("got %T %+v, want %T", m, m, want)
	}
	return v
}

func (c *wsClient) expectError(code protocol.Code) {
	c.t.Helper()
	e := expect[*protocol.ErrorMessage](c)
	if e.Code != code {
		c.t.Fatalf("error code = %q (%s), want %q", e.Code, e.Message, code)
	}
}

// expectClose reads until the connection closes and returns the close code.
func (c *wsClient) expectClose() int {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// pair puts two clients into room and consumes their join messages.
func pair(t *testing.T, url, room string) (a, b *wsClient) {
	t.Helper()
	return joinPair(t, room, dial(t, url), dial(t, url))
}

// slowPair is pair with b dialed by dialSmall, for a b that never reads:
// the server then meets b's backlog after kilobytes, not after the
// megabytes loopback socket buffers take (slow to fill on a busy machine).
func slowPair(t *testing.T, url, room string) (a, b *wsClient) {
	t.Helper()
	return joinPair(t, room, dial(t, url), dialSmall(t, url))
}

func joinPair(t *testing.T, room string, a, b *wsClient) (*wsClient, *wsClient) {
	t.Helper()
	a.join(room)
	expect[*protocol.Joined](a)
	b.join(room)
	expect[*protocol.Joined](b)
	expect[*protocol.PeerJoined](a)
	return a, b
}

func candidate(i int) *protocol.Candidate {
	mid := "0"
	return &protocol.Candidate{Candidate: protocol.ICECandidate{
		Candidate: "candidate:" + itoa(i) + " 1 udp 2122260223 192.0.2.1 54321 typ host",
		SDPMid:    &mid,
	}}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeClean ends the connection the way a closing tab does: with a close
// frame, which frees the place at once.
func (c *wsClient) closeClean() {
	c.t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		c.t.Fatalf("close: %v", err)
	}
	c.conn.Close()
}
