package turnserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/pion/turn/v4"
)

// selfTest allocates through the server from loopback, sends a datagram to
// a loopback peer through the relay and waits for its echo. It proves the
// listener, authentication, relay sockets and both relay directions work
// before the first browser needs them. The peer policy is bypassed for this
// one client address only (see bypassPolicy): loopback peers are refused to
// everyone else.
func (s *Server) selfTest(listen *net.UDPAddr) error {
	const timeout = 3 * time.Second
	// The relay is IPv4, so the test runs over IPv4: on the listen address
	// when it is a specific IPv4 address, else on 127.0.0.1.
	serverAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: listen.Port}
	if ip := listen.IP.To4(); ip != nil && !ip.IsUnspecified() {
		serverAddr.IP = ip
	}
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(serverAddr.IP.String(), "0"))
	if err != nil {
		return fmt.Errorf("client socket: %w", err)
	}
	defer conn.Close()
	peer, err := net.ListenPacket("udp4", net.JoinHostPort(serverAddr.IP.String(), "0"))
	if err != nil {
		return fmt.Errorf("peer socket: %w", err)
	}
	defer peer.Close()

	// The bypass ends when the self-test allocation is deleted (see
	// eventHandler), not when this function returns: pion's client binds a
	// channel in the background, and that request may still be in flight.
	self := conn.LocalAddr().String()
	s.selfTestClient.Store(&self)
	allocated := false
	defer func() {
		if !allocated {
			s.selfTestClient.Store(nil)
		}
	}()

	username, password, err := turncred.Mint(s.secret, "self-test", s.now().Add(time.Minute))
	if err != nil {
		return err
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: serverAddr.String(), TURNServerAddr: serverAddr.String(), Conn: conn,
		Username: username, Password: password, Realm: s.cfg.Realm,
		LoggerFactory: &pionLogs{log: slog.New(slog.DiscardHandler)}, // client-side noise
	})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		return fmt.Errorf("client listen: %w", err)
	}
	relay, err := c.Allocate()
	if err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	allocated = true
	defer relay.Close()

	// The peer echoes from its own goroutine, which ends when the deferred
	// peer.Close runs.
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, 64)
		_ = peer.SetReadDeadline(time.Now().Add(timeout))
		n, from, err := peer.ReadFrom(buf)
		if err == nil {
			_, _ = peer.WriteTo(buf[:n], from)
		}
	}()
	defer func() { _ = peer.Close(); <-echoed }()

	msg := []byte("duet relay self-test")
	if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
		return fmt.Errorf("send through relay: %w", err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, _, err := relay.ReadFrom(buf)
	if err != nil {
		return fmt.Errorf("no echo through the relay within %v: %w", timeout, err)
	}
	if string(buf[:n]) != string(msg) {
		return errors.New("echo through the relay was corrupted")
	}
	return nil
}

// bypassPolicy reports whether src is the self-test client.
func (s *Server) bypassPolicy(src net.Addr) bool {
	p := s.selfTestClient.Load()
	return p != nil && src.String() == *p
}
