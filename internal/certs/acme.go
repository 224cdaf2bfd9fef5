package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// LetsEncrypt is the directory of Let's Encrypt's production CA, the
// default --acme-ca.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// ACMEConfig is what automatic certificates need.
type ACMEConfig struct {
	// Domains are the names to get one certificate for; the first is the
	// one served to a client that sends no server name.
	Domains []string
	Email   string // account contact; optional
	// CA is the ACME directory URL; empty means LetsEncrypt.
	CA string
	// CARoots, when set, are the roots trusted for the CA's own HTTPS
	// (a private CA, Pebble in tests); nil means the system's.
	CARoots *x509.CertPool
	// CacheDir keeps the account key and the certificates, so a restart
	// does not ask the CA again. Required.
	CacheDir string
	// HTTP01 and TLSALPN01 say which challenges may be used. HTTP-01 is
	// also off when Start gets no plain-HTTP address.
	HTTP01, TLSALPN01 bool
	// RenewCheck is how often certificates are checked for renewal;
	// 0 means certmagic's default (10 minutes).
	RenewCheck time.Duration
	Logger     *slog.Logger
}

// acmeCert gets and renews certificates with certmagic (why certmagic and
// not autocert: docs/architecture.md, "Certificates").
type acmeCert struct {
	cfg ACMEConfig
	log *slog.Logger

	magic  atomic.Pointer[certmagic.Config] // nil until start
	issuer atomic.Pointer[certmagic.ACMEIssuer]
	cache  *certmagic.Cache
}

func newACME(cfg ACMEConfig) (*acmeCert, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("acme: no domain")
	}
	cfg.Domains = slices.Clone(cfg.Domains)
	for i, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		switch {
		case strings.Contains(d, "*"):
			return nil, fmt.Errorf("acme: %q: wildcard names need the DNS-01 challenge, which duet does not do", d)
		case net.ParseIP(d) != nil:
			return nil, fmt.Errorf("acme: %q: an IP address, not a domain name", d)
		case !certmagic.SubjectQualifiesForCert(d) || !strings.Contains(d, "."):
			return nil, fmt.Errorf("acme: %q is not a domain name a CA can issue for", d)
		}
		cfg.Domains[i] = d
	}
	if !cfg.HTTP01 && !cfg.TLSALPN01 {
		return nil, errors.New("acme: no challenge type allowed")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("acme: no cache directory")
	}
	if cfg.CA == "" {
		cfg.CA = LetsEncrypt
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache: %w", err)
	}
	return &acmeCert{cfg: cfg, log: cfg.Logger}, nil
}

// start builds certmagic's config for the listeners that are now open and
// begins obtaining in the background (certmagic retries with backoff for
// up to 30 days, and renews from then on). https is where TLS-ALPN-01
// arrives; http, if not nil, where HTTP-01 does.
func (a *acmeCert) start(ctx context.Context, https, plain net.Addr) error {
	host, tlsPort, err := hostPort(https)
	if err != nil {
		return fmt.Errorf("acme: HTTPS address: %w", err)
	}
	httpPort := 0
	if plain != nil {
		if _, httpPort, err = hostPort(plain); err != nil {
			return fmt.Errorf("acme: HTTP address: %w", err)
		}
	}
	http01 := a.cfg.HTTP01 && plain != nil
	if !http01 && !a.cfg.TLSALPN01 {
		return errors.New("acme: HTTP-01 is the only challenge allowed, and no plain HTTP listener answers it")
	}
	zl := zapLogger(a.log)
	var magic *certmagic.Config
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		RenewCheckInterval: a.cfg.RenewCheck,
		Logger:             zl,
	})
	magic = certmagic.New(a.cache, certmagic.Config{
		Storage:           &certmagic.FileStorage{Path: a.cfg.CacheDir},
		DefaultServerName: a.cfg.Domains[0],
		OnEvent:           a.event,
		Logger:            zl,
	})
	// The solvers try to listen on these addresses and, finding them
	// taken by duet's own listeners, leave the answers to them: TLS-ALPN
	// through GetCertificate, HTTP-01 through the handler.
	issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      a.cfg.CA,
		Email:                   a.cfg.Email,
		Agreed:                  true,
		TrustedRoots:            a.cfg.CARoots,
		DisableHTTPChallenge:    !http01,
		DisableTLSALPNChallenge: !a.cfg.TLSALPN01,
		ListenHost:              host,
		AltTLSALPNPort:          tlsPort,
		AltHTTPPort:             httpPort,
		Logger:                  zl,
	})
	magic.Issuers = []certmagic.Issuer{issuer}
	a.issuer.Store(issuer)
	a.magic.Store(magic)
	a.log.Info("ACME: managing certificates; they are obtained in the background and TLS handshakes fail until then",
		"domains", a.cfg.Domains, "ca", a.cfg.CA, "cache", a.cfg.CacheDir, "tls-alpn-01", a.cfg.TLSALPN01, "http-01", http01)
	if err := magic.ManageAsync(ctx, a.cfg.Domains); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	return nil
}

// stop ends certmagic's maintenance, waiting for a renewal in progress
// until ctx ends. The obtain retries end with the context given to start.
func (a *acmeCert) stop(ctx context.Context) error {
	if a.cache == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { a.cache.Stop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("acme: certificate maintenance still running: %w", ctx.Err())
	}
}

func (a *acmeCert) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	magic := a.magic.Load()
	if magic == nil {
		return nil, errors.New("acme: not started")
	}
	return magic.GetCertificate(hello)
}

// handleHTTP answers HTTP-01 challenges; it reports whether it did.
func (a *acmeCert) handleHTTP(w http.ResponseWriter, r *http.Request) bool {
	iss := a.issuer.Load()
	return iss != nil && iss.HandleHTTPChallenge(w, r)
}

// event turns certmagic's events into duet's own log lines, which say what
// happens in words an operator looks for.
func (a *acmeCert) event(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtaining":
		a.log.Info("ACME: asking the CA for a certificate", "name", data["identifier"], "renewal", data["renewal"] == true)
	case "cert_obtained":
		a.log.Info("ACME: certificate obtained", "name", data["identifier"], "renewal", data["renewal"] == true, "issuer", data["issuer"])
	case "cert_failed":
		err := data["error"]
		var p acme.Problem
		if e, ok := err.(error); ok && errors.As(e, &p) {
			err = p.Error()
		}
		a.log.Error("ACME: could not get a certificate; certmagic retries with backoff", "name", data["identifier"], "renewal", data["renewal"] == true, "err", err)
	}
	return nil
}

// hostPort splits a listener's address.
func hostPort(a net.Addr) (string, int, error) {
	if t, ok := a.(*net.TCPAddr); ok {
		host := ""
		if !t.IP.IsUnspecified() {
			host = t.IP.String()
		}
		return host, t.Port, nil
	}
	return "", 0, fmt.Errorf("%v is not a TCP address", a)
}
