package turnserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// inboundMTU is the largest message pion/turn accepts (its default): it
// drops anything this size or larger.
const inboundMTU = 1600

// streamWriteTimeout bounds one write to a stream client. A client that
// stops reading would otherwise hold pion's goroutines in Write for ever;
// after it the connection is closed.
const streamWriteTimeout = 10 * time.Second

var errNotTURN = errors.New("turnserver: stream carries neither STUN nor ChannelData")

// streamConn is one TCP or TLS client as pion/turn sees it. pion reads it
// through its STUNConn, which splits the stream into messages; streamConn
// splits it first, one whole message per Read, so that it can answer
// CreatePermission, ChannelBind and Allocate requests it refuses with 403
// itself, exactly as guardConn does on UDP, and drop messages pion would
// drop anyway without buffering them.
type streamConn struct {
	net.Conn          // for I/O: the TLS connection once its handshake is done
	closer   net.Conn // the connection as accepted; closing it ends everything
	st       *streams
	key      netip.Prefix
	tup      tuple
	once     sync.Once

	// Guarded by st.mu.
	allocated, gone bool
	idle            *time.Timer
	idleGen         int // which arming of idle may still close

	// Owned by pion's reader goroutine.
	r       *bufio.Reader
	pending []byte
	frame   [inboundMTU]byte
}

// Read returns the next message pion may see, or what is left of it.
func (c *streamConn) Read(p []byte) (int, error) {
	if c.r == nil {
		c.r = bufio.NewReaderSize(c.Conn, 4096)
	}
	for len(c.pending) == 0 {
		msg, err := c.next()
		if err != nil {
			return 0, err
		}
		if msg == nil {
			continue // too large for pion: dropped, as pion would
		}
		if resp := c.st.s.guard(msg, c.Conn.RemoteAddr()); resp != nil {
			if _, err := c.Write(resp); err != nil {
				return 0, err
			}
			continue
		}
		c.pending = msg
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// next reads one STUN message or ChannelData message (padded to four bytes,
// RFC 8656 §12.5) and returns it, or nil when it was too large and has been
// skipped.
func (c *streamConn) next() ([]byte, error) {
	h, err := c.r.Peek(4)
	if err != nil {
		return nil, err
	}
	var size int
	switch {
	case h[0]&0xC0 == 0: // STUN: 20-byte header, length excludes it
		size = stunHeaderSize + (int(h[2])<<8 | int(h[3]))
	case h[0] >= 0x40 && h[0] <= 0x7F: // ChannelData: pion (and coturn) take RFC 5766's 0x4000–0x7FFF
		size = 4 + ((int(h[2])<<8|int(h[3]))+3)&^3
	default:
		return nil, fmt.Errorf("%w (first byte %#x)", errNotTURN, h[0])
	}
	if size >= inboundMTU {
		_, err := io.CopyN(io.Discard, c.r, int64(size))
		return nil, err
	}
	if _, err := io.ReadFull(c.r, c.frame[:size]); err != nil {
		return nil, err
	}
	return c.frame[:size], nil
}

// Write sends one whole message from pion (see payloadToClient) and counts
// the relayed payload of ChannelData and Data indications.
func (c *streamConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	n, err := c.Conn.Write(b)
	if err != nil {
		_ = c.Close()
		return n, err
	}
	if p := payloadToClient(b); p > 0 {
		c.st.s.relayed.toClient.Add(uint64(p))
	}
	return n, nil
}

// Close closes the connection as accepted (so a TLS close does not wait on
// a client that does not read) and forgets it.
func (c *streamConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.st.forget(c)
		err = c.closer.Close()
	})
	return err
}

// armIdleLocked starts the idle timer; st.mu is held.
func (c *streamConn) armIdleLocked() {
	if c.idle != nil {
		c.idle.Stop()
	}
	c.idleGen++
	gen := c.idleGen
	c.idle = time.AfterFunc(c.st.s.cfg.IdleTimeout, func() { c.idleExpired(gen) })
}

// idleExpired closes the connection if it still holds no allocation and
// the timer was not re-armed since.
func (c *streamConn) idleExpired(gen int) {
	c.st.mu.Lock()
	expired := !c.allocated && !c.gone && c.idleGen == gen
	c.st.mu.Unlock()
	if !expired {
		return
	}
	c.st.s.count(ReasonIdle)
	_ = c.Close()
}
