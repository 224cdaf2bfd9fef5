package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/certs"
	"github.com/duet-call/duet/internal/server"
)

// tlsFlags are duet serve's certificate flags: files, self-signed or ACME,
// and what goes with HTTPS (the port-80 redirect, HSTS).
type tlsFlags struct {
	cert, key  string
	selfSigned bool
	watch      time.Duration

	acmeDomains, acmeEmail, acmeCA, acmeCARoot, acmeCache, acmeChallenges string

	httpAddr   string
	hstsMaxAge time.Duration
}

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	f := &tlsFlags{}
	fs.StringVar(&f.cert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key); read again on SIGHUP and when the file changes")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&f.selfSigned, "tls-self-signed", false, "serve HTTPS with a certificate made at start for this machine's addresses (its fingerprint is logged)")
	fs.DurationVar(&f.watch, "tls-watch", 5*time.Second, "how often to check --tls-cert/--tls-key for changes (0: only on SIGHUP)")
	fs.StringVar(&f.acmeDomains, "acme-domain", "", "comma-separated domain names to get a certificate for over ACME (Let's Encrypt by default); serves HTTPS on :443 and HTTP-01/redirects on :80")
	fs.StringVar(&f.acmeEmail, "acme-email", "", "contact address for the ACME account (expiry warnings from the CA)")
	fs.StringVar(&f.acmeCA, "acme-ca", certs.LetsEncrypt, "ACME directory URL")
	fs.StringVar(&f.acmeCARoot, "acme-ca-root", "", "PEM file of roots to trust for the ACME directory's own HTTPS, for a private CA (default: the system's)")
	fs.StringVar(&f.acmeCache, "acme-cache", "", "directory for the ACME account and certificates (default: $STATE_DIRECTORY/acme under systemd, else the user config dir's duet/acme)")
	fs.StringVar(&f.acmeChallenges, "acme-challenges", "tls-alpn-01,http-01", "ACME challenges to allow: tls-alpn-01 (on the HTTPS port), http-01 (on --http-addr)")
	fs.StringVar(&f.httpAddr, "http-addr", "", `plain-HTTP address that answers ACME HTTP-01 and redirects everything else to HTTPS (default ":80" with --acme-domain, else off; "" turns it off)`)
	fs.DurationVar(&f.hstsMaxAge, "hsts-max-age", 365*24*time.Hour, "Strict-Transport-Security max-age on HTTPS responses with --acme-domain or --tls-cert (0: no HSTS; never sent with --tls-self-signed)")
	return f
}

// tlsRun is the certificate side of a running server.
type tlsRun struct {
	m           *certs.Manager
	httpAddr    string
	domains     []string
	fingerprint string // of a self-signed certificate
	log         *slog.Logger
	plain       *certs.PlainServer
}

