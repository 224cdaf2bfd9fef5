// Package tlsmux lets TURN over TLS share the HTTPS port, so that a server
// that can open only 443 still relays calls. It wraps the port's TCP
// listener: every connection is TLS-handshaken in a goroutine of its own
// (with a deadline), then told apart and handed on —
//
//   - ALPN "stun.turn" (RFC 7443): TURN;
//   - ALPN "h2", "http/1.1" or anything else (such as "acme-tls/1", whose
//     handshake is all a TLS-ALPN-01 check needs): HTTP, as the *tls.Conn
//     itself, so net/http sets r.TLS and speaks HTTP/2 as usual;
//   - no ALPN (what browsers' and pion's TURN clients send, and some HTTP
//     clients): the first bytes decide. A STUN header (two zero bits, then
//     the magic cookie at bytes 4–7) is TURN; anything else is HTTP, as a
//     *Conn that replays those bytes (net/http still sets r.TLS from its
//     ConnectionState).
//
// The Listener is what http.Server serves; TURN connections go to a
// function (turnserver.Server.ServeConn), which owns them from then on.
package tlsmux

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// ALPNTURN is the ALPN protocol of TURN over TLS (RFC 7443).
const ALPNTURN = "stun.turn"

// Defaults for the zero values of Config.
const (
	DefaultHandshakeTimeout    = 10 * time.Second
	DefaultMaxPending          = 1024
	DefaultMaxPendingPerClient = 64
)

// Config configures a Listener.
type Config struct {
	// TLS is the port's certificate configuration, used as given at every
	// handshake (see WithProtocol). Required.
	TLS *tls.Config
	// TURN receives each TURN connection, from the connection's own
	// goroutine. Required.
	TURN func(net.Conn)
	// HandshakeTimeout bounds the TLS handshake and, for clients without
	// ALPN, the wait for the first bytes.
	HandshakeTimeout time.Duration
	// MaxPending bounds connections in their handshake at once, in total
	// and per client address (an IPv6 /64); more are closed at once.
	MaxPending, MaxPendingPerClient int
	// Log gets handshake failures at debug level.
	Log *slog.Logger
}

// Listener is the HTTP side of a shared port.
type Listener struct {
	inner   net.Listener
	cfg     Config
	tls     *tls.Config
	httpc   chan net.Conn
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the accept loop ends
	err     error         // why it ended; read after stopped
	once    sync.Once
	wg      sync.WaitGroup // the accept loop and handshakes

	mu      sync.Mutex
	pending map[net.Conn]netip.Prefix
	clients map[netip.Prefix]int
}

