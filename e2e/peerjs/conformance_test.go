package peerjs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The protocol-level half of the interchangeability proof: the same
// WebSocket scenarios against duet and the reference server must produce
// the same frames. Close codes are not compared (the reference closes
// without one), nor what the documented differences cover.

type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func wsDial(t *testing.T, tg target, key, id, token string) *wsClient {
	t.Helper()
	q := url.Values{}
	for k, v := range map[string]string{"key": key, "id": id, "token": token} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u := fmt.Sprintf("ws://%s:%d%s/peerjs?%s", tg.host, tg.port, tg.path, q.Encode())
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("%s: dial: %v", tg.name, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &wsClient{t: t, ws: ws}
}

// next returns the next frame with its keys sorted, "closed" when the
// server closed the connection, or "timeout" after d.
func (c *wsClient) next(d time.Duration) string {
	c.ws.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		var ne interface{ Timeout() bool }
		switch {
		case errors.As(err, &ce):
			return "closed"
		case errors.As(err, &ne) && ne.Timeout():
			return "timeout"
		}
		return "closed"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "bad json: " + string(b)
	}
	out, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(out)
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

const wait = 5 * time.Second // hang guard for frames that must come

type scenario struct {
	name string
	run  func(t *testing.T, tg target) []string
	want []string
}

var scenarios = []scenario{
	{"open", func(t *testing.T, tg target) []string {
		return []string{wsDial(t, tg, "peerjs", "open1", "t").next(wait)}
	}, []string{`{"type":"OPEN"}`}},
	{"relay sets src", func(t *testing.T, tg target) []string {
		a, b := wsDial(t, tg, "peerjs", "ra", "t"), wsDial(t, tg, "peerjs", "rb", "t")
		a.next(wait)
		b.next(wait)
		a.send(map[string]any{"type": "OFFER", "dst": "rb", "src": "forged", "payload": map[string]any{"sdp": map[string]string{"type": "offer", "sdp": "v=0"}, "connectionId": "dc_x"}})
		return []string{b.next(wait)}
	}, []string{`{"dst":"rb","payload":{"connectionId":"dc_x","sdp":{"sdp":"v=0","type":"offer"}},"src":"ra","type":"OFFER"}`}},
	{"id taken", func(t *testing.T, tg target) []string {
		wsDial(t, tg, "peerjs", "held", "t1").next(wait)
		c := wsDial(t, tg, "peerjs", "held", "t2")
		return []string{c.next(wait), c.next(wait)}
	}, []string{`{"payload":{"msg":"ID is taken"},"type":"ID-TAKEN"}`, "closed"}},
	{"invalid key", func(t *testing.T, tg target) []string {
		c := wsDial(t, tg, "wrong", "k1", "t")
		return []string{c.next(wait), c.next(wait)}
	}, []string{`{"payload":{"msg":"Invalid key provided"},"type":"ERROR"}`, "closed"}},
	{"missing token", func(t *testing.T, tg target) []string {
		c := wsDial(t, tg, "peerjs", "k2", "")
		return []string{c.next(wait), c.next(wait)}
	}, []string{`{"payload":{"msg":"No id, token, or key supplied to websocket server"},"type":"ERROR"}`, "closed"}},
	{"queued until connect", func(t *testing.T, tg target) []string {
		a := wsDial(t, tg, "peerjs", "qa", "t")
		a.next(wait)
		a.send(map[string]any{"type": "OFFER", "dst": "qlate", "payload": map[string]int{"n": 1}})
		a.send(map[string]any{"type": "CANDIDATE", "dst": "qlate", "payload": map[string]int{"n": 2}})
		a.send(map[string]any{"type": "LEAVE", "dst": "qlate"}) // not queued
		// Messages are handled in order: when a's note to itself is back,
		// the server has queued (or dropped) everything before it.
		a.send(map[string]any{"type": "OFFER", "dst": "qa", "payload": map[string]int{}})
		if f := a.next(wait); f != `{"dst":"qa","payload":{},"src":"qa","type":"OFFER"}` {
			return []string{"self-relay: " + f}
		}
		c := wsDial(t, tg, "peerjs", "qlate", "t")
		return []string{c.next(wait), c.next(wait), c.next(wait), c.next(500 * time.Millisecond)}
	}, []string{`{"type":"OPEN"}`, `{"dst":"qlate","payload":{"n":1},"src":"qa","type":"OFFER"}`,
		`{"dst":"qlate","payload":{"n":2},"src":"qa","type":"CANDIDATE"}`, "timeout"}},
	{"expire once per sender", func(t *testing.T, tg target) []string {
		a, b := wsDial(t, tg, "peerjs", "ea", "t"), wsDial(t, tg, "peerjs", "eb", "t")
		a.next(wait)
		b.next(wait)
		for range 3 {
			a.send(map[string]any{"type": "CANDIDATE", "dst": "eghost", "payload": map[string]int{}})
		}
		got := a.next(expireTimeout + wait)
		// The next frame is this marker, not a second EXPIRE.
		time.Sleep(expireTimeout)
		b.send(map[string]any{"type": "ANSWER", "dst": "ea", "payload": map[string]int{"m": 1}})
		return []string{got, a.next(wait)}
	}, []string{`{"dst":"ea","src":"eghost","type":"EXPIRE"}`, `{"dst":"ea","payload":{"m":1},"src":"eb","type":"ANSWER"}`}},
	{"leave relayed", func(t *testing.T, tg target) []string {
		a, b := wsDial(t, tg, "peerjs", "la", "t"), wsDial(t, tg, "peerjs", "lb", "t")
		a.next(wait)
		b.next(wait)
		a.send(map[string]any{"type": "LEAVE", "dst": "lb"})
		return []string{b.next(wait)}
	}, []string{`{"dst":"lb","src":"la","type":"LEAVE"}`}},
	{"same token again: no second OPEN", func(t *testing.T, tg target) []string {
		wsDial(t, tg, "peerjs", "sa", "same").next(wait)
		again := wsDial(t, tg, "peerjs", "sa", "same")
		// A note to itself comes back only once the new socket holds the id.
		again.send(map[string]any{"type": "OFFER", "dst": "sa", "payload": map[string]int{"self": 1}})
		first := again.next(wait)
		b := wsDial(t, tg, "peerjs", "sb", "t")
		b.next(wait)
		b.send(map[string]any{"type": "OFFER", "dst": "sa", "payload": map[string]int{}})
		return []string{first, again.next(wait)}
	}, []string{`{"dst":"sa","payload":{"self":1},"src":"sa","type":"OFFER"}`, `{"dst":"sa","payload":{},"src":"sb","type":"OFFER"}`}},
}

func TestProtocolDuetAndReference(t *testing.T) {
	targets := []target{startDuet(t), startReference(t)}
	got := map[string][][]string{}
	for _, tg := range targets {
		for _, sc := range scenarios {
			t.Run(tg.name+"/"+sc.name, func(t *testing.T) {
				frames := sc.run(t, tg)
				got[tg.name] = append(got[tg.name], frames)
				if !reflect.DeepEqual(frames, sc.want) {
					t.Errorf("got  %q\nwant %q", frames, sc.want)
				}
			})
		}
	}
	if !reflect.DeepEqual(got["duet"], got["peerjs-server"]) {
		t.Errorf("transcripts differ:\nduet          %q\npeerjs-server %q", got["duet"], got["peerjs-server"])
	}
}
