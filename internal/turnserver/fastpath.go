package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// The fast path relays ChannelData without pion/turn. pion handles every
// STUN message (allocations, permissions, channel binds, Send and Data
// indications) and tells us about channels through its EventHandler; we keep
// a table of bound channels and move ChannelData both ways ourselves, with no
// allocation per datagram. Measured in docs/benchmarks.md: pion's per-datagram
// path (a five-tuple lookup under a mutex, a net.Addr and a ChannelData
// struct per packet) cost more CPU than coturn.
//
// Semantics are pion's: ChannelData relays while the channel binding lives
// (pion deletes it on expiry or with the allocation), and the peer passed the
// policy when the channel was bound.

// fastChan is one bound channel.
type fastChan struct {
	rc     *relayConn
	client netip.AddrPort // the TURN client (UDP only)
	peer   netip.AddrPort
	number uint16
}

type fastKey struct {
	client netip.AddrPort
	number uint16
}

// cowMap is a map read lock-free by the packet paths and replaced whole by
// the rare writers, which serialise on mu.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	p  atomic.Pointer[map[K]V]
}

func (c *cowMap[K, V]) get(k K) (V, bool) {
	var zero V
	m := c.p.Load()
	if m == nil {
		return zero, false
	}
	v, ok := (*m)[k]
	return v, ok
}

// update copies the map, applies f and publishes the copy.
func (c *cowMap[K, V]) update(f func(map[K]V)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.p.Load()
	n := make(map[K]V)
	if old != nil {
		for k, v := range *old {
			n[k] = v
		}
	}
	f(n)
	c.p.Store(&n)
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// channelCreated registers a UDP client's channel (EventHandler).
func (s *Server) channelCreated(src, relay, peer net.Addr, number uint16) {
	client, ok1 := addrPort(src)
	peerAP, ok2 := addrPort(peer)
	relayAP, ok3 := addrPort(relay)
	if !ok1 || !ok2 || !ok3 {
		return // TCP client: pion relays it
	}
	rc, ok := s.relayPorts.get(relayAP.Port())
	if !ok {
		return
	}
	fc := &fastChan{rc: rc, client: client, peer: peerAP, number: number}
	rc.peers.update(func(m map[netip.AddrPort]*fastChan) { m[peerAP] = fc })
	s.channels.update(func(m map[fastKey]*fastChan) { m[fastKey{client, number}] = fc })
}

// channelDeleted forgets a channel (EventHandler).
func (s *Server) channelDeleted(src, relay, peer net.Addr, number uint16) {
	client, ok1 := addrPort(src)
	peerAP, ok2 := addrPort(peer)
	relayAP, ok3 := addrPort(relay)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	s.channels.update(func(m map[fastKey]*fastChan) { delete(m, fastKey{client, number}) })
	if rc, ok := s.relayPorts.get(relayAP.Port()); ok {
		rc.peers.update(func(m map[netip.AddrPort]*fastChan) { delete(m, peerAP) })
	}
}

// forgetRelay drops every channel of a closing relay socket, in case pion
// closes it without channel events.
func (s *Server) forgetRelay(rc *relayConn) {
	s.relayPorts.update(func(m map[uint16]*relayConn) {
		if m[rc.port] == rc {
			delete(m, rc.port)
		}
	})
	s.channels.update(func(m map[fastKey]*fastChan) {
		for k, fc := range m {
			if fc.rc == rc {
				delete(m, k)
			}
		}
	})
}

// channelData relays one ChannelData datagram from client if its channel is
// on the fast path, and reports whether it did.
func (s *Server) channelData(b []byte, client netip.AddrPort) bool {
	if len(b) < 4 || b[0]&0xC0 != 0x40 {
		return false
	}
	length := int(b[2])<<8 | int(b[3])
	if 4+length > len(b) {
		return false // malformed: let pion refuse it
	}
	fc, ok := s.channels.get(fastKey{netip.AddrPortFrom(client.Addr().Unmap(), client.Port()), uint16(b[0])<<8 | uint16(b[1])})
	if !ok {
		return false
	}
	fc.rc.send(b[4:4+length], fc.peer)
	return true
}
