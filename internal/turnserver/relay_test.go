package turnserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// bareServer is enough of a Server for relayConn.
func bareServer(cfg Config) *Server {
	return &Server{cfg: cfg, refused: newCounters(), logLimit: rate.NewLimiter(1, 1),
		publicIP: netip.MustParseAddr("127.0.0.1"), log: discardLog()}
}

func listenLoopback(t *testing.T, port int) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Skipf("cannot bind 127.0.0.1:%d: %v", port, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// received counts datagrams arriving at c until it is quiet for 200 ms.
func received(c *net.UDPConn) int {
	n := 0
	buf := make([]byte, 2048)
	for {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, _, err := c.ReadFrom(buf); err != nil {
			return n
		}
		n++
	}
}

// A relay may reach another relay port on its own public address (two
// clients of one server), but nothing else there.
func TestRelaySelfPortGuard(t *testing.T) {
	s := bareServer(Config{MinPort: 41000, MaxPort: 41009})
	s.relaySelf = true
	rc := &relayConn{UDPConn: listenLoopback(t, 0), s: s}
	outside := listenLoopback(t, 0)
	inside := listenLoopback(t, 41005)

	if _, err := rc.WriteTo([]byte("x"), outside.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.WriteTo([]byte("y"), inside.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if n := received(outside); n != 0 {
		t.Fatalf("service port outside the relay range got %d datagrams", n)
	}
	if n := received(inside); n != 1 {
		t.Fatalf("relay port got %d datagrams, want 1", n)
	}
	if got := s.refused[ReasonSelfPort].Load(); got != 1 {
		t.Fatalf("self-port refusals = %d, want 1", got)
	}
}

func TestRelayBandwidthCap(t *testing.T) {
	s := bareServer(Config{BandwidthBytes: 2000})
	rc := &relayConn{UDPConn: listenLoopback(t, 0), s: s,
		out: rate.NewLimiter(2000, 2000), in: rate.NewLimiter(2000, 2000)}
	peer := listenLoopback(t, 0)
	const sent = 20
	for i := 0; i < sent; i++ {
		if _, err := rc.WriteTo(make([]byte, 1000), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	got := received(peer)
	if got == 0 || got >= sent {
		t.Fatalf("peer got %d of %d datagrams through a 2000 B/s cap", got, sent)
	}
	if s.refused[ReasonBandwidth].Load() == 0 {
		t.Fatal("drops over the cap not counted")
	}
}
