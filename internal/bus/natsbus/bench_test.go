package natsbus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// The cost of the cluster hop, in-process and over loopback: a candidate
// from a to b and back, with both peers on one node without NATS, both on
// one node of a NATS cluster, and on two nodes.
//
//	go test -run '^$' -bench RoundTrip -count 6 ./internal/bus/natsbus
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("one-node", func(b *testing.B) {
		srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Logger: testLogger(), Signal: benchSignal()})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
		roundTrips(b, srv.URL(), srv.URL())
	})
	b.Run("one-node-on-nats", func(b *testing.B) {
		_, nodes := startCluster(b, 1)
		roundTrips(b, nodes[0].srv.URL(), nodes[0].srv.URL())
	})
	b.Run("two-nodes-on-nats", func(b *testing.B) {
		_, nodes := startCluster(b, 2)
		roundTrips(b, nodes[0].srv.URL(), nodes[1].srv.URL())
	})
}

func benchSignal() signal.Config {
	return signal.Config{MsgRate: 1e9, MsgBurst: 1 << 30, JoinRate: 1000, JoinBurst: 1000}
}

func roundTrips(b *testing.B, urlA, urlB string) {
	conn := func(url string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	send := func(c *websocket.Conn, m protocol.Message) {
		data, _ := protocol.Encode(m)
		if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
			b.Fatal(err)
		}
	}
	read := func(c *websocket.Conn, want string) {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(data), `"type":"`+want+`"`) {
			b.Fatalf("read %s: %s %v", want, data, err)
		}
	}
	a, c := conn(urlA), conn(urlB)
	send(a, &protocol.Join{V: protocol.Version, Room: "bench"})
	read(a, protocol.TypeJoined)
	send(c, &protocol.Join{V: protocol.Version, Room: "bench"})
	read(c, protocol.TypeJoined)
	read(a, protocol.TypePeerJoined)
	mid := "0"
	msg := &protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host", SDPMid: &mid}}
	b.ResetTimer()
	for range b.N {
		send(a, msg)
		read(c, protocol.TypeCandidate)
		send(c, msg)
		read(a, protocol.TypeCandidate)
	}
}
