package turnserver

import (
	"net"
	"net/netip"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/pion/stun/v3"
	"golang.org/x/net/ipv4"
)

// STUN message types of the requests that name a peer (RFC 8656 §18).
const (
	typeAllocate         = 0x0003
	typeCreatePermission = 0x0008
	typeChannelBind      = 0x0009
	stunHeaderSize       = 20
)

// guardConn is a UDP listener socket as pion/turn sees it. It answers
// CreatePermission and ChannelBind requests for refused peers with 403
// Forbidden itself (see guard), as RFC 8656 §9 asks and coturn does:
// pion/turn's PermissionHandler refusal answers an error without a code
// (CreatePermission) or 401 (ChannelBind), which clients read as an
// authentication problem. Every other datagram, and every request it cannot
// authenticate, goes to pion unchanged; the PermissionHandler stays the
// backstop. streamConn does the same on TCP and TLS.
type guardConn struct {
	*net.UDPConn
	s *Server

	// Datagrams are read in batches (recvmmsg) to save system calls under
	// load; pion's single read goroutine per socket owns these fields.
	batch       *ipv4.PacketConn
	msgs        []ipv4.Message
	next, count int
}

// readBatch is the most datagrams one recvmmsg returns.
const readBatch = 32

func newGuardConn(c *net.UDPConn, s *Server) *guardConn {
	g := &guardConn{UDPConn: c, s: s, batch: ipv4.NewPacketConn(c), msgs: make([]ipv4.Message, readBatch)}
	for i := range g.msgs {
		g.msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	return g
}

// ReadFrom hands pion the next datagram that is not ChannelData on the
// fast path.
func (g *guardConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if g.next >= g.count {
			n, err := g.batch.ReadBatch(g.msgs, 0)
			if err != nil {
				return 0, nil, err
			}
			g.next, g.count = 0, n
		}
		m := &g.msgs[g.next]
		g.next++
		addr, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		b := m.Buffers[0][:m.N]
		if g.s.channelData(b, addr.AddrPort()) {
			continue // relayed on the fast path
		}
		if resp := g.s.guard(b, addr); resp != nil {
			_, _ = g.UDPConn.WriteTo(resp, addr)
			continue
		}
		return copy(p, b), addr, nil
	}
}

// WriteTo sends pion's datagrams to clients: STUN responses, and the
// ChannelData and Data indications of the peer → client relay that missed
// the fast path, whose payload it counts.
func (g *guardConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := g.UDPConn.WriteTo(b, addr)
	if err == nil {
		if p := payloadToClient(b); p > 0 {
			g.s.relayed.toClient.Add(uint64(p))
		}
	}
	return n, err
}

// guard answers 403 Forbidden itself for an authenticated request it
// refuses: a CreatePermission or ChannelBind naming a peer the policy
// refuses, or (with Config.Authorize) an Allocate of a user that is not
// authorized. It returns the response to send, or nil to hand msg to pion.
// Two byte compares keep every other message off the STUN decoder.
func (s *Server) guard(msg []byte, client net.Addr) []byte {
	if len(msg) < stunHeaderSize || msg[0] != 0 {
		return nil
	}
	switch msg[1] {
	case typeCreatePermission, typeChannelBind:
	case typeAllocate:
		if s.cfg.Authorize == nil {
			return nil
		}
	default:
		return nil
	}
	m := &stun.Message{Raw: append([]byte(nil), msg...)}
	if err := m.Decode(); err != nil || m.Type.Class != stun.ClassRequest {
		return nil
	}
	var user stun.Username
	var realm stun.Realm
	if user.GetFrom(m) != nil || realm.GetFrom(m) != nil {
		return nil
	}
	if turncred.Check(user.String(), s.now()) != nil && !s.holdsAllocation(client, user.String()) {
		return nil // pion refuses it and counts the reason
	}
	key := stun.MessageIntegrity(turncred.Key(s.secret, user.String(), realm.String()))
	if key.Check(m) != nil {
		return nil
	}
	if s.bypassPolicy(client) {
		return nil
	}
	reason := ""
	if m.Type.Method == stun.MethodAllocate {
		if s.authorized(user.String()) {
			return nil
		}
		reason = ReasonUnauthorized
		s.refuse(reason, "allocation refused: user not authorized", "client", client.String(), "username", user.String())
	} else {
		peer := ""
		for _, a := range m.Attributes {
			if a.Type != stun.AttrXORPeerAddress {
				continue
			}
			// A request may name several peers; stun.XORMappedAddress only
			// reads the first, so each is decoded here.
			ip, ok := xorPeerIP(m, a)
			if !ok {
				return nil
			}
			if r := s.policy.Check(ip); r != "" {
				reason, peer = r, ip.String()
				break
			}
		}
		if reason == "" {
			return nil
		}
		s.refuse(reason, "peer refused by relay policy", "client", client.String(), "peer", peer)
	}
	resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID),
		stun.NewType(m.Type.Method, stun.ClassErrorResponse),
		&stun.ErrorCodeAttribute{Code: stun.CodeForbidden, Reason: []byte("Forbidden: " + reason)},
		key, stun.Fingerprint)
	if err != nil {
		return nil
	}
	return resp.Raw
}

var magicCookie = [4]byte{0x21, 0x12, 0xA4, 0x42}

// xorPeerIP decodes one XOR-PEER-ADDRESS attribute (RFC 8489 §14.2).
func xorPeerIP(m *stun.Message, a stun.RawAttribute) (netip.Addr, bool) {
	v := a.Value
	if len(v) < 8 {
		return netip.Addr{}, false
	}
	switch v[1] {
	case 0x01:
		var ip [4]byte
		for i := range ip {
			ip[i] = v[4+i] ^ magicCookie[i]
		}
		return netip.AddrFrom4(ip), true
	case 0x02:
		if len(v) < 20 {
			return netip.Addr{}, false
		}
		var ip [16]byte
		var mask [16]byte
		copy(mask[:4], magicCookie[:])
		copy(mask[4:], m.TransactionID[:])
		for i := range ip {
			ip[i] = v[4+i] ^ mask[i]
		}
		return netip.AddrFrom16(ip), true
	}
	return netip.Addr{}, false
}
