package turnserver

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/duet-call/duet/internal/tlsmux"
)

// streams is the one net.Listener pion/turn serves every stream client
// from: TURN over TCP (Addr), over TLS (TLSAddr) and TLS connections another
// listener accepted and handed over (ServeConn, the HTTPS port's one-port
// mode). pion serves each accepted connection in a goroutine until the
// client hangs up and its Close only stops accepting, so streams owns what
// pion does not:
//
//   - accept loops of its own, so that a TLS handshake (with a deadline) runs
//     in its own goroutine and never holds up the next client;
//   - a cap on open connections in total and per client address (an IPv6
//     /64), checked before the handshake;
//   - an idle timer: a connection that holds no allocation IdleTimeout after
//     it was handed to pion (or after its allocation ended) is closed, so
//     connections that never allocate cannot pile up;
//   - Close, which ends every connection and waits for its own goroutines.
type streams struct {
	s        *Server
	tls      *tls.Config // nil: no TLS
	maxTotal int
	ready    chan *streamConn // to pion's Accept
	done     chan struct{}    // closed by Close
	once     sync.Once
	wg       sync.WaitGroup // accept loops and TLS handshakes

	mu      sync.Mutex // guards the fields below and every streamConn's timer state
	lns     []net.Listener
	conns   map[*streamConn]struct{}
	clients map[netip.Prefix]int
	byTuple map[tuple]*streamConn
	closed  bool
}

// tuple is a connection's client and server address, as pion's events name
// its allocation.
type tuple struct{ client, server netip.AddrPort }

func newStreams(s *Server, maxTotal int) *streams {
	st := &streams{s: s, maxTotal: maxTotal, ready: make(chan *streamConn), done: make(chan struct{}),
		conns: map[*streamConn]struct{}{}, clients: map[netip.Prefix]int{}, byTuple: map[tuple]*streamConn{}}
	if s.cfg.TLS != nil {
		st.tls = tlsmux.WithProtocol(s.cfg.TLS, tlsmux.ALPNTURN)
	}
	return st
}

// serve accepts from ln until Close; isTLS makes it handshake first.
func (st *streams) serve(ln net.Listener, isTLS bool) {
	st.mu.Lock()
	st.lns = append(st.lns, ln)
	st.mu.Unlock()
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			sc := st.admit(c)
			if sc == nil {
				continue
			}
			if !isTLS {
				st.hand(sc)
				continue
			}
			st.wg.Add(1)
			go func() {
				defer st.wg.Done()
				st.handshake(sc)
			}()
		}
	}()
}

// handshake runs the TLS handshake of a freshly accepted connection under
// a deadline, then hands it to pion.
func (st *streams) handshake(sc *streamConn) {
	raw := sc.closer
	tc := tls.Server(raw, st.tls)
	_ = raw.SetDeadline(time.Now().Add(st.s.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		st.s.log.Debug("turn: TLS handshake failed", "client", raw.RemoteAddr().String(), "err", err)
		_ = sc.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	sc.Conn = tc // no one else uses sc before hand
	st.hand(sc)
}

// admit registers a new connection, or closes it and returns nil when the
// total or its client's cap is reached or streams is closed.
func (st *streams) admit(c net.Conn) *streamConn {
	client, _ := addrPortOf(c.RemoteAddr())
	server, _ := addrPortOf(c.LocalAddr())
	key := clientPrefix(client.Addr())
	closer := c
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		// A TLS connection handed over: close its socket, so that Close
		// never waits on a close_notify a client does not read.
		closer = nc.NetConn()
	}
	sc := &streamConn{Conn: c, closer: closer, st: st, key: key, tup: tuple{client, server}}
	st.mu.Lock()
	reason := ""
	switch {
	case st.closed:
		reason = "closed"
	case len(st.conns) >= st.maxTotal:
		reason = ReasonQuotaTotal
	case st.s.cfg.MaxConnsPerClient > 0 && st.clients[key] >= st.s.cfg.MaxConnsPerClient:
		reason = ReasonConnsClient
	default:
		st.conns[sc] = struct{}{}
		st.clients[key]++
		st.byTuple[sc.tup] = sc
		// Until it is handed to pion, a connection is bounded by its
		// handshake deadline (TLS) or is handed at once (TCP).
	}
	st.mu.Unlock()
	if reason == "" {
		return sc
	}
	_ = c.Close()
	switch reason {
	case ReasonQuotaTotal:
		st.s.refuse(reason, "TCP/TLS connection refused: too many open", "client", client.String(), "limit", st.maxTotal)
	case ReasonConnsClient:
		st.s.refuse(reason, "TCP/TLS connection refused: too many from this client", "client", client.String(),
			"limit", st.s.cfg.MaxConnsPerClient)
	}
	return nil
}

// hand arms the idle timer and gives sc to pion's Accept.
func (st *streams) hand(sc *streamConn) {
	st.mu.Lock()
	if !sc.allocated && !sc.gone {
		sc.armIdleLocked()
	}
	st.mu.Unlock()
	select {
	case st.ready <- sc:
	case <-st.done:
		_ = sc.Close()
	}
}

// Accept is what pion's accept loop calls.
func (st *streams) Accept() (net.Conn, error) {
	select {
	case c := <-st.ready:
		return c, nil
	case <-st.done:
		return nil, net.ErrClosed
	}
}

// Addr is the TCP listener's address (pion only logs it).
func (st *streams) Addr() net.Addr {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.lns) == 0 {
		return &net.TCPAddr{}
	}
	return st.lns[0].Addr()
}

// Close stops accepting, closes every open connection and waits for the
// accept loops and handshakes to end. pion's Close calls it.
func (st *streams) Close() error {
	st.once.Do(func() {
		close(st.done)
		st.mu.Lock()
		st.closed = true
		lns := st.lns
		conns := make([]*streamConn, 0, len(st.conns))
		for c := range st.conns {
			conns = append(conns, c)
		}
		st.mu.Unlock()
		for _, ln := range lns {
			_ = ln.Close()
		}
		for _, c := range conns {
			_ = c.Close()
		}
		st.wg.Wait()
	})
	return nil
}

// allocation records that the connection named by pion's event addresses
// now holds an allocation (on) or no longer does. Without one, the idle
// timer runs again.
func (st *streams) allocation(src, dst net.Addr, on bool) {
	client, ok1 := addrPortOf(src)
	server, ok2 := addrPortOf(dst)
	if !ok1 || !ok2 {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sc := st.byTuple[tuple{client, server}]
	if sc == nil || sc.gone {
		return
	}
	sc.allocated = on
	if on {
		if sc.idle != nil {
			sc.idle.Stop()
			sc.idle = nil
		}
		sc.idleGen++
		return
	}
	sc.armIdleLocked()
}

// open returns the number of open stream connections (for tests and stats).
func (st *streams) open() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.conns)
}

// forget removes sc from the tables; it runs once, from sc.Close.
func (st *streams) forget(sc *streamConn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sc.gone = true
	if sc.idle != nil {
		sc.idle.Stop()
		sc.idle = nil
	}
	delete(st.conns, sc)
	if st.byTuple[sc.tup] == sc {
		delete(st.byTuple, sc.tup)
	}
	if st.clients[sc.key] <= 1 {
		delete(st.clients, sc.key)
	} else {
		st.clients[sc.key]--
	}
}

// addrPortOf turns a TCP or UDP address into an unmapped AddrPort.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// clientPrefix is the unit of the per-client limits: an IPv4 address, or
// the /64 of an IPv6 one (one subscriber's network, which hands its hosts
// any number of addresses).
func clientPrefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
