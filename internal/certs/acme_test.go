package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/certs/acmetest"
)

const testDomain = "call.duet.test"

// acmeServer is a Manager for testDomain behind real HTTPS and plain-HTTP
// listeners on loopback, as duet serve wires it, with counters of the
// challenge requests that reached each.
type acmeServer struct {
	m          *Manager
	https      net.Listener
	plain      net.Listener
	alpnHellos atomic.Int32 // TLS-ALPN-01 handshakes answered
	httpChals  atomic.Int32 // HTTP-01 requests answered
}

func newACMEServer(t *testing.T, cfg func(*ACMEConfig), ca func(https, plain int) *acmetest.CA) (*acmeServer, *acmetest.CA) {
	t.Helper()
	s := &acmeServer{}
	var err error
	if s.https, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if s.plain, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	pebble := ca(port(s.https.Addr()), port(s.plain.Addr()))
	c := ACMEConfig{
		Domains:   []string{testDomain},
		CA:        pebble.DirectoryURL,
		CARoots:   pebble.ServerRoots,
		CacheDir:  t.TempDir(),
		HTTP01:    true,
		TLSALPN01: true,
		Logger:    testLogger(t),
	}
	cfg(&c)
	if s.m, err = ACME(c); err != nil {
		t.Fatal(err)
	}
	tc := s.m.TLSConfig().Clone()
	tc.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == "acme-tls/1" {
			s.alpnHellos.Add(1)
		}
		return s.m.TLSConfig().GetCertificate(h)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "duet") })
	serve(t, tls.NewListener(s.https, tc), app)
	serve(t, s.plain, s.m.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not a challenge", http.StatusNotFound)
	})), func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			s.httpChals.Add(1)
		}
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.m.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, pebble
}

// waitIssued polls until the HTTPS port serves a certificate that Pebble
// issued for testDomain.
func waitIssued(t *testing.T, ca *acmetest.CA, addr string) *tlsLeaf {
	t.Helper()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := ca.ServedCert(addr, testDomain)
		if err == nil {
			return &tlsLeaf{serial: c.SerialNumber.String(), names: c.DNSNames, notAfter: c.NotAfter}
		}
		last = err
	}
	t.Fatalf("no certificate issued by Pebble served on %s: %v", addr, last)
	return nil
}

type tlsLeaf struct {
	serial   string
	names    []string
	notAfter time.Time
}

// TestACMEIssues: Pebble issues a certificate over each challenge alone;
// the HTTPS port then serves it (verified against Pebble's root) for the
// domain. Before Start, a handshake fails at once rather than hangs.
func TestACMEIssues(t *testing.T) {
	for _, tc := range []struct {
		name            string
		http01, tlsALPN bool
	}{
		{"tls-alpn-01", false, true},
		{"http-01", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ca := newACMEServer(t, func(c *ACMEConfig) { c.HTTP01, c.TLSALPN01 = tc.http01, tc.tlsALPN },
				func(https, plain int) *acmetest.CA {
					return acmetest.Start(t, acmetest.Options{TLSPort: https, HTTPPort: plain})
				})
			addr := s.https.Addr().String()
			if _, err := ca.ServedCert(addr, testDomain); err == nil {
				t.Fatal("a certificate was served before ACME started")
			}
			if err := s.m.Start(s.https.Addr(), s.plain.Addr()); err != nil {
				t.Fatal(err)
			}
			leaf := waitIssued(t, ca, addr)
			if len(leaf.names) != 1 || leaf.names[0] != testDomain {
				t.Errorf("certificate names %v, want [%s]", leaf.names, testDomain)
			}
			alpn, chal := s.alpnHellos.Load(), s.httpChals.Load()
			t.Logf("TLS-ALPN-01 handshakes %d, HTTP-01 requests %d", alpn, chal)
			if tc.tlsALPN && (alpn == 0 || chal != 0) || tc.http01 && (chal == 0 || alpn != 0) {
				t.Errorf("validated with %d TLS-ALPN-01 handshakes and %d HTTP-01 requests, want only %s", alpn, chal, tc.name)
			}
		})
	}
}

// TestACMERenewsWithoutRestart: with Pebble's certificates valid for 10 s,
// the same listener serves a new certificate (another serial) on new
// connections before the first expires, and a connection opened before
// the renewal still works.
func TestACMERenewsWithoutRestart(t *testing.T) {
	s, ca := newACMEServer(t, func(c *ACMEConfig) { c.RenewCheck = time.Second },
		func(https, plain int) *acmetest.CA {
			return acmetest.Start(t, acmetest.Options{TLSPort: https, HTTPPort: plain, Validity: 10 * time.Second})
		})
	if err := s.m.Start(s.https.Addr(), s.plain.Addr()); err != nil {
		t.Fatal(err)
	}
	addr := s.https.Addr().String()
	first := waitIssued(t, ca, addr)
	hc := ca.Client()
	hc.Transport.(*http.Transport).DisableKeepAlives = false
	url := "https://" + net.JoinHostPort(testDomain, strconv.Itoa(port(s.https.Addr()))) + "/"
	get := func() (reused bool) {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return reused
	}
	get() // opens the connection kept across the renewal

	for deadline := time.Now().Add(first.notAfter.Sub(time.Now()) + 5*time.Second); ; time.Sleep(200 * time.Millisecond) {
		now := waitIssued(t, ca, addr)
		if now.serial != first.serial {
			t.Logf("renewed: serial %s → %s, %s before the first expired", first.serial, now.serial, time.Until(first.notAfter).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %s after it expired at %s", first.serial, first.notAfter)
		}
	}
	if !get() {
		t.Error("the connection opened before the renewal was not reused after it")
	}
}

func serve(t *testing.T, ln net.Listener, h http.Handler, observe ...func(*http.Request)) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, o := range observe {
			o(r)
		}
		h.ServeHTTP(w, r)
	}), ErrorLog: slogLog(t)}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

func port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// testLogger logs into a buffer that the test prints if it fails; not
// t.Log, since certmagic's goroutines may still log after the test ends.
func testLogger(t *testing.T) *slog.Logger {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b)
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func slogLog(t *testing.T) *log.Logger {
	return slog.NewLogLogger(testLogger(t).Handler(), slog.LevelDebug)
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
