package clientaddr

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, ::1, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	r := New(trusted)
	tests := []struct {
		name   string
		remote string
		tls    bool
		host   string
		hdr    map[string][]string
		want   Info
	}{
		{name: "direct", remote: "203.0.113.7:5000", host: "call.example.org",
			want: Info{Addr: ip("203.0.113.7"), Port: 5000, Scheme: "http", Host: "call.example.org"}},
		{name: "direct over TLS", remote: "203.0.113.7:5000", tls: true, host: "call.example.org",
			want: Info{Addr: ip("203.0.113.7"), Port: 5000, Scheme: "https", Host: "call.example.org"}},
		{name: "untrusted peer's headers are ignored", remote: "203.0.113.7:5000", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=1.2.3.4;proto=https;host=evil"}},
			want: Info{Addr: ip("203.0.113.7"), Port: 5000, Scheme: "http", Host: "h"}},
		{name: "nginx: x-forwarded", remote: "10.1.2.3:40000", host: "127.0.0.1:8080",
			hdr:  map[string][]string{"X-Forwarded-For": {"198.51.100.9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"call.example.org"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "https", Host: "call.example.org", Proxied: true}},
		{name: "forged left part of x-forwarded-for is skipped", remote: "10.1.2.3:40000", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "two trusted proxies in a row", remote: "10.1.2.3:40000", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"6.6.6.6", "198.51.100.9, 10.9.9.9"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "client inside the proxies' network", remote: "10.1.2.3:40000", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"10.7.7.7, 10.9.9.9"}},
			want: Info{Addr: ip("10.7.7.7"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "proto lists aligned with addresses", remote: "10.1.2.3:40000", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"198.51.100.9, 10.9.9.9"}, "X-Forwarded-Proto": {"https, http"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "https", Host: "h", Proxied: true}},
		{name: "rfc 7239 forwarded, ipv6 with port", remote: "[::1]:40000", host: "h",
			hdr:  map[string][]string{"Forwarded": {`for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;host="call.example.org"`}},
			want: Info{Addr: ip("2001:db8:cafe::17"), Scheme: "https", Host: "call.example.org", Proxied: true}},
		{name: "forwarded wins over x-forwarded-for", remote: "192.168.1.1:1", host: "h",
			hdr:  map[string][]string{"Forwarded": {"for=198.51.100.1"}, "X-Forwarded-For": {"198.51.100.2"}},
			want: Info{Addr: ip("198.51.100.1"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "forwarded unknown keeps the proxy's address", remote: "10.0.0.1:1", host: "h",
			hdr:  map[string][]string{"Forwarded": {"for=unknown;proto=https"}},
			want: Info{Addr: ip("10.0.0.1"), Port: 1, Scheme: "https", Host: "h"}},
		{name: "a host that would break a URL is ignored", remote: "10.0.0.1:1", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"198.51.100.9"}, "X-Forwarded-Host": {"evil.org/x?y"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "ipv4-mapped proxy address is trusted", remote: "[::ffff:10.0.0.1]:1", host: "h",
			hdr:  map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.9"}},
			want: Info{Addr: ip("198.51.100.9"), Scheme: "http", Host: "h", Proxied: true}},
		{name: "proto and host without an address", remote: "10.0.0.1:1", host: "h",
			hdr:  map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"call.example.org"}},
			want: Info{Addr: ip("10.0.0.1"), Port: 1, Scheme: "https", Host: "call.example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr, req.Host = tt.remote, tt.host
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tt.hdr {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if got := r.Resolve(req); got != tt.want {
				t.Errorf("Resolve = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	tests := map[string]string{
		"198.51.100.9":           "198.51.100.9",
		"::ffff:198.51.100.9":    "198.51.100.9",
		"2001:db8:1:2:aaaa::1":   "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::999": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":        "2001:db8:1:3::/64",
	}
	for in, want := range tests {
		if got := Key(ip(in)); got != want {
			t.Errorf("Key(%s) = %q, want %q", in, got, want)
		}
	}
	if Key(netip.Addr{}) != "" {
		t.Error("Key of no address is not empty")
	}
}

func TestHeadersAreBounded(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.0.0.1:1"
	// The client writes thousands of trusted-looking addresses to the left
	// of its own; only the last maxHops are read, so the answer is the
	// left-most of those, not an address of the client's choosing far left.
	req.Header.Set("X-Forwarded-For", "6.6.6.6, "+strings.Repeat("10.0.0.2, ", 5000)+"10.0.0.3")
	got := r.Resolve(req)
	if got.Addr != ip("10.0.0.2") {
		t.Fatalf("Addr = %v, want 10.0.0.2", got.Addr)
	}
	req.Host = strings.Repeat("a", 10000)
	if got := r.Resolve(req); len(got.Host) != MaxHost {
		t.Fatalf("Host kept %d bytes, want %d", len(got.Host), MaxHost)
	}
}

func TestHandlerAndFrom(t *testing.T) {
	r := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	var got Info
	h := r.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { got = From(req) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.Addr != ip("198.51.100.9") || !got.Proxied {
		t.Fatalf("From = %+v, want the forwarded client", got)
	}
	// Without the handler nothing is trusted.
	if info := From(req); info.Addr != ip("127.0.0.1") || info.Proxied {
		t.Fatalf("From without Handler = %+v, want the TCP peer", info)
	}
}

func TestParsePrefixesRefusesJunk(t *testing.T) {
	if _, err := ParsePrefixes("10.0.0.0/8,nonsense"); err == nil {
		t.Fatal("want an error for nonsense")
	}
	p, err := ParsePrefixes(" 10.1.2.3/8 , 2001:db8::1 ")
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "2001:db8::1/128" {
		t.Fatalf("got %v, %v", p, err)
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s).Unmap() }

func TestLimiterPerKeyAndBounded(t *testing.T) {
	l := NewLimiter(1, 2, 3)
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if got := l.AllowAt("a", now); got != want {
			t.Fatalf("a #%d = %v, want %v", i, got, want)
		}
	}
	if !l.AllowAt("b", now) {
		t.Fatal("b is limited by a's use")
	}
	l.AllowAt("c", now)
	if l.AllowAt("d", now) {
		t.Fatal("a fourth key was tracked beyond maxKeys")
	}
	// After the buckets have refilled, idle keys are forgotten.
	later := now.Add(3 * time.Second)
	if !l.AllowAt("d", later) {
		t.Fatal("d still refused after the others went idle")
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("tracking %d keys after the sweep, want 1", n)
	}
}
