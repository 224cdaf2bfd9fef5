package turnserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

var errRelayTCP = errors.New("turnserver: TCP relay allocations (RFC 6062) are not supported")

// relayGen implements pion/turn's RelayAddressGenerator. It differs from
// pion's RelayAddressGeneratorPortRange in what the sockets are: big
// buffers, a hard bound on how many exist, and each wrapped in a relayConn
// that enforces the bandwidth cap, the age bound and the self-relay rule.
type relayGen struct {
	s        *Server
	bindHost string
	min, max uint16
	lc       net.ListenConfig
}

func (g *relayGen) Validate() error { return nil }

func (g *relayGen) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errRelayTCP
}

// AllocatePacketConn opens a relay socket on a random free port of the range.
// pion/turn calls it for every Allocate (and while probing for an even port).
func (g *relayGen) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	s := g.s
	if int(s.relays.Add(1)) > s.cfg.MaxAllocations {
		s.relays.Add(-1)
		s.refuse(ReasonQuotaTotal, "relay sockets at the limit", "limit", s.cfg.MaxAllocations)
		return nil, nil, fmt.Errorf("turnserver: %d relay sockets open: %w", s.cfg.MaxAllocations, errQuota)
	}
	conn, err := g.listen(network, requestedPort)
	if err != nil {
		s.relays.Add(-1)
		return nil, nil, err
	}
	port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	rc := &relayConn{UDPConn: conn, s: s, port: port, rbuf: make([]byte, 4+relayMTU)}
	s.relayPorts.update(func(m map[uint16]*relayConn) { m[port] = rc })
	if bw := s.cfg.BandwidthBytes; bw > 0 {
		// A burst of one second (at least 64 KiB, so a cap below one
		// datagram still passes some) lets a video keyframe through.
		burst := int(max(bw, 64<<10))
		rc.in = rate.NewLimiter(rate.Limit(bw), burst)
		rc.out = rate.NewLimiter(rate.Limit(bw), burst)
	}
	if age := s.cfg.MaxAllocationAge; age > 0 {
		rc.mu.Lock()
		rc.ageTimer = time.AfterFunc(age, rc.expire)
		rc.mu.Unlock()
	}
	addr := &net.UDPAddr{IP: s.publicIP.AsSlice(), Port: int(port)}
	return rc, addr, nil
}

