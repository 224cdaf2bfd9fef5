package peerjs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline bounds every wait in these tests; it is a hang guard, not a timing.
const deadline = 5 * time.Second

// start runs a Server mounted at /peerjs on a test HTTP server.
func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/peerjs")
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return srv, hs
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

// dial opens the PeerJS WebSocket as the client does: /peerjs/peerjs?key=&id=&token=.
func dial(t *testing.T, hs *httptest.Server, key, id, token string) *client {
	t.Helper()
	q := url.Values{}
	if key != "" {
		q.Set("key", key)
	}
	if id != "" {
		q.Set("id", id)
	}
	if token != "" {
		q.Set("token", token)
	}
	q.Set("version", "1.5.5")
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/peerjs/peerjs?" + q.Encode()
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://app.example"}})
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// open dials and expects OPEN.
func open(t *testing.T, hs *httptest.Server, id string) *client {
	t.Helper()
	c := dial(t, hs, "peerjs", id, "tok-"+id)
	if m := c.read(); m.Type != typeOpen {
		t.Fatalf("%s: got %+v, want OPEN", id, m)
	}
	return c
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendRaw(typ int, b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame is a decoded server message with the raw text kept for checks.
type frame struct {
	message
	raw string
}

func (c *client) read() frame {
	c.t.Helper()
	f, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) tryRead() (frame, error) {
	c.ws.SetReadDeadline(time.Now().Add(deadline))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(b, &f.message); err != nil {
		return frame{}, err
	}
	f.raw = string(b)
	return f, nil
}

// closed reads until the server closes and returns the close code.
func (c *client) closed() int {
	c.t.Helper()
	for {
		_, err := c.tryRead()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("want a close frame, got %v", err)
	}
}

// errorText is the msg of an ERROR or ID-TAKEN payload.
func (f frame) errorText() string {
	var p struct {
		Msg string `json:"msg"`
	}
	json.Unmarshal(f.Payload, &p)
	return p.Msg
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func relay(typ, dst string, payload string) map[string]any {
	m := map[string]any{"type": typ, "dst": dst}
	if payload != "" {
		m["payload"] = json.RawMessage(payload)
	}
	return m
}
