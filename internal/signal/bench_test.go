package signal

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// The single-node path through the hub, over real loopback WebSockets, so
// a change to the hub (such as the bus) can be measured before and after:
//
//	go test -run '^$' -bench . -count 6 ./internal/signal

func benchHub(b *testing.B) string {
	b.Helper()
	h := NewHub(Config{MsgRate: 1e9, MsgBurst: 1 << 30, JoinRate: 1e9, JoinBurst: 1 << 30}, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(h)
	b.Cleanup(func() {
		h.Shutdown(b.Context())
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

func benchDial(b *testing.B, url string) *websocket.Conn {
	b.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func benchSend(b *testing.B, c *websocket.Conn, m protocol.Message) {
	data, _ := protocol.Encode(m)
	if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
		b.Fatal(err)
	}
}

func benchRead(b *testing.B, c *websocket.Conn, want string) {
	_, data, err := c.ReadMessage()
	if err != nil {
		b.Fatal(err)
	}
	if !strings.Contains(string(data), want) {
		b.Fatalf("got %s, want a %s", data, want)
	}
}

// BenchmarkRelayRoundTrip: one candidate from a to b and one back.
func BenchmarkRelayRoundTrip(b *testing.B) {
	url := benchHub(b)
	a, c := benchDial(b, url), benchDial(b, url)
	benchSend(b, a, &protocol.Join{V: protocol.Version, Room: "bench"})
	benchRead(b, a, protocol.TypeJoined)
	benchSend(b, c, &protocol.Join{V: protocol.Version, Room: "bench"})
	benchRead(b, c, protocol.TypeJoined)
	benchRead(b, a, protocol.TypePeerJoined)
	msg := candidate(1)
	b.ResetTimer()
	for range b.N {
		benchSend(b, a, msg)
		benchRead(b, c, protocol.TypeCandidate)
		benchSend(b, c, msg)
		benchRead(b, a, protocol.TypeCandidate)
	}
}

// BenchmarkJoinLeave: two peers join a room and leave it again.
func BenchmarkJoinLeave(b *testing.B) {
	url := benchHub(b)
	a, c := benchDial(b, url), benchDial(b, url)
	b.ResetTimer()
	for i := range b.N {
		room := fmt.Sprint("r", i)
		benchSend(b, a, &protocol.Join{V: protocol.Version, Room: room})
		benchRead(b, a, protocol.TypeJoined)
		benchSend(b, c, &protocol.Join{V: protocol.Version, Room: room})
		benchRead(b, c, protocol.TypeJoined)
		benchRead(b, a, protocol.TypePeerJoined)
		benchSend(b, c, &protocol.Leave{})
		benchRead(b, a, protocol.TypePeerLeft)
		benchSend(b, a, &protocol.Leave{})
	}
}
