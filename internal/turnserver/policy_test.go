package turnserver

import (
	"net"
	"net/netip"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3.4", "1.2.3.4"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::ffff:0:10.0.0.1", "10.0.0.1"},
		{"::127.0.0.1", "127.0.0.1"},
		{"::a00:1", "10.0.0.1"},
		{"2002:7f00:1::", "127.0.0.1"},
		{"2002:c0a8:101:5::9", "192.168.1.1"},
		{"64:ff9b::a9fe:a9fe", "169.254.169.254"},
		{"64:ff9b::8.8.8.8", "8.8.8.8"},
		{"::", "::"},
		{"::1", "::1"},
		{"2606:4700::1111", "2606:4700::1111"},
		{"fe80::1%eth0", "fe80::1"},
	}
	for _, tc := range tests {
		if got := Normalize(netip.MustParseAddr(tc.in)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("Normalize(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPolicyDefault(t *testing.T) {
	p := &Policy{
		Own:     map[netip.Addr]bool{netip.MustParseAddr("203.0.114.7"): true, netip.MustParseAddr("198.51.99.1"): true},
		RelayIP: netip.MustParseAddr("198.51.99.1"),
	}
	tests := []struct {
		ip   string
		want string
	}{
		// Public peers pass, in every spelling.
		{"8.8.8.8", ""},
		{"::ffff:8.8.8.8", ""},
		{"2002:808:808::1", ""},
		{"64:ff9b::808:808", ""},
		{"2606:4700::1111", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.32.0.1", ""},
		{"198.51.99.1", ""}, // the advertised relay IP: relay-to-relay calls

		// Loopback in every tunnelled form.
		{"127.0.0.1", ReasonLoopback},
		{"127.255.255.254", ReasonLoopback},
		{"::1", ReasonLoopback},
		{"::ffff:127.0.0.1", ReasonLoopback},
		{"::ffff:0:127.0.0.1", ReasonLoopback},
		{"::127.0.0.1", ReasonLoopback},
		{"2002:7f00:1::", ReasonLoopback},
		{"2002:7f00:1:ffff:ffff:ffff:ffff:ffff", ReasonLoopback},
		{"64:ff9b::7f00:1", ReasonLoopback},

		// RFC 1918 and friends, plain and tunnelled.
		{"10.1.2.3", ReasonPrivate},
		{"172.16.0.1", ReasonPrivate},
		{"172.31.255.255", ReasonPrivate},
		{"192.168.1.1", ReasonPrivate},
		{"::ffff:192.168.1.1", ReasonPrivate},
		{"::c0a8:101", ReasonPrivate},
		{"2002:c0a8:101::1", ReasonPrivate},
		{"64:ff9b::10.0.0.1", ReasonPrivate},
		{"fc00::1", ReasonPrivate},
		{"fd12:3456::1", ReasonPrivate},
		{"fec0::1", ReasonPrivate},

		{"100.64.0.1", ReasonCGNAT},
		{"100.127.255.255", ReasonCGNAT},
		{"::ffff:100.64.0.1", ReasonCGNAT},
		{"2002:6440:1::", ReasonCGNAT},
		{"64:ff9b::100.100.100.100", ReasonCGNAT},

		{"169.254.169.254", ReasonLinkLocal}, // cloud metadata
		{"64:ff9b::a9fe:a9fe", ReasonLinkLocal},
		{"2002:a9fe:a9fe::", ReasonLinkLocal},
		{"fe80::1", ReasonLinkLocal},
		{"fe80::1%eth0", ReasonLinkLocal},
		{"febf::1", ReasonLinkLocal},

		{"224.0.0.1", ReasonMulticast},
		{"239.255.255.250", ReasonMulticast},
		{"::ffff:224.0.0.251", ReasonMulticast},
		{"ff02::1", ReasonMulticast},
		{"ff05::1:3", ReasonMulticast},

		{"0.0.0.0", ReasonUnspecified},
		{"0.1.2.3", ReasonUnspecified},
		{"::", ReasonUnspecified},
		{"::ffff:0.0.0.0", ReasonUnspecified},
		{"2002::", ReasonUnspecified},

		{"255.255.255.255", ReasonReserved},
		{"240.0.0.1", ReasonReserved},
		{"192.0.0.8", ReasonReserved},
		{"192.0.2.1", ReasonReserved},
		{"198.18.0.1", ReasonReserved},
		{"198.51.100.1", ReasonReserved},
		{"203.0.113.9", ReasonReserved},
		{"192.88.99.1", ReasonReserved},
		{"2001:db8::1", ReasonReserved},
		{"2001::1", ReasonReserved}, // Teredo
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", ReasonReserved},
		{"100::1", ReasonReserved},
		{"64:ff9b:1::a00:1", ReasonReserved},
		{"3fff::1", ReasonReserved},
		{"5f00::1", ReasonReserved},

		{"203.0.114.7", ReasonOwnAddress},
		{"::ffff:203.0.114.7", ReasonOwnAddress},
		{"2002:cb00:7207::1", ReasonOwnAddress},
	}
	for _, tc := range tests {
		if got := p.Check(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Check(%s) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}

func TestPolicyAllow(t *testing.T) {
	p := &Policy{Allow: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("fd00::/8"),
	}}
	tests := []struct {
		ip   string
		want string
	}{
		{"127.0.0.1", ""},
		{"::ffff:127.0.0.1", ""}, // allowed ranges see through tunnels too
		{"2002:7f00:1::", ""},
		{"10.1.2.3", ""},
		{"10.2.0.1", ReasonPrivate}, // outside the opened /16
		{"fd00::5", ""},
		{"fc00::5", ReasonPrivate},
		{"::1", ReasonLoopback}, // IPv6 loopback was not opened
		{"192.168.0.1", ReasonPrivate},
	}
	for _, tc := range tests {
		if got := p.Check(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Check(%s) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}

func TestPolicyCheckIP(t *testing.T) {
	p := &Policy{}
	tests := []struct {
		ip   net.IP
		want string
	}{
		{net.IPv4(127, 0, 0, 1), ReasonLoopback}, // 16-byte mapped form, as net.IPv4 makes it
		{net.IP{8, 8, 4, 4}, ""},
		{net.ParseIP("2002:a00:1::"), ReasonPrivate},
		{nil, ReasonInvalid},
		{net.IP{1, 2, 3}, ReasonInvalid},
	}
	for _, tc := range tests {
		if got := p.CheckIP(tc.ip); got != tc.want {
			t.Errorf("CheckIP(%v) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}
