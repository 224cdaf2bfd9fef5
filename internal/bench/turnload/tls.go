package turnload

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v3"
)

// stream is one TURN-over-TLS client connection. The handshake's round
// trips read it synchronously; during a step, with Echo, one reader counts
// the ChannelData coming back. Writes are whole messages, serialised.
type stream struct {
	conn *tls.Conn
	r    *bufio.Reader
	wmu  sync.Mutex
}

func (c *Config) tlsConfig() *tls.Config {
	if c.TLSConfig != nil {
		return c.TLSConfig
	}
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a load generator, see Config.TLS
}

// allocateTLS connects to addr over TLS and allocates (and, with peer,
// binds the channel) as allocate does over UDP.
func allocateTLS(addr string, cfg *tls.Config, secret, user string, peer *net.UDPAddr) (*allocation, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("turnload: TLS dial %s: %w", addr, err)
	}
	s := &stream{conn: c.(*tls.Conn)}
	s.r = bufio.NewReaderSize(s.conn, 64<<10)
	a := &allocation{stream: s}
	if err := a.handshake(secret, user, peer); err != nil {
		_ = s.Close()
		return nil, err
	}
	return a, nil
}

func (s *stream) Write(b []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn.Write(b)
}

func (s *stream) Close() error { return s.conn.Close() }

// next reads one STUN or ChannelData message.
func (s *stream) next() ([]byte, error) {
	h, err := s.r.Peek(4)
	if err != nil {
		return nil, err
	}
	size := 20 + (int(h[2])<<8 | int(h[3]))
	if h[0]&0xC0 != 0 {
		size = 4 + ((int(h[2])<<8|int(h[3]))+3)&^3
	}
	b := make([]byte, size)
	_, err = io.ReadFull(s.r, b)
	return b, err
}

// roundTrip sends req and returns the response with its transaction id
// (TCP needs no retransmission).
func (s *stream) roundTrip(req *stun.Message) (*stun.Message, error) {
	if _, err := s.Write(req.Raw); err != nil {
		return nil, err
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer s.conn.SetReadDeadline(time.Time{})
	for {
		b, err := s.next()
		if err != nil {
			return nil, fmt.Errorf("turnload: read response: %w", err)
		}
		res := &stun.Message{Raw: b}
		if res.Decode() == nil && res.TransactionID == req.TransactionID {
			return res, nil
		}
	}
}

// countChannelData counts ChannelData messages of size bytes until the
// connection closes.
func (s *stream) countChannelData(size int, got *atomic.Uint64) {
	for {
		b, err := s.next()
		if err != nil {
			return // closed by Load.Close: the step's counts say what arrived
		}
		if len(b) == size && b[0]&0xC0 == 0x40 {
			got.Add(1)
		}
	}
}
