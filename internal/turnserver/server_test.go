package turnserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSecret = "test-secret"

// startServer runs a server on loopback port 0 and shuts it down when the
// test ends.
func startServer(t *testing.T, mod func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Addr:      "127.0.0.1:0",
		PublicIP:  netip.MustParseAddr("127.0.0.1"),
		RelayBind: netip.MustParseAddr("127.0.0.1"),
		MinPort:   50000, MaxPort: 59999,
		Secret:    testSecret,
		ReadLoops: 2,
	}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
	return s
}

func allowLoopback(c *Config) { c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }

func creds(t *testing.T, user string, ttl time.Duration) (string, string) {
	t.Helper()
	u, p, err := turncred.Mint([]byte(testSecret), user, time.Now().Add(ttl))
	if err != nil {
		t.Fatal(err)
	}
	return u, p
}

// newClient dials s over UDP with a real pion/turn client.
func newClient(t *testing.T, s *Server, username, password string) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return clientOn(t, conn, s.UDPAddr().String(), username, password)
}

func clientOn(t *testing.T, conn net.PacketConn, addr, username, password string) *turn.Client {
	t.Helper()
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, Realm: DefaultRealm,
		RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); _ = conn.Close() })
	return c
}

// turnCode extracts the STUN error code from a pion client error, 0 if none.
func turnCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	return 0
}

// echoPeer is a UDP socket on loopback that sends back what it receives.
func echoPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); <-done })
	return pc
}

// relayRoundTrip sends msg from the relay to peer and waits for its echo.
func relayRoundTrip(t *testing.T, relay net.PacketConn, peer net.Addr, msg string) {
	t.Helper()
	buf := make([]byte, 1500)
	for try := 0; try < 20; try++ {
		if _, err := relay.WriteTo([]byte(msg), peer); err != nil {
			t.Fatalf("relay WriteTo: %v", err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, from, err := relay.ReadFrom(buf)
		if err != nil {
			continue
		}
		if string(buf[:n]) != msg || from.String() != peer.String() {
			t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, msg, peer)
		}
		return
	}
	t.Fatalf("no echo of %q through the relay", msg)
}

func TestRelayRoundTrip(t *testing.T) {
	s := startServer(t, allowLoopback)
	u, p := creds(t, "alice", time.Hour)
	c := newClient(t, s, u, p)

	mapped, err := c.SendBindingRequest()
	if err != nil {
		t.Fatalf("binding: %v", err)
	}
	if mapped.(*net.UDPAddr).Port == 0 {
		t.Fatalf("binding returned %v", mapped)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	defer relay.Close()
	ra := relay.LocalAddr().(*net.UDPAddr)
	if !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) || ra.Port < 50000 || ra.Port > 59999 {
		t.Fatalf("relay address %v outside 127.0.0.1:50000-59999", ra)
	}
	peer := echoPeer(t)
	relayRoundTrip(t, relay, peer.LocalAddr(), "hello through duet")
	if st := s.Stats(); st.Allocations != 1 || st.AllocationsCreated != 1 {
		t.Fatalf("Stats = %+v, want 1 live allocation", st)
	}
}

func TestTCPListenerShareUDPPort(t *testing.T) {
	s := startServer(t, nil)
	if s.TCPAddr() == nil || s.UDPAddr() == nil {
		t.Fatal("addresses unset after Start")
	}
	if s.TCPAddr().Port != s.UDPAddr().Port {
		t.Fatalf("TCP port %d differs from UDP port %d", s.TCPAddr().Port, s.UDPAddr().Port)
	}
	conn, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatalf("dial TCP listener: %v", err)
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read binding response over TCP: %v", err)
	}
	res := &stun.Message{Raw: buf[:n]}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess {
		t.Fatalf("TCP binding response %v, %v", res.Type, err)
	}
}

func TestStartBindError(t *testing.T) {
	s := startServer(t, nil)
	cfg := Config{Addr: s.UDPAddr().String(), PublicIP: netip.MustParseAddr("127.0.0.1"), Secret: "x", ReadLoops: 1}
	s2, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(context.Background()); err == nil {
		_ = s2.Shutdown(context.Background())
		t.Fatal("Start on a port in use succeeded")
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after failed Start: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Secret: "s"}, true},
		{"no secret", Config{}, false},
		{"bad addr", Config{Secret: "s", Addr: "3478"}, false},
		{"empty range", Config{Secret: "s", MinPort: 5000, MaxPort: 4000}, false},
		{"unspecified public ip", Config{Secret: "s", PublicIP: netip.MustParseAddr("0.0.0.0")}, false},
		{"negative quota", Config{Secret: "s", MaxAllocations: -1}, false},
		{"too many loops", Config{Secret: "s", ReadLoops: 1000}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ChannelData goes through the fast path once pion reports the channel, and
// the channel leaves the table with its allocation.
func TestFastPathFollowsChannels(t *testing.T) {
	s := startServer(t, allowLoopback)
	u, p := creds(t, "alice", time.Hour)
	c := newClient(t, s, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	peer := echoPeer(t)
	channels := func() int {
		m := s.channels.p.Load()
		if m == nil {
			return 0
		}
		return len(*m)
	}
	// pion's client binds the channel in the background after the first
	// send; keep relaying until it is on the fast path, then once more.
	waitFor(t, func() bool {
		relayRoundTrip(t, relay, peer.LocalAddr(), "ping")
		return channels() == 1
	})
	relayRoundTrip(t, relay, peer.LocalAddr(), "over the fast path")
	relay.Close()
	waitFor(t, func() bool { return channels() == 0 && s.Stats().Allocations == 0 })
}

// Shutdown ends TCP clients' connections (pion only stops accepting), so no
// goroutine outlives the server; goleak in TestMain checks the rest.
func TestShutdownClosesTCPClients(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:0", PublicIP: netip.MustParseAddr("127.0.0.1"), Secret: "x", ReadLoops: 1}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A binding round trip proves pion is serving this connection.
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1500)); err != nil {
		t.Fatalf("binding over TCP: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("TCP connection still open after Shutdown (read: %v)", err)
	}
}