// setup checks the flags and, when they ask for TLS, fills cfg.TLS, the
// default address and HSTS. It returns nil when duet serves plain HTTP.
func (f *tlsFlags) setup(fs *flag.FlagSet, cfg *server.Config, log *slog.Logger) (*tlsRun, error) {
	modes := 0
	for _, on := range []bool{f.selfSigned, f.cert != "", f.acmeDomains != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return nil, errors.New("--acme-domain, --tls-cert and --tls-self-signed exclude each other")
	}
	if (f.cert == "") != (f.key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if modes == 0 {
		if f.httpAddr != "" {
			return nil, errors.New("--http-addr redirects to HTTPS; it needs --acme-domain, --tls-cert or --tls-self-signed")
		}
		return nil, nil
	}
	log = log.With("part", "tls")
	t := &tlsRun{httpAddr: f.httpAddr, log: log}
	defaultAddr, hsts := ":8443", f.hstsMaxAge
	var err error
	switch {
	case f.selfSigned:
		// No HSTS: the certificate is new at every start, and a browser
		// that had pinned HSTS to it could not click through the next one.
		if flagSet(fs, "hsts-max-age") && f.hstsMaxAge > 0 {
			return nil, errors.New("--hsts-max-age: no HSTS with --tls-self-signed (a new certificate at each start would lock browsers out)")
		}
		hsts = 0
		made, fp, err := server.SelfSignedTLS(time.Now())
		if err != nil {
			return nil, err
		}
		t.m, t.fingerprint = certs.Static(made.Certificates[0], log), fp
	case f.cert != "":
		if t.m, err = certs.Files(f.cert, f.key, f.watch, log); err != nil {
			return nil, err
		}
	default:
		if t.m, err = f.acme(log); err != nil {
			return nil, err
		}
		t.domains = strings.Split(f.acmeDomains, ",")
		defaultAddr = ":443"
		if !flagSet(fs, "http-addr") {
			t.httpAddr = ":80"
		}
	}
	if !flagSet(fs, "addr") {
		cfg.Addr = defaultAddr
	}
	cfg.TLS = t.m.TLSConfig()
	cfg.Wrap = certs.HSTS(hsts)
	return t, nil
}

// acme builds the ACME manager from the flags.
func (f *tlsFlags) acme(log *slog.Logger) (*certs.Manager, error) {
	c := certs.ACMEConfig{Email: f.acmeEmail, CA: f.acmeCA, CacheDir: f.acmeCache, Logger: log}
	for _, d := range strings.Split(f.acmeDomains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.Domains = append(c.Domains, d)
		}
	}
	for _, ch := range strings.Split(f.acmeChallenges, ",") {
		switch strings.TrimSpace(ch) {
		case "tls-alpn-01":
			c.TLSALPN01 = true
		case "http-01":
			c.HTTP01 = true
		case "":
		default:
			return nil, fmt.Errorf("--acme-challenges: %q is not tls-alpn-01 or http-01", ch)
		}
	}
	if c.CacheDir == "" {
		dir, err := stateDir()
		if err != nil {
			return nil, fmt.Errorf("--acme-cache: %w", err)
		}
		c.CacheDir = filepath.Join(dir, "acme")
	}
	if f.acmeCARoot != "" {
		b, err := os.ReadFile(f.acmeCARoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		c.CARoots = x509.NewCertPool()
		if !c.CARoots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", f.acmeCARoot)
		}
	}
	return certs.ACME(c)
}

// start runs, once the HTTPS listener is open at https, the port-80
// server (if any) and the certificate's background work.
func (t *tlsRun) start(ctx context.Context, https net.Addr) error {
	if t == nil {
		return nil
	}
	var plain net.Addr
	if t.httpAddr != "" {
		_, port, err := net.SplitHostPort(https.String())
		if err != nil {
			return err
		}
		p, _ := strconv.Atoi(port)
		if t.plain, err = certs.ListenPlain(ctx, t.httpAddr, t.m.HTTPHandler(certs.RedirectHandler(p)), t.log); err != nil {
			return err
		}
		plain = t.plain.Addr()
		t.log.Info("plain HTTP answers ACME challenges and redirects to HTTPS", "addr", plain)
	}
	if t.fingerprint != "" {
		t.log.Info("self-signed TLS certificate: check this fingerprint before accepting it", "sha256", t.fingerprint)
	}
	return t.m.Start(https, plain)
}

// reload is SIGHUP's work: certificate files are read again.
func (t *tlsRun) reload(log *slog.Logger) {
	if t == nil {
		log.Info("SIGHUP: nothing to reload (no TLS certificate)")
		return
	}
	log.Info("SIGHUP: reloading the TLS certificate")
	t.m.Reload() // logs what it did, or why the old certificate stays
}

// openURL is the address a person opens: the first ACME domain, else the
// listener's own.
func (t *tlsRun) openURL(listen string) string {
	if t == nil || len(t.domains) == 0 {
		return browserURL(listen)
	}
	host := strings.TrimSpace(t.domains[0])
	if i := strings.LastIndex(listen, ":"); i >= 0 && listen[i+1:] != "443" {
		host = net.JoinHostPort(host, listen[i+1:])
	}
	return "https://" + host
}

// stop ends the port-80 server and the certificate's background work.
func (t *tlsRun) stop(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var err error
	if t.plain != nil {
		err = t.plain.Shutdown(ctx)
	}
	return errors.Join(err, t.m.Close(ctx))
}

// stateDir is where duet keeps what must survive a restart (the resume
// secret, the ACME account and certificates): systemd's StateDirectory
// when it runs duet as a service, else the user config dir's duet/.
func stateDir() (string, error) {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return strings.Split(d, ":")[0], nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "duet"), nil
}
