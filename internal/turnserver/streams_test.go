package turnserver

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/tlsmux"
	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
)

// dialTCPFrom opens a TCP connection to addr from the loopback address src
// (Linux routes all of 127.0.0.0/8 to lo), so one test can play several
// client addresses.
func dialTCPFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tcpClient allocates over TCP from src with a real pion/turn client.
func tcpClient(t *testing.T, s *Server, src, user string) (*turn.Client, net.PacketConn) {
	t.Helper()
	u, p := creds(t, user, time.Hour)
	conn := dialTCPFrom(t, src, s.TCPAddr().String())
	c := clientOn(t, turn.NewSTUNConn(conn), s.TCPAddr().String(), u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate over TCP from %s: %v", src, err)
	}
	t.Cleanup(func() { relay.Close() })
	return c, relay
}

// closedByServer reports whether the server closed c within d: a read that
// ends in EOF or a reset, not in our deadline.
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// A connection that never allocates is closed after the idle timeout; one
// that allocated stays open past it.
func TestStreamIdleTimeout(t *testing.T) {
	s := startServer(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond; allowLoopback(c) })
	idle := dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String())
	_, relay := tcpClient(t, s, "127.0.0.1", "alice")
	if !closedByServer(idle, 10*time.Second) {
		t.Fatal("an idle TCP connection was not closed")
	}
	if s.Stats().Refused[ReasonIdle] == 0 {
		t.Fatal("the idle close was not counted")
	}
	time.Sleep(600 * time.Millisecond) // twice the timeout: the allocated one must survive it
	relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "still relaying after the idle timeout")
}

// Each client address gets at most MaxConnsPerClient connections; another
// address is not affected.
func TestStreamPerClientCap(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxConnsPerClient = 3 })
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String()))
	}
	waitFor(t, func() bool { return s.Stats().StreamConns == 3 })
	over := dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String())
	if !closedByServer(over, 10*time.Second) {
		t.Fatal("a fourth connection from one address was kept")
	}
	if s.Stats().Refused[ReasonConnsClient] != 1 {
		t.Fatalf("Refused = %+v, want one conns-client", s.Stats().Refused)
	}
	other := dialTCPFrom(t, "127.0.0.2", s.TCPAddr().String())
	bindingOver(t, other)
	for _, c := range held {
		bindingOver(t, c) // still served
	}
}

// bindingOver does one STUN binding round trip on a stream connection.
func bindingOver(t *testing.T, c net.Conn) {
	t.Helper()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := c.Write(req.Raw); err != nil {
		t.Fatalf("binding write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := io.ReadAtLeast(c, buf, stunHeaderSize)
	if err != nil {
		t.Fatalf("binding read: %v", err)
	}
	res := &stun.Message{Raw: buf[:n]}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess || res.TransactionID != req.TransactionID {
		t.Fatalf("binding response %v, %v", res.Type, err)
	}
	_ = c.SetReadDeadline(time.Time{})
}

// Issue 14, item 3: 1,100 idle TURN TCP connections from one address used
// to fill the server's 1,064 connection slots (the default 1,000
// allocations + 64), and a new client got no answer. Now the per-client cap
// refuses most of them and the idle timeout closes the rest, so a client
// from another address allocates and relays at once.
func TestIdleTCPFloodDoesNotLockOut(t *testing.T) {
	s := startServer(t, allowLoopback) // default caps and timeouts
	const flood = 1100
	for i := 0; i < flood; i++ {
		c, err := net.DialTimeout("tcp", s.TCPAddr().String(), 5*time.Second)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	_, relay := tcpClient(t, s, "127.0.0.2", "caller")
	relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "through a flooded TCP port")
	if st := s.Stats(); st.StreamConns > DefaultMaxConnsPerClient+1 {
		t.Fatalf("%d stream connections open, want at most the flood's cap + the caller", st.StreamConns)
	}
}

// Refused peers get 403 on TCP as on UDP (issue 14, item 9), from the
// stream guard, and nothing reaches them.
func TestRefusePeerOverTCPIs403(t *testing.T) {
	s := startServer(t, nil)
	c, _ := tcpClient(t, s, "127.0.0.1", "alice")
	for _, peer := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254"} {
		err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9})
		if code := turnCode(err); code != 403 {
			t.Errorf("CreatePermission(%s) over TCP = %v (code %d), want 403", peer, err, code)
		}
	}
	if got := s.Stats().Refused; got[ReasonLoopback] != 1 || got[ReasonPrivate] != 1 || got[ReasonLinkLocal] != 1 {
		t.Fatalf("Refused = %+v", got)
	}
}

// Messages pion would drop (too large) are skipped without being buffered,
// and the connection keeps working; a stream that is not TURN is closed.
func TestStreamFraming(t *testing.T) {
	s := startServer(t, nil)
	c := dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String())
	big := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.RawAttribute{Type: stun.AttrData, Value: make([]byte, 3000)})
	if _, err := c.Write(big.Raw); err != nil {
		t.Fatal(err)
	}
	bindingOver(t, c)
	junk := dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String())
	if _, err := junk.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(junk, 10*time.Second) {
		t.Fatal("a stream that is not TURN was kept open")
	}
}

