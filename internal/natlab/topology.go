package natlab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// The lab's addresses. The public side uses the documentation ranges
// (RFC 5737), so no packet could ever mean a real host; the private side
// uses 10.64.0.0/16. CheckHostRanges makes sure the machine itself uses
// none of them.
const (
	ServerIP   = "198.51.100.2" // duet serve: signaling, STUN and TURN
	serverGW   = "198.51.100.1" // the "internet" router's leg to the server
	PublicNet  = "203.0.113.0/24"
	publicGW   = "203.0.113.1"
	NATAPublic = "203.0.113.10"
	NATBPublic = "203.0.113.20"
	LANA       = "10.64.1.0/24"
	LANB       = "10.64.2.0/24"
	PeerAIP    = "10.64.1.2"
	PeerBIP    = "10.64.2.2" // 10.64.1.3 when SameLAN
	TURNPort   = 3478
	HTTPSPort  = 443 // duet serve's HTTPS port in the TLS scenarios
)

// Ranges is every prefix the lab puts on an interface.
var Ranges = []string{"198.51.100.0/24", PublicNet, LANA, LANB}

// NATKind is how a NAT router maps a private address and port to a public
// one.
type NATKind int

const (
	// EndpointIndependent maps one private address:port to the same public
	// port whatever the destination (Linux masquerade keeps the source port
	// when it is free). Filtering still follows conntrack: only replies to
	// flows the inside opened get in, as with most home routers.
	EndpointIndependent NATKind = iota
	// Symmetric picks a random public port for every new flow
	// (masquerade fully-random), so the port a STUN server sees is useless
	// to anyone else: only a relay can reach the peer.
	Symmetric
)

func (k NATKind) String() string {
	if k == Symmetric {
		return "symmetric"
	}
	return "endpoint-independent"
}

// NAT describes one NAT router.
type NAT struct {
	Kind      NATKind
	BlockUDP  bool // drop all UDP from the LAN to the outside
	BlockTURN bool // refuse TCP and UDP from the LAN to the STUN/TURN port
	// OnlyHTTPS lets nothing out of the LAN but TCP to the server's HTTPS
	// port, as a strict hotel or corporate network does: every other
	// packet is refused (TCP reset, ICMP unreachable) so attempts fail at
	// once.
	OnlyHTTPS bool
}

// Topology is what Build creates.
type Topology struct {
	A, B NAT
	// SameLAN puts both peers on A's LAN segment (a bridge behind NAT A),
	// and NAT B is not built.
	SameLAN bool
}

// Net is a built topology: the namespace each part runs in.
type Net struct {
	Server, Internet, NATA, NATB, PeerA, PeerB string
	PeerBAddr                                  string
}

// Build creates the namespaces and links of t in l:
//
//	srv 198.51.100.2 ── .1 inet 203.0.113.1 ─┬─ .10 nata 10.64.1.1 ── 10.64.1.2 a
//	                         (router, bridge) └─ .20 natb 10.64.2.1 ── 10.64.2.2 b
//
// With SameLAN, b is 10.64.1.3 on nata's LAN bridge instead. Only inet
// forwards between the server and the NATs; each NAT masquerades its LAN
// behind its public address and lets nothing in that its LAN did not ask for.
func Build(ctx context.Context, l *Lab, t Topology) (*Net, error) {
	b := builder{ctx: ctx, l: l}
	n := &Net{
		Server:   b.ns("srv"),
		Internet: b.ns("inet"),
		NATA:     b.ns("nata"),
		PeerA:    b.ns("a"),
		PeerB:    b.ns("b"),
	}
	// The internet: a router with the server on one leg and a bridge (an
	// ISP's shared segment) holding the NATs' public sides on the other.
	b.link(n.Internet, "srv", serverGW+"/24", n.Server, "eth0", ServerIP+"/24")
	b.ip(n.Server, "route", "add", "default", "via", serverGW)
	b.ip(n.Internet, "link", "add", "br0", "type", "bridge")
	b.ip(n.Internet, "addr", "add", publicGW+"/24", "dev", "br0")
	b.ip(n.Internet, "link", "set", "br0", "up")
	b.sysctl(n.Internet, "net.ipv4.ip_forward=1")

	b.natRouter(n.NATA, n.Internet, "nata", NATAPublic, t.A)
	if t.SameLAN {
		// NAT A's LAN becomes a bridge with both peers on it.
		b.ip(n.NATA, "link", "add", "br0", "type", "bridge")
		b.ip(n.NATA, "link", "set", "br0", "up")
		b.ip(n.NATA, "addr", "add", "10.64.1.1/24", "dev", "br0")
		b.link(n.NATA, "lan0", "", n.PeerA, "eth0", PeerAIP+"/24")
		b.link(n.NATA, "lan1", "", n.PeerB, "eth0", "10.64.1.3/24")
		b.ip(n.NATA, "link", "set", "lan0", "master", "br0")
		b.ip(n.NATA, "link", "set", "lan1", "master", "br0")
		b.ip(n.PeerA, "route", "add", "default", "via", "10.64.1.1")
		b.ip(n.PeerB, "route", "add", "default", "via", "10.64.1.1")
		n.PeerBAddr = "10.64.1.3"
	} else {
		b.link(n.NATA, "lan", "10.64.1.1/24", n.PeerA, "eth0", PeerAIP+"/24")
		b.ip(n.PeerA, "route", "add", "default", "via", "10.64.1.1")
		n.NATB = b.ns("natb")
		b.natRouter(n.NATB, n.Internet, "natb", NATBPublic, t.B)
		b.link(n.NATB, "lan", "10.64.2.1/24", n.PeerB, "eth0", PeerBIP+"/24")
		b.ip(n.PeerB, "route", "add", "default", "via", "10.64.2.1")
		n.PeerBAddr = PeerBIP
	}
	if b.err != nil {
		return nil, b.err
	}
	return n, nil
}

