// Package acmetest runs a real ACME CA for tests: Let's Encrypt's Pebble,
// in-process on loopback, with a DNS server that resolves every name to
// 127.0.0.1 so that Pebble's validation authority reaches the server under
// test. Nothing leaves the machine.
package acmetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Options says where Pebble validates and what it issues.
type Options struct {
	// HTTPPort and TLSPort are where the validation authority connects,
	// on 127.0.0.1, for HTTP-01 and TLS-ALPN-01.
	HTTPPort, TLSPort int
	// Validity of issued certificates; 0 is Pebble's default (90 days).
	Validity time.Duration
}

// CA is a running Pebble.
type CA struct {
	// DirectoryURL is the ACME directory, over HTTPS.
	DirectoryURL string
	// ServerRoots trusts the directory's own HTTPS certificate;
	// ServerRootsFile holds the same in PEM.
	ServerRoots     *x509.CertPool
	ServerRootsFile string
	// IssuedRoots trusts the certificates Pebble issues.
	IssuedRoots *x509.CertPool
}

// Start runs Pebble (and its DNS) until the test ends. It sets the
// environment that makes Pebble quick and deterministic: no random sleep
// before validating, no random bad-nonce rejections.
func Start(t testing.TB, o Options) *CA {
	t.Helper()
	// Read by va.New and wfe.New below.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0") // every order is validated again

	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", logs)
		}
	})
	logger := log.New(logs, "pebble ", log.Lmicroseconds)

	resolver := startDNS(t)
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(o.Validity / time.Second)}}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, o.HTTPPort, o.TLSPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)

	c := &CA{DirectoryURL: srv.URL + wfe.DirectoryPath, ServerRoots: x509.NewCertPool(), IssuedRoots: x509.NewCertPool()}
	c.ServerRoots.AddCert(srv.Certificate())
	c.IssuedRoots.AddCert(authority.GetRootCert(0).Cert)
	c.ServerRootsFile = filepath.Join(t.TempDir(), "pebble-server-root.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(c.ServerRootsFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// startDNS serves A 127.0.0.1 for every name (and no other records) over
// TCP, which is how Pebble's validation authority asks.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

// Client is an HTTP client that trusts what Pebble issues and dials every
// name on 127.0.0.1 (the test's DNS), so https://name:port/ reaches the
// server under test with the right server name.
func (c *CA) Client() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   tlsTrusting(c.IssuedRoots),
			DisableKeepAlives: true, // every request a new handshake
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				var d net.Dialer
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ServedCert does a TLS handshake with addr asking for name, trusting only
// what Pebble issues, and returns the certificate the server presented.
func (c *CA) ServedCert(addr, name string) (*x509.Certificate, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: tlsTrusting(c.IssuedRoots)}
	d.Config.ServerName = name
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS to %s as %s: %w", addr, name, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func tlsTrusting(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
