package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// hop is one proxy's account of the request it received.
type hop struct {
	addr  netip.Addr // invalid: the proxy said "unknown" or an obfuscated name
	proto string
	host  string
}

// maxHops bounds how many list elements are read: a header of thousands
// of addresses costs no more than a chain of proxies anyone runs.
const maxHops = 32

// fromForwarded reads RFC 7239 Forwarded headers. Each proxy appends an
// element, so the client is the right-most "for" that is not one of our
// trusted proxies; everything left of it was written by the client or by
// proxies we know nothing of. If every element is a trusted proxy (a
// client inside the proxies' own network), the left-most one is it.
func (r *Resolver) fromForwarded(values []string) (hop, bool) {
	var hops []hop
	for _, v := range values {
		for _, el := range splitList(v) {
			hops = append(hops, parseElement(el))
		}
	}
	if len(hops) == 0 {
		return hop{}, false
	}
	return hops[r.pick(hops)], true
}

// pick returns the index of the right-most hop whose address is not a
// trusted proxy (only the last maxHops are looked at), or of the left-most
// of those if all are.
func (r *Resolver) pick(hops []hop) int {
	first := max(len(hops)-maxHops, 0)
	for i := len(hops) - 1; i >= first; i-- {
		if !hops[i].addr.IsValid() || !r.Trusted(hops[i].addr) {
			return i
		}
	}
	return first
}

// fromXForwarded reads X-Forwarded-For with X-Forwarded-Proto and
// X-Forwarded-Host, the de-facto headers nginx and Caddy send. Proto and
// host are taken from the same position as the chosen address when the
// lists line up, else from their right-most value (the nearest proxy's).
func (r *Resolver) fromXForwarded(h http.Header) (hop, bool) {
	var addrs []string
	for _, v := range h.Values("X-Forwarded-For") {
		addrs = append(addrs, splitList(v)...)
	}
	hops := make([]hop, len(addrs))
	for i, a := range addrs {
		hops[i].addr = parseNode(a)
	}
	protos := listOf(h, "X-Forwarded-Proto")
	hosts := listOf(h, "X-Forwarded-Host")
	if len(hops) == 0 {
		if len(protos) == 0 && len(hosts) == 0 {
			return hop{}, false
		}
		// Proto and host without an address: still the proxy's word.
		return hop{proto: last(protos), host: last(hosts)}, true
	}
	idx := r.pick(hops)
	chosen := hops[idx]
	chosen.proto = aligned(protos, len(hops), idx)
	chosen.host = aligned(hosts, len(hops), idx)
	return chosen, true
}

func listOf(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		out = append(out, splitList(v)...)
	}
	return out
}

func aligned(list []string, n, idx int) string {
	if len(list) == n && idx < len(list) {
		return strings.ToLower(list[idx])
	}
	return strings.ToLower(last(list))
}

func last(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[len(list)-1]
}

// splitList splits a comma-separated header value, keeping commas inside
// quoted strings, and trims each element.
func splitList(v string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				if s := strings.TrimSpace(v[start:i]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
	}
	if s := strings.TrimSpace(v[min(start, len(v)):]); s != "" {
		out = append(out, s)
	}
	return out
}

// parseElement reads one Forwarded element: for=...;proto=...;host=...
func parseElement(el string) hop {
	var h hop
	for _, pair := range strings.Split(el, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "for":
			h.addr = parseNode(v)
		case "proto":
			h.proto = strings.ToLower(v)
		case "host":
			h.host = v
		}
	}
	return h
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.Contains(v, `\`) {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		}
	}
	return v
}

// parseNode reads an address as proxies write it: 192.0.2.1,
// 192.0.2.1:4711, [2001:db8::1]:4711, [2001:db8::1] or 2001:db8::1.
// "unknown" and obfuscated identifiers (_abc) give an invalid address.
func parseNode(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	return netip.Addr{}
}