// New starts serving inner. Close the Listener (http.Server.Shutdown does)
// to stop it.
func New(inner net.Listener, cfg Config) *Listener {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPendingPerClient <= 0 {
		cfg.MaxPendingPerClient = DefaultMaxPendingPerClient
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	l := &Listener{inner: inner, cfg: cfg, tls: WithProtocol(cfg.TLS, ALPNTURN), httpc: make(chan net.Conn),
		done: make(chan struct{}), stopped: make(chan struct{}),
		pending: map[net.Conn]netip.Prefix{}, clients: map[netip.Prefix]int{}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// WithProtocol returns a config that uses base at every handshake (its
// certificates, GetCertificate and GetConfigForClient as they are then) and,
// for a client that offers proto, a copy of it made for that handshake that
// can select proto: Go refuses a client none of whose ALPN protocols the
// server lists. Nothing is copied out of base ahead of time, so certificates
// that base reloads are served at once.
func WithProtocol(base *tls.Config, proto string) *tls.Config {
	return &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base
		if base.GetConfigForClient != nil {
			c, err := base.GetConfigForClient(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				cfg = c
			}
		}
		if !slices.Contains(hello.SupportedProtos, proto) || slices.Contains(cfg.NextProtos, proto) {
			return cfg, nil
		}
		c := cfg.Clone()
		c.NextProtos = append([]string{proto}, c.NextProtos...)
		return c, nil
	}}
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.stopped)
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, as
				// http.Server does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
				}
			}
			l.err = err
			return
		}
		backoff = 0
		if !l.admit(c) {
			_ = c.Close()
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.route(c)
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// admit counts c as pending, or refuses it over a bound or after Close.
func (l *Listener) admit(c net.Conn) bool {
	key := clientOf(c.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	if len(l.pending) >= l.cfg.MaxPending || l.clients[key] >= l.cfg.MaxPendingPerClient {
		l.cfg.Log.Debug("tlsmux: too many handshakes in flight; connection closed", "client", c.RemoteAddr().String())
		return false
	}
	l.pending[c] = key
	l.clients[key]++
	return true
}

// settled forgets a connection that left its handshake.
func (l *Listener) settled(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key, ok := l.pending[c]
	if !ok {
		return
	}
	delete(l.pending, c)
	if l.clients[key] <= 1 {
		delete(l.clients, key)
	} else {
		l.clients[key]--
	}
}

// route handshakes raw, tells TURN from HTTP and hands the connection on.
func (l *Listener) route(raw net.Conn) {
	defer l.settled(raw)
	_ = raw.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	tc := tls.Server(raw, l.tls)
	if err := tc.Handshake(); err != nil {
		l.cfg.Log.Debug("tlsmux: TLS handshake failed", "client", raw.RemoteAddr().String(), "err", err)
		_ = raw.Close()
		return
	}
	var c net.Conn = tc
	turn := false
	switch tc.ConnectionState().NegotiatedProtocol {
	case ALPNTURN:
		turn = true
	case "":
		head, err := peek(tc)
		if err != nil {
			l.cfg.Log.Debug("tlsmux: no request", "client", raw.RemoteAddr().String(), "err", err)
			_ = raw.Close()
			return
		}
		turn = isSTUN(head)
		c = &Conn{Conn: tc, head: head}
	}
	_ = raw.SetDeadline(time.Time{})
	if turn {
		l.cfg.TURN(c)
		return
	}
	select {
	case l.httpc <- c:
	case <-l.done:
		_ = raw.Close()
	}
}

// stunMagicCookie is bytes 4–7 of every STUN message (RFC 8489 §5).
var stunMagicCookie = [4]byte{0x21, 0x12, 0xA4, 0x42}

// peekSize is how many bytes tell STUN from HTTP: a STUN header's first
// eight bytes hold two zero bits and the magic cookie. An HTTP request line
// is longer than that, and its method starts with a letter.
const peekSize = 8

// peek reads the first peekSize bytes (fewer only when the client closed).
func peek(c net.Conn) ([]byte, error) {
	head := make([]byte, 0, peekSize)
	for len(head) < peekSize {
		n, err := c.Read(head[len(head):peekSize])
		head = head[:len(head)+n]
		if err != nil {
			if len(head) > 0 {
				return head, nil
			}
			return nil, err
		}
	}
	return head, nil
}

func isSTUN(b []byte) bool {
	return len(b) >= peekSize && b[0]&0xC0 == 0 && [4]byte(b[4:8]) == stunMagicCookie
}

// Accept returns the next HTTP connection: a *tls.Conn, or a *Conn for a
// client without ALPN.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.httpc:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.stopped:
		return nil, l.err
	}
}

// Close stops accepting, closes the connections still in their handshake
// and waits for their goroutines. Connections already handed on are not
// touched: their owners close them.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		pending := make([]net.Conn, 0, len(l.pending))
		for c := range l.pending {
			pending = append(pending, c)
		}
		l.mu.Unlock()
		err = l.inner.Close()
		for _, c := range pending {
			_ = c.Close()
		}
		l.wg.Wait()
	})
	return err
}

// Addr is the port's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// clientOf is the unit of the per-client bound: an IPv4 address or an IPv6
// /64.
func clientOf(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
