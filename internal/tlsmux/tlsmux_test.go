package tlsmux_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/testca"
	"github.com/duet-call/duet/internal/tlsmux"
	"github.com/duet-call/duet/internal/turncred"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/pion/turn/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pki is a test CA (internal/testca) for the port's certificates.
type pki struct {
	ca   *testca.CA
	pool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, pool: ca.Pool()}
}

// issue makes a certificate for localhost and 127.0.0.1.
func (p *pki) issue(t *testing.T) *tls.Certificate {
	t.Helper()
	leaf, err := p.ca.Leaf(t.TempDir(), "", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &leaf.TLS
}

// serialOf is the serial number of c's leaf.
func serialOf(t *testing.T, c *tls.Certificate) *big.Int {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber
}

// port is one shared HTTPS port: a real net/http server and a real TURN
// server behind a tlsmux.Listener. cert is what GetCertificate serves, and
// may be swapped at any time, as a certificate reload would.
type port struct {
	addr string
	pki  *pki
	cert atomic.Pointer[tls.Certificate]
	turn *turnserver.Server
	http *http.Server
}

const secret = "tlsmux-test"

func startPort(t *testing.T, timeout time.Duration) *port {
	t.Helper()
	p := &port{pki: newPKI(t)}
	p.cert.Store(p.pki.issue(t))
	lo := netip.MustParseAddr("127.0.0.1")
	ts, err := turnserver.New(turnserver.Config{Addr: "127.0.0.1:0", PublicIP: lo, RelayBind: lo, Secret: secret, ReadLoops: 1,
		MinPort: 40000, MaxPort: 44999, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.turn = ts
	cfg := &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.cert.Load(), nil },
		NextProtos:     []string{"h2", "http/1.1", "acme-tls/1"},
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = inner.Addr().String()
	ln := tlsmux.New(inner, tlsmux.Config{TLS: cfg, TURN: ts.ServeConn, HandshakeTimeout: timeout,
		Log: slog.New(slog.DiscardHandler)})
	p.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "proto=%s tls=%v", r.Proto, r.TLS != nil)
		}),
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = p.http.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.http.Shutdown(ctx)
		<-served
		_ = ts.Shutdown(ctx)
	})
	return p
}

func (p *port) clientTLS(alpn ...string) *tls.Config {
	return &tls.Config{ServerName: "localhost", RootCAs: p.pki.pool, NextProtos: alpn}
}

