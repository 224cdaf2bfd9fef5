package turnserver

import (
	"net"
	"sync"
)

// tcpListener is the TCP listener handed to pion/turn. pion serves each
// accepted connection in its own goroutine until the client hangs up, and
// its Close only stops accepting; this wrapper remembers the connections so
// that Shutdown ends them (and so their goroutines), and it bounds how many
// may be open at once so idle connections cannot pile up goroutines.
type tcpListener struct {
	net.Listener
	s   *Server
	max int

	mu     sync.Mutex
	conns  map[*tcpConn]struct{}
	closed bool
}

func newTCPListener(l net.Listener, s *Server, max int) *tcpListener {
	return &tcpListener{Listener: l, s: s, max: max, conns: map[*tcpConn]struct{}{}}
}

// Accept returns the next connection, closing at once those over the limit.
func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &tcpConn{Conn: c, l: l}
		l.mu.Lock()
		full := len(l.conns) >= l.max
		if !full && !l.closed {
			l.conns[tc] = struct{}{}
		}
		closed := l.closed
		l.mu.Unlock()
		if full || closed {
			_ = c.Close()
			if full {
				l.s.refuse(ReasonQuotaTotal, "TCP connection refused: too many open", "client", c.RemoteAddr().String(), "limit", l.max)
			}
			continue
		}
		return tc, nil
	}
}

// Close stops accepting and closes every open connection.
func (l *tcpListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*tcpConn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
	return err
}

type tcpConn struct {
	net.Conn
	l    *tcpListener
	once sync.Once
}

// Write sends one whole message from pion (see payloadToClient) and counts
// the relayed payload of ChannelData and Data indications.
func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil {
		if p := payloadToClient(b); p > 0 {
			c.l.s.relayed.toClient.Add(uint64(p))
		}
	}
	return n, err
}

func (c *tcpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
