// Package clientaddr tells who is behind an HTTP request: the client's
// address, and the scheme and host it used to reach the site. Behind a
// reverse proxy (nginx, Caddy) every request comes from the proxy, so
// duet reads the forwarded headers — but only from the proxies the
// operator listed (--trusted-proxies). From anyone else they are ignored:
// a client that could name its own address could slip every per-address
// limit and pose as anyone.
//
// Every per-address limit in duet keys on Info.Key, which is the client
// address, or its /64 for IPv6: one IPv6 host usually holds a whole /64
// and could otherwise take a fresh address for each connection.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Info is what is known of the client behind a request.
type Info struct {
	// Addr is the client's IP address (IPv4-mapped IPv6 unmapped). It is
	// the TCP peer unless that peer is a trusted proxy that said who its
	// client was. Invalid only for a request without a usable RemoteAddr.
	Addr netip.Addr
	// Port is the TCP peer's port when Addr is the TCP peer, else 0.
	Port uint16
	// Scheme is "https" or "http", as the client reached the site.
	Scheme string
	// Host is the host[:port] the client asked for: the Host header, or
	// the one a trusted proxy forwarded. It is cut to MaxHost bytes.
	Host string
	// Proxied: the TCP peer was a trusted proxy and its headers were used.
	Proxied bool
}

// MaxHost bounds Host: a DNS name is at most 253 bytes, and a port and
// brackets add a few. Nothing longer is a host anyone reached us by.
const MaxHost = 262

// Key is the unit of per-client limits: the IPv4 address, or the /64 of
// an IPv6 address. It is "" when the address is unknown.
func (i Info) Key() string {
	return Key(i.Addr)
}

// Key is Info.Key for a bare address.
func Key(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return ""
	case a.Is4():
		return a.String()
	default:
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
}

// Hostname is Host without its port or IPv6 brackets.
func (i Info) Hostname() string {
	if h, _, err := net.SplitHostPort(i.Host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(i.Host, "["), "]")
}

// String is the address for logs: address:port of the TCP peer, or the
// forwarded address with "via proxy".
func (i Info) String() string {
	if i.Proxied {
		return i.Addr.String() + " (via proxy)"
	}
	return netip.AddrPortFrom(i.Addr, i.Port).String()
}

// Resolver reads requests with a set of trusted proxies. The zero value
// (and nil) trusts none.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that trusts forwarded headers from the TCP peers
// in trusted.
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		r.trusted = append(r.trusted, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	return r
}

func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// ParsePrefixes reads a comma-separated list of CIDRs or bare addresses,
// as --trusted-proxies takes it.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, err2 := netip.ParseAddr(part)
			if err2 != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Trusted reports whether a is one of the trusted proxies.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve works out the Info of req.
func (r *Resolver) Resolve(req *http.Request) Info {
	info := Info{Scheme: "http", Host: cut(req.Host)}
	if req.TLS != nil {
		info.Scheme = "https"
	}
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		info.Addr, info.Port = ap.Addr().Unmap(), ap.Port()
	} else if a, err := netip.ParseAddr(req.RemoteAddr); err == nil {
		info.Addr = a.Unmap() // a RemoteAddr without a port (tests, some listeners)
	}
	if !r.Trusted(info.Addr) {
		return info
	}
	if hop, ok := r.fromForwarded(req.Header.Values("Forwarded")); ok {
		info.apply(hop)
	} else if hop, ok := r.fromXForwarded(req.Header); ok {
		info.apply(hop)
	}
	return info
}

func (i *Info) apply(h hop) {
	if h.addr.IsValid() {
		i.Addr, i.Port, i.Proxied = h.addr, 0, true
	}
	if h.proto == "https" || h.proto == "http" {
		i.Scheme = h.proto
	}
	if h.host != "" && validHost(h.host) {
		i.Host = cut(h.host)
	}
}

// cut bounds h and copies it, so that whoever keeps an Info (a signaling
// connection, for as long as it lives) does not keep the request's header
// buffer with it.
func cut(h string) string {
	if len(h) > MaxHost {
		h = h[:MaxHost]
	}
	return strings.Clone(h)
}

// validHost accepts what a Host header may hold: a name or address with an
// optional port, nothing that could break a URL built from it.
func validHost(h string) bool {
	if h == "" || len(h) > MaxHost {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-._:[]", c):
		default:
			return false
		}
	}
	return true
}

type ctxKey struct{}

// Handler resolves every request once and keeps the Info in its context,
// for From.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		info := r.Resolve(req)
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, info)))
	})
}

// From returns the Info that Handler stored, or, for a request that did
// not pass through it, the Info of a resolver that trusts no proxy.
func From(req *http.Request) Info {
	if info, ok := req.Context().Value(ctxKey{}).(Info); ok {
		return info
	}
	return (*Resolver)(nil).Resolve(req)
}
