package turnserver

import (
	"net"
	"net/netip"
)

// Reasons a peer address is refused. They are stable strings: logs and
// Stats use them.
const (
	ReasonLoopback    = "loopback"
	ReasonPrivate     = "private"
	ReasonCGNAT       = "cgnat"
	ReasonLinkLocal   = "link-local"
	ReasonMulticast   = "multicast"
	ReasonUnspecified = "unspecified"
	ReasonReserved    = "special-purpose"
	ReasonOwnAddress  = "own-address"
	ReasonInvalid     = "invalid"
)

type deniedRange struct {
	prefix netip.Prefix
	reason string
}

// deniedRanges is the IANA special-purpose registry (IPv4 and IPv6) trimmed
// to what a TURN relay must never reach on a client's behalf: anything that
// is not a globally routed unicast address. The IPv4-in-IPv6 forms are not
// listed; Normalize unwraps them first, so the IPv4 rows cover them.
var deniedRanges = func() []deniedRange {
	rows := []struct{ cidr, reason string }{
		{"0.0.0.0/8", ReasonUnspecified}, // "this network"
		{"10.0.0.0/8", ReasonPrivate},
		{"100.64.0.0/10", ReasonCGNAT},
		{"127.0.0.0/8", ReasonLoopback},
		{"169.254.0.0/16", ReasonLinkLocal},
		{"172.16.0.0/12", ReasonPrivate},
		{"192.0.0.0/24", ReasonReserved},    // IETF protocol assignments
		{"192.0.2.0/24", ReasonReserved},    // TEST-NET-1
		{"192.88.99.0/24", ReasonReserved},  // 6to4 relay anycast (deprecated)
		{"192.168.0.0/16", ReasonPrivate},   //
		{"198.18.0.0/15", ReasonReserved},   // benchmarking
		{"198.51.100.0/24", ReasonReserved}, // TEST-NET-2
		{"203.0.113.0/24", ReasonReserved},  // TEST-NET-3
		{"224.0.0.0/4", ReasonMulticast},
		{"240.0.0.0/4", ReasonReserved}, // reserved, includes broadcast
		{"::/128", ReasonUnspecified},
		{"::1/128", ReasonLoopback},
		{"64:ff9b:1::/48", ReasonReserved}, // local-use NAT64: the IPv4 inside is site-defined
		{"100::/64", ReasonReserved},       // discard-only
		{"2001::/23", ReasonReserved},      // IETF protocol assignments, incl. Teredo 2001::/32
		{"2001:db8::/32", ReasonReserved},  // documentation
		{"3fff::/20", ReasonReserved},      // documentation (RFC 9637)
		{"5f00::/16", ReasonReserved},      // SRv6 SIDs
		{"fc00::/7", ReasonPrivate},        // unique local
		{"fe80::/10", ReasonLinkLocal},
		{"fec0::/10", ReasonPrivate}, // site-local (deprecated)
		{"ff00::/8", ReasonMulticast},
	}
	out := make([]deniedRange, len(rows))
	for i, r := range rows {
		out[i] = deniedRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

var (
	pfxMapped     = netip.MustParsePrefix("::ffff:0:0/96")   // ::ffff:a.b.c.d
	pfxTranslated = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT ::ffff:0:a.b.c.d
	pfxCompatible = netip.MustParsePrefix("::/96")           // ::a.b.c.d (deprecated)
	pfx6to4       = netip.MustParsePrefix("2002::/16")       // 2002:AABB:CCDD::/48
	pfxNAT64      = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64 prefix
)

// Normalize returns the IPv4 address an IPv6 address carries, for every form
// that makes a packet sent to it end up at that IPv4 address (mapped,
// SIIT-translated, compatible, 6to4, well-known NAT64), and addr itself
// otherwise. Go's IsLoopback and IsPrivate only see through the mapped form,
// which is how coturn CVE-2020-26262 style bypasses happen.
func Normalize(addr netip.Addr) netip.Addr {
	addr = addr.WithZone("")
	if !addr.Is6() {
		return addr
	}
	b := addr.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	switch {
	case pfxMapped.Contains(addr), pfxTranslated.Contains(addr), pfxNAT64.Contains(addr):
		return v4(12)
	case pfxCompatible.Contains(addr):
		// :: and ::1 are IPv6's own unspecified and loopback, not IPv4 0.0.0.0
		// and 0.0.0.1; both are refused either way, but keep their reason.
		if addr == netip.IPv6Unspecified() || addr == netip.IPv6Loopback() {
			return addr
		}
		return v4(12)
	case pfx6to4.Contains(addr):
		return v4(2)
	}
	return addr
}

// Policy decides which peer addresses the relay may reach. The zero value
// refuses every special-purpose address; Allow opens ranges on purpose.
// A Policy is read-only after construction, so it is safe for concurrent use.
type Policy struct {
	// Allow lists ranges that are permitted even though a rule below would
	// refuse them (--turn-allow-peer). They are matched against the address
	// both as given and normalised.
	Allow []netip.Prefix
	// Own holds the server's own addresses, refused unless allowed: a relay
	// must not let a client reach services bound on the server itself.
	Own map[netip.Addr]bool
	// RelayIP is the advertised relay address. It is exempt from Own,
	// because two peers relaying through the same server send to each
	// other's relay address; the relay socket then only lets such datagrams
	// reach the relay port range (see relayConn.WriteTo).
	RelayIP netip.Addr
}

// Check returns "" when the relay may reach ip, or the reason it may not.
func (p *Policy) Check(ip netip.Addr) string {
	if !ip.IsValid() {
		return ReasonInvalid
	}
	ip = ip.WithZone("")
	n := Normalize(ip)
	for _, a := range p.Allow {
		if a.Contains(ip) || a.Contains(n) {
			return ""
		}
	}
	for _, r := range deniedRanges {
		if r.prefix.Contains(n) {
			return r.reason
		}
	}
	if n.IsMulticast() || n.IsLinkLocalUnicast() || n.IsLoopback() || n.IsUnspecified() || n.IsPrivate() {
		// Belt and braces: anything the standard library knows as special.
		return ReasonReserved
	}
	if p.Own[n] && n != p.RelayIP {
		return ReasonOwnAddress
	}
	return ""
}

// CheckIP is Check for a net.IP, as pion/turn hands them over.
func (p *Policy) CheckIP(ip net.IP) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ReasonInvalid
	}
	return p.Check(a)
}

// ownAddresses lists the addresses of every local interface, normalised.
func ownAddresses() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	own := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			own[Normalize(pfx.Addr())] = true
		}
	}
	return own, nil
}