// builder runs the steps of Build and keeps the first error, so the
// topology reads as a list of steps.
type builder struct {
	ctx context.Context
	l   *Lab
	err error
}

func (b *builder) ns(role string) string {
	if b.err != nil {
		return ""
	}
	name, err := b.l.AddNS(b.ctx, role)
	b.err = err
	return name
}

func (b *builder) ip(ns string, args ...string) {
	if b.err == nil {
		b.err = b.l.IP(b.ctx, ns, args...)
	}
}

func (b *builder) sysctl(ns string, s ...string) {
	if b.err == nil {
		b.err = b.l.Sysctl(b.ctx, ns, s...)
	}
}

// link creates a veth pair from ifA in nsA to ifB in nsB, addresses them
// (an empty address: none) and brings both ends up. The pair is created
// inside nsA and its peer moved straight into nsB, so it never exists in
// the host's namespace.
func (b *builder) link(nsA, ifA, addrA, nsB, ifB, addrB string) {
	b.ip(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	for _, end := range [][3]string{{nsA, ifA, addrA}, {nsB, ifB, addrB}} {
		if end[2] != "" {
			b.ip(end[0], "addr", "add", end[2], "dev", end[1])
		}
		b.ip(end[0], "link", "set", end[1], "up")
	}
}

// natRouter connects nat's "wan" to inet's bridge with public address pub
// and loads its NAT rules; the caller adds the LAN side.
func (b *builder) natRouter(nat, inet, inetIf, pub string, cfg NAT) {
	b.link(inet, inetIf, "", nat, "wan", pub+"/24")
	b.ip(inet, "link", "set", inetIf, "master", "br0")
	b.ip(nat, "route", "add", "default", "via", publicGW)
	b.sysctl(nat, "net.ipv4.ip_forward=1")
	if b.err == nil {
		b.err = b.l.NFT(b.ctx, nat, Ruleset(cfg))
	}
}

// Ruleset is the nftables ruleset of a NAT router with the given
// behaviour. Its LAN is every interface but "wan".
//
// The input chain matters for endpoint-independent mapping: a peer's check
// that reaches this router before its own peer has sent anything would,
// if accepted for local delivery, leave a conntrack entry on the very
// public port masquerade wants to keep for the peer, and masquerade would
// then pick another port (hole punching fails). Dropped in input, the
// entry is never confirmed; home routers drop such packets too.
func Ruleset(cfg NAT) string {
	masq := "masquerade"
	if cfg.Kind == Symmetric {
		masq = "masquerade fully-random"
	}
	var fwd []string
	if cfg.BlockUDP {
		fwd = append(fwd, `iifname != "wan" meta l4proto udp drop`)
	}
	if cfg.BlockTURN {
		// Refused as by a host with nothing listening (TCP reset, ICMP
		// port unreachable), so each attempt fails at once.
		fwd = append(fwd,
			fmt.Sprintf(`iifname != "wan" ip daddr %s tcp dport %d reject with tcp reset`, ServerIP, TURNPort),
			fmt.Sprintf(`iifname != "wan" ip daddr %s udp dport %d reject`, ServerIP, TURNPort))
	}
	if cfg.OnlyHTTPS {
		fwd = append(fwd,
			fmt.Sprintf(`iifname != "wan" ip daddr %s tcp dport %d accept`, ServerIP, HTTPSPort),
			`iifname != "wan" meta l4proto tcp reject with tcp reset`,
			`iifname != "wan" reject`)
	}
	fwd = append(fwd,
		`iifname "wan" ct state established,related accept`,
		`iifname "wan" drop`, // nothing unsolicited from outside
	)
	return fmt.Sprintf(`table ip natlab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" %s
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		%s
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
}
`, masq, strings.Join(fwd, "\n\t\t"))
}

// CheckHostRanges fails if an interface of this machine has an address in
// one of the lab's ranges: the lab would still be isolated, but a reader
// of its results could mistake one network for the other.
func CheckHostRanges(addrs []netip.Prefix) error {
	for _, r := range Ranges {
		lab := netip.MustParsePrefix(r)
		for _, a := range addrs {
			if lab.Overlaps(a) {
				return fmt.Errorf("natlab: this machine has %s, inside the lab's range %s", a, lab)
			}
		}
	}
	return nil
}
