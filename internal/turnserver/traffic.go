package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// relayedBytes counts payload bytes relayed through allocations, for
// /metrics. The counters are added to on every relayed datagram, from the
// listener read loops (to peers) and the allocations' read goroutines (to
// clients), so each sits on its own cache line: a shared line would make
// every add invalidate the fast path's read-mostly fields (fastOut, the
// channel table) in the other cores' caches.
type relayedBytes struct {
	_        [64]byte
	toPeer   atomic.Uint64
	_        [64]byte
	toClient atomic.Uint64
	_        [64]byte
}

// permKey names one permission: an allocation (by its relay address) and a
// peer IP, as pion keys them (the port does not matter, RFC 8656 §9).
type permKey struct {
	relay netip.AddrPort
	peer  netip.Addr
}

// permissions mirrors pion's live permissions from its events, as a set so
// that a duplicate event cannot skew the count: pion can report the same
// deletion twice (its expiry timer racing the allocation's Close) and, with
// two requests racing, the same creation twice.
type permissions struct {
	mu      sync.Mutex
	live    map[permKey]struct{}
	created atomic.Uint64
}

func permissionKey(relay net.Addr, peer net.IP) (permKey, bool) {
	r, ok := addrPort(relay)
	if !ok {
		return permKey{}, false
	}
	p, ok := netip.AddrFromSlice(peer)
	if !ok {
		return permKey{}, false
	}
	return permKey{relay: r, peer: p.Unmap()}, true
}

// add records a permission pion installed (EventHandler). pion reports only
// new ones, not refreshes.
func (p *permissions) add(relay net.Addr, peer net.IP) {
	k, ok := permissionKey(relay, peer)
	if !ok {
		return
	}
	p.mu.Lock()
	_, dup := p.live[k]
	if !dup {
		p.live[k] = struct{}{}
	}
	p.mu.Unlock()
	if !dup {
		p.created.Add(1)
	}
}

// remove forgets a permission that expired or went with its allocation.
func (p *permissions) remove(relay net.Addr, peer net.IP) {
	k, ok := permissionKey(relay, peer)
	if !ok {
		return
	}
	p.mu.Lock()
	delete(p.live, k)
	p.mu.Unlock()
}

func (p *permissions) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// STUN Data indication (RFC 8656 §11.4) and its DATA attribute.
const (
	typeDataIndication = 0x0017
	attrData           = 0x0013
)

// payloadToClient returns the relayed payload size of a datagram pion sends
// to a client: the data of a ChannelData message or of a Data indication's
// DATA attribute, and 0 for anything else (STUN responses). pion writes one
// whole message per call, on UDP and on TCP alike.
func payloadToClient(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	if b[0]&0xC0 == 0x40 { // ChannelData: the length excludes the padding
		return int(b[2])<<8 | int(b[3])
	}
	if len(b) < stunHeaderSize || int(b[0])<<8|int(b[1]) != typeDataIndication {
		return 0
	}
	end := min(len(b), stunHeaderSize+(int(b[2])<<8|int(b[3])))
	for off := stunHeaderSize; off+4 <= end; {
		typ, n := int(b[off])<<8|int(b[off+1]), int(b[off+2])<<8|int(b[off+3])
		if typ == attrData {
			return min(n, end-off-4)
		}
		off += 4 + (n+3)&^3
	}
	return 0
}