// The 486 quota of one client address leaves room for others: 50
// allocations with fresh credentials from one address (what anyone with
// /api/ice-servers could do) against a server of 40 used to take all 40.
func TestPerClientQuotaLeavesRoom(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxAllocations = 40; allowLoopback(c) })
	ok, refused := 0, 0
	for i := 0; i < 50; i++ {
		u, p := creds(t, "anon"+string(rune('a'+i%26))+string(rune('a'+i/26)), time.Hour)
		relay, err := newClient(t, s, u, p).Allocate()
		switch {
		case err == nil:
			ok++
			t.Cleanup(func() { relay.Close() })
		case turnCode(err) == int(stun.CodeAllocQuotaReached):
			refused++
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if ok != DefaultMaxAllocationsPerClient || refused != 50-ok {
		t.Fatalf("%d allocated, %d refused; want %d and the rest", ok, refused, DefaultMaxAllocationsPerClient)
	}
	if s.Stats().Refused[ReasonQuotaClient] != uint64(refused) {
		t.Fatalf("Refused = %+v", s.Stats().Refused)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	u, p := creds(t, "caller", time.Hour)
	relay, err := clientOn(t, conn, s.UDPAddr().String(), u, p).Allocate()
	if err != nil {
		t.Fatalf("a caller from another address: %v", err)
	}
	defer relay.Close()
	relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "room left for a real caller")
}

// Authorize gates new allocations with 403; an allocation made while
// authorized keeps relaying (and refreshing) after it turns false.
func TestAuthorize(t *testing.T) {
	allowed := map[string]bool{"joined": true}
	var mu = make(chan struct{}, 1)
	s := startServer(t, func(c *Config) {
		allowLoopback(c)
		c.Authorize = func(user string) bool { mu <- struct{}{}; defer func() { <-mu }(); return allowed[user] }
	})
	u, p := creds(t, "stranger", time.Hour)
	_, err := newClient(t, s, u, p).Allocate()
	if code := turnCode(err); code != 403 {
		t.Fatalf("Allocate of an unauthorized user = %v (code %d), want 403", err, code)
	}
	if s.Stats().Refused[ReasonUnauthorized] != 1 || s.Stats().AllocationsCreated != 0 {
		t.Fatalf("stats %+v", s.Stats())
	}
	_, tcpErr := func() (net.PacketConn, error) {
		conn := dialTCPFrom(t, "127.0.0.1", s.TCPAddr().String())
		return clientOn(t, turn.NewSTUNConn(conn), s.TCPAddr().String(), u, p).Allocate()
	}()
	if code := turnCode(tcpErr); code != 403 {
		t.Fatalf("Allocate over TCP of an unauthorized user = %v (code %d), want 403", tcpErr, code)
	}

	u, p = creds(t, "joined", time.Hour)
	c := newClient(t, s, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate of an authorized user: %v", err)
	}
	defer relay.Close()
	mu <- struct{}{}
	allowed["joined"] = false
	<-mu
	relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "authorized at allocation time")
}

// TURN over TLS on its own port, with a real pion client; a connection
// that never completes its handshake neither blocks the next client nor
// stays open past the handshake timeout.
func TestTLSListener(t *testing.T) {
	ca := newTestCA(t)
	s := startServer(t, func(c *Config) {
		allowLoopback(c)
		c.TLSAddr = "127.0.0.1:0"
		c.TLS = ca.serverConfig(t, "localhost")
		c.HandshakeTimeout = 500 * time.Millisecond
	})
	stalled := dialTCPFrom(t, "127.0.0.1", s.TLSAddr().String()) // says nothing

	for _, alpn := range [][]string{nil, {tlsmux.ALPNTURN}} {
		raw := dialTCPFrom(t, "127.0.0.1", s.TLSAddr().String())
		tc := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: ca.pool, NextProtos: alpn})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake (ALPN %v) while another client stalls: %v", alpn, err)
		}
		if got := tc.ConnectionState().NegotiatedProtocol; len(alpn) > 0 && got != tlsmux.ALPNTURN {
			t.Fatalf("negotiated %q, want %q", got, tlsmux.ALPNTURN)
		}
		u, p := creds(t, "tls-user", time.Hour)
		relay, err := clientOn(t, turn.NewSTUNConn(tc), s.TLSAddr().String(), u, p).Allocate()
		if err != nil {
			t.Fatalf("Allocate over TLS: %v", err)
		}
		relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "over TURN/TLS")
		relay.Close()
	}
	if !closedByServer(stalled, 10*time.Second) {
		t.Fatal("a connection that never did its TLS handshake was kept")
	}
}

// ServeConn takes a TLS connection another listener accepted, as the
// HTTPS port's one-port mode does.
func TestServeConn(t *testing.T) {
	ca := newTestCA(t)
	s := startServer(t, allowLoopback)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.serverConfig(t, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if err := c.(*tls.Conn).Handshake(); err != nil {
				c.Close()
				continue
			}
			s.ServeConn(c)
		}
	}()
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "localhost", RootCAs: ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	u, p := creds(t, "one-port", time.Hour)
	relay, err := clientOn(t, turn.NewSTUNConn(tc), ln.Addr().String(), u, p).Allocate()
	if err != nil {
		t.Fatalf("Allocate over a handed-over connection: %v", err)
	}
	defer relay.Close()
	relayRoundTrip(t, relay, echoPeer(t).LocalAddr(), "over a handed-over TLS connection")
	if s.Stats().StreamConns != 1 {
		t.Fatalf("StreamConns = %d, want 1", s.Stats().StreamConns)
	}
}
