package tlsmux

import (
	"crypto/tls"
	"net"
)

// Conn is a TLS connection whose first bytes were read to tell TURN from
// HTTP; Read returns them again first. It is not a *tls.Conn, so net/http
// does not speak HTTP/2 on it (a client without ALPN does not ask for it),
// but it has ConnectionState, from which net/http sets r.TLS for any
// connection (TestHTTP checks it): the app, HSTS and the origin check still
// see an HTTPS request. Like *tls.Conn, it has no SyscallConn: nothing may
// read the socket under the TLS layer.
type Conn struct {
	*tls.Conn
	head []byte // owned by the reader
}

// Read returns the peeked bytes, then what follows.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

var _ net.Conn = (*Conn)(nil)
