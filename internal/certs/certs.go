// Package certs gives duet's TLS listeners their certificate: one made at
// start (--tls-self-signed), one read from files and read again on SIGHUP
// or when the files change (--tls-cert), or one obtained and renewed over
// ACME (--acme-domain). Every listener built on Manager.TLSConfig — HTTPS,
// TURN over TLS — asks for the certificate at each handshake, so a new one
// is served on new connections without a restart; connections already open
// keep theirs.
//
// It also holds what goes with HTTPS on the HTTP side: HSTS on TLS
// responses and the port-80 server that answers ACME HTTP-01 and redirects
// everything else to HTTPS.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Manager owns the certificate of every TLS listener of one process.
type Manager struct {
	log    *slog.Logger
	tls    *tls.Config
	static *tls.Certificate
	files  *fileCert
	acme   *acmeCert
	watch  time.Duration

	mu      sync.Mutex // guards started, cancel
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Static serves one certificate that never changes (--tls-self-signed).
func Static(cert tls.Certificate, log *slog.Logger) *Manager {
	m := newManager(log)
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	m.static = &cert
	return m
}

// Files serves the certificate and key in these PEM files. Reload reads
// them again; after Start they are also polled every watch (0: never) and
// read again when either changes. A pair that does not load, does not
// match, or is not valid now keeps the previous certificate.
func Files(certFile, keyFile string, watch time.Duration, log *slog.Logger) (*Manager, error) {
	m := newManager(log)
	m.files = &fileCert{certFile: certFile, keyFile: keyFile, log: m.log}
	m.watch = watch
	if err := m.files.load("start"); err != nil {
		return nil, err
	}
	return m, nil
}

// ACME gets certificates for cfg.Domains from an ACME CA and renews them.
// Nothing is asked of the CA before Start.
func ACME(cfg ACMEConfig) (*Manager, error) {
	m := newManager(cfg.Logger)
	cfg.Logger = m.log
	a, err := newACME(cfg)
	if err != nil {
		return nil, err
	}
	m.acme = a
	m.tls.NextProtos = append(m.tls.NextProtos, "acme-tls/1") // TLS-ALPN-01 (RFC 8737)
	return m, nil
}

func newManager(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{log: log}
	m.tls = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.getCertificate,
		// HTTP/1.1 only, as before: signaling upgrades to WebSocket by
		// hijacking an HTTP/1.1 connection.
		NextProtos: []string{"http/1.1"},
	}
	return m
}

// TLSConfig is the one config every TLS listener of the process shares;
// the same pointer on every call. A listener that needs other ALPN
// protocols clones it (Clone keeps GetCertificate).
func (m *Manager) TLSConfig() *tls.Config { return m.tls }

// ACME reports whether certificates come from an ACME CA.
func (m *Manager) ACME() bool { return m.acme != nil }

func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	switch {
	case m.acme != nil:
		return m.acme.get(hello)
	case m.files != nil:
		return m.files.get(hello)
	default:
		return m.static, nil
	}
}

// Certificate is the leaf served to a client asking for name (the first
// ACME domain if empty), or an error if there is none yet.
func (m *Manager) Certificate(name string) (*x509.Certificate, error) {
	c, err := m.getCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil {
		return nil, err
	}
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// HTTPHandler is what the plain-HTTP port serves: ACME HTTP-01 challenge
// answers when certificates come from ACME, next for everything else.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.acme == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.acme.handleHTTP(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// Reload reads certificate files again (what SIGHUP does). An error means
// the files were bad and the previous certificate is still served. For an
// ACME or self-signed certificate there is nothing to read, and it says so
// in the log.
func (m *Manager) Reload() error {
	switch {
	case m.files != nil:
		return m.files.load("SIGHUP")
	case m.acme != nil:
		m.log.Info("ACME certificates renew by themselves; nothing to reload")
	default:
		m.log.Info("the self-signed certificate is made at start; nothing to reload")
	}
	return nil
}

// Start begins the background work once the listeners are open: polling
// certificate files, or obtaining over ACME. https is the TLS listener's
// address (TLS-ALPN-01 arrives there); plain, which may be nil, the
// plain-HTTP one serving HTTPHandler (HTTP-01). It returns at once; the
// work stops with Close.
func (m *Manager) Start(https, plain net.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return errors.New("certs: started twice")
	}
	m.started = true
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	switch {
	case m.acme != nil:
		return m.acme.start(ctx, https, plain)
	case m.files != nil && m.watch > 0:
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.files.watch(ctx, m.watch)
		}()
	}
	return nil
}

// Close stops what Start began, waiting for it until ctx ends. Safe to
// call more than once, and without Start.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	cancel := m.cancel
	m.cancel = nil
	m.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	m.wg.Wait()
	if m.acme != nil {
		return m.acme.stop(ctx)
	}
	return nil
}