// get fetches / over a client with the given ALPN protocols (none: no
// ALPN extension at all) and returns the body.
func (p *port) get(t *testing.T, alpn ...string) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: p.clientTLS(alpn...), ForceAttemptHTTP2: len(alpn) > 0 && alpn[0] == "h2"}
	if len(alpn) == 0 {
		// net/http would offer http/1.1 by itself; dial so that the
		// ClientHello carries no ALPN extension, as curl --no-alpn does.
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d tls.Dialer
			d.Config = p.clientTLS()
			c, err := d.DialContext(ctx, network, addr)
			if err == nil && c.(*tls.Conn).ConnectionState().NegotiatedProtocol != "" {
				c.Close()
				return nil, fmt.Errorf("negotiated ALPN %q without offering any", c.(*tls.Conn).ConnectionState().NegotiatedProtocol)
			}
			return c, err
		}
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + p.addr + "/")
	if err != nil {
		t.Fatalf("GET with ALPN %v: %v", alpn, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// HTTP through the shared port, with each kind of client: r.TLS is set in
// every case (for the peeked, no-ALPN case because net/http reads any
// connection's ConnectionState; a *Conn without that method fails here) and
// HTTP/2 works where ALPN asked for it.
func TestHTTP(t *testing.T) {
	p := startPort(t, 5*time.Second)
	tests := []struct {
		name string
		alpn []string
		want string
	}{
		{"h2", []string{"h2", "http/1.1"}, "proto=HTTP/2.0 tls=true"},
		{"http/1.1", []string{"http/1.1"}, "proto=HTTP/1.1 tls=true"},
		{"no ALPN (first bytes decide)", nil, "proto=HTTP/1.1 tls=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.get(t, tc.alpn...); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// turnClient allocates through the shared port over TLS with a real pion
// client and relays a datagram to an echo peer and back.
func turnClient(t *testing.T, p *port, alpn ...string) {
	t.Helper()
	tc, err := tls.Dial("tcp", p.addr, p.clientTLS(alpn...))
	if err != nil {
		t.Fatalf("TLS dial (ALPN %v): %v", alpn, err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().NegotiatedProtocol; len(alpn) > 0 && got != tlsmux.ALPNTURN {
		t.Fatalf("negotiated %q, want %q", got, tlsmux.ALPNTURN)
	}
	user, pass, err := turncred.Mint([]byte(secret), "u", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: p.addr, TURNServerAddr: p.addr, Conn: turn.NewSTUNConn(tc),
		Username: user, Password: pass, Realm: turnserver.DefaultRealm})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate through the HTTPS port (ALPN %v): %v", alpn, err)
	}
	defer relay.Close()

	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = peer.WriteTo(buf[:n], from)
		}
	}()
	buf := make([]byte, 1500)
	for try := 0; ; try++ {
		if _, err := relay.WriteTo([]byte("over 443"), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := relay.ReadFrom(buf)
		if err == nil && string(buf[:n]) == "over 443" {
			return
		}
		if try == 20 {
			t.Fatalf("no echo through the relay: %v", err)
		}
	}
}

// TURN through the shared port, with and without ALPN, between HTTP
// requests on the same port.
func TestTURN(t *testing.T) {
	p := startPort(t, 5*time.Second)
	turnClient(t, p)                  // what browsers and pion send: no ALPN
	turnClient(t, p, tlsmux.ALPNTURN) // RFC 7443
	if got := p.get(t); got != "proto=HTTP/1.1 tls=true" {
		t.Fatalf("HTTP after TURN: %q", got)
	}
	if n := p.turn.Stats().AllocationsCreated; n != 2 {
		t.Fatalf("the TURN server made %d allocations, want 2", n)
	}
}

// A TLS-ALPN-01 check (ALPN acme-tls/1 only) completes its handshake on the
// shared port, with the hello reaching the configured certificate source.
func TestACMEALPN(t *testing.T) {
	p := startPort(t, 5*time.Second)
	tc, err := tls.Dial("tcp", p.addr, p.clientTLS("acme-tls/1"))
	if err != nil {
		t.Fatalf("acme-tls/1 handshake: %v", err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().NegotiatedProtocol; got != "acme-tls/1" {
		t.Fatalf("negotiated %q", got)
	}
}

// A client that never completes its handshake, or never sends a byte
// after it, does not hold up others and is closed at the deadline.
func TestStalledClients(t *testing.T) {
	p := startPort(t, 300*time.Millisecond)
	silent, err := net.Dial("tcp", p.addr) // no ClientHello
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	mute, err := tls.Dial("tcp", p.addr, p.clientTLS()) // handshake, then nothing
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if got := p.get(t); got != "proto=HTTP/1.1 tls=true" {
		t.Fatalf("HTTP beside stalled clients: %q", got)
	}
	for name, c := range map[string]net.Conn{"no handshake": silent, "no bytes": mute} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errorsAs(err, &ne) && ne.Timeout()) {
			t.Errorf("%s: still open after the handshake deadline (%v)", name, err)
		}
	}
}

// A certificate swapped behind GetCertificate is served to the next HTTP
// and TURN clients alike: nothing copied it out.
func TestCertificateReload(t *testing.T) {
	p := startPort(t, 5*time.Second)
	serial := func(alpn ...string) *big.Int {
		tc, err := tls.Dial("tcp", p.addr, p.clientTLS(alpn...))
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].SerialNumber
	}
	first := serialOf(t, p.cert.Load())
	if a, b := serial("h2"), serial(tlsmux.ALPNTURN); a.Cmp(first) != 0 || b.Cmp(first) != 0 {
		t.Fatalf("serials %v, %v before the reload, want %v", a, b, first)
	}
	next := p.pki.issue(t)
	p.cert.Store(next)
	want := serialOf(t, next)
	if a, b, c := serial("h2"), serial(tlsmux.ALPNTURN), serial(); a.Cmp(want) != 0 || b.Cmp(want) != 0 || c.Cmp(want) != 0 {
		t.Fatalf("serials %v, %v, %v after the reload, want %v", a, b, c, want)
	}
}