func (g *relayGen) listen(network string, requestedPort int) (*net.UDPConn, error) {
	ctx := context.Background()
	if requestedPort != 0 {
		if requestedPort < int(g.min) || requestedPort > int(g.max) {
			return nil, fmt.Errorf("turnserver: requested relay port %d outside %d-%d", requestedPort, g.min, g.max)
		}
		pc, err := g.lc.ListenPacket(ctx, network, net.JoinHostPort(g.bindHost, strconv.Itoa(requestedPort)))
		if err != nil {
			return nil, fmt.Errorf("turnserver: relay port %d: %w", requestedPort, err)
		}
		return pc.(*net.UDPConn), nil
	}
	span := int(g.max) - int(g.min) + 1
	var lastErr error
	for try := 0; try < 16; try++ {
		port := int(g.min) + rand.IntN(span) //nolint:gosec // port choice, not a secret
		pc, err := g.lc.ListenPacket(ctx, network, net.JoinHostPort(g.bindHost, strconv.Itoa(port)))
		if err == nil {
			return pc.(*net.UDPConn), nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("turnserver: no free relay port in %d-%d: %w", g.min, g.max, lastErr)
}

// relayConn is one allocation's relay socket as pion/turn sees it. pion's
// per-allocation goroutine reads it (peer → client) and the listener's read
// loop writes it (client → peer).
type relayConn struct {
	*net.UDPConn
	s        *Server
	in, out  *rate.Limiter
	mu       sync.Mutex // guards ageTimer, which its own callback reads
	ageTimer *time.Timer

	closeOnce sync.Once
	capLogged atomic.Bool

	port  uint16
	peers cowMap[netip.AddrPort, *fastChan] // channel-bound peers (fast path)
	rbuf  []byte                            // owned by pion's reader goroutine
}

// relaySocketBuffer bounds a relay socket's buffers: one allocation's
// traffic is a few thousand datagrams per second at most.
const relaySocketBuffer = 4 << 20

// relayMTU is the largest datagram relayed, as in pion/turn.
const relayMTU = 1600

// ReadFrom is called in a loop by pion's goroutine for this allocation. A
// datagram from a channel-bound peer of a UDP client goes straight back out
// as ChannelData (the fast path); anything else is returned to pion. Datagrams
// over the bandwidth cap are dropped rather than queued: real-time media is
// better lost than late. Bytes relayed here are counted here; those
// returned to pion are counted when pion writes them to the client
// (guardConn.WriteTo, tcpConn.Write), since pion drops datagrams from peers
// without a permission.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(c.rbuf[4:])
		if err != nil {
			return 0, nil, err
		}
		if c.in != nil && !c.in.AllowN(time.Now(), n) {
			c.overCap()
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if fc, ok := c.peers.get(from); ok && c.s.fastOut != nil {
			b := c.rbuf[:4+n]
			b[0], b[1], b[2], b[3] = byte(fc.number>>8), byte(fc.number), byte(n>>8), byte(n)
			if _, err := c.s.fastOut.WriteToUDPAddrPort(b, fc.client); err == nil {
				c.s.relayed.toClient.Add(uint64(n))
			}
			continue
		}
		n = copy(p, c.rbuf[4:4+n])
		return n, net.UDPAddrFromAddrPort(from), nil
	}
}

// WriteTo sends a client's datagram to its peer for pion (Send indications
// and ChannelData that missed the fast path).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := addrPort(addr)
	if !ok {
		return c.UDPConn.WriteTo(p, addr)
	}
	return c.send(p, ap)
}

// send relays a client's datagram to peer. The policy lets peers reach a
// public relay IP so that two clients of this server can relay to each
// other; here such datagrams are held to the relay port range, so the relay
// cannot be used to reach other services on the server itself.
func (c *relayConn) send(p []byte, peer netip.AddrPort) (int, error) {
	if c.s.relaySelf && peer.Addr() == c.s.publicIP &&
		(peer.Port() < c.s.cfg.MinPort || peer.Port() > c.s.cfg.MaxPort) {
		c.s.count(ReasonSelfPort)
		return len(p), nil
	}
	if c.out != nil && !c.out.AllowN(time.Now(), len(p)) {
		c.overCap()
		return len(p), nil
	}
	n, err := c.UDPConn.WriteToUDPAddrPort(p, peer)
	if err == nil {
		c.s.relayed.toPeer.Add(uint64(n))
	}
	return n, err
}

// overCap counts every dropped datagram but logs once per allocation.
func (c *relayConn) overCap() {
	if c.capLogged.CompareAndSwap(false, true) {
		c.s.refuse(ReasonBandwidth, "allocation over its bandwidth cap; dropping datagrams",
			"relay", c.LocalAddr().String(), "bytes_per_second", c.s.cfg.BandwidthBytes)
		return
	}
	c.s.count(ReasonBandwidth)
}

// expire ends an allocation that outlived MaxAllocationAge: closing the
// socket makes pion's read goroutine fail and delete the allocation.
func (c *relayConn) expire() {
	c.s.refuse(ReasonMaxAge, "allocation reached its maximum age", "relay", c.LocalAddr().String(),
		"age", c.s.cfg.MaxAllocationAge)
	_ = c.Close()
}

func (c *relayConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.ageTimer != nil {
			c.ageTimer.Stop()
		}
		c.mu.Unlock()
		err = c.UDPConn.Close()
		c.s.forgetRelay(c)
		c.s.relays.Add(-1)
	})
	return err
}
