package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// fileCert is a certificate and key read from PEM files, read again on
// Reload and whenever a poll sees either file change.
type fileCert struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serialises loads; guards seen
	seen [2]os.FileInfo
}

// load reads both files, keeping what it read only if the pair is good.
// why says what asked for it ("start", "SIGHUP", "file change"), for the log.
func (f *fileCert) load(why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The stamps are taken before reading, so a change made while we read
	// shows up as a difference at the next poll and is read then.
	f.seen = f.stamps()
	cert, err := readPair(f.certFile, f.keyFile, time.Now())
	if err != nil {
		if f.cur.Load() != nil {
			f.log.Error("certificate files not reloaded; still serving the previous certificate", "why", why, "err", err)
		}
		return err
	}
	old := f.cur.Swap(cert)
	leaf := cert.Leaf
	switch {
	case old == nil:
		f.log.Info("TLS certificate loaded", "file", f.certFile, "names", leaf.DNSNames, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC())
	case !sameCert(old, cert):
		f.log.Info("TLS certificate reloaded", "why", why, "file", f.certFile, "names", leaf.DNSNames, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC())
	default:
		f.log.Info("TLS certificate files read again; the certificate is unchanged", "why", why, "file", f.certFile)
	}
	return nil
}

// readPair loads and checks a certificate and key: they must match, and the
// certificate must be valid now, so a half-written or stale file never
// replaces a good certificate.
func readPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("load TLS certificate %s: %w", certFile, err)
		}
	}
	if now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("TLS certificate %s expired at %s", certFile, cert.Leaf.NotAfter.UTC())
	}
	if now.Before(cert.Leaf.NotBefore) {
		return nil, fmt.Errorf("TLS certificate %s is not valid before %s", certFile, cert.Leaf.NotBefore.UTC())
	}
	return &cert, nil
}

func sameCert(a, b *tls.Certificate) bool {
	return a.Leaf != nil && b.Leaf != nil && a.Leaf.Equal(b.Leaf)
}

// stamps stats both files, following symlinks: certbot renews by pointing
// live/…/fullchain.pem at a new archive file, which is another inode even
// when its size and time match the old one.
func (f *fileCert) stamps() [2]os.FileInfo {
	var s [2]os.FileInfo
	for i, name := range []string{f.certFile, f.keyFile} {
		s[i], _ = os.Stat(name)
	}
	return s
}

// changed reports whether either file differs from what the last load saw.
// A file that cannot be stat'ed now (in the middle of being replaced) is
// not a change yet.
func (f *fileCert) changed() bool {
	now := f.stamps()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range now {
		if now[i] == nil {
			return false
		}
	}
	for i := range now {
		old := f.seen[i]
		if old == nil || !os.SameFile(old, now[i]) || !old.ModTime().Equal(now[i].ModTime()) || old.Size() != now[i].Size() {
			return true
		}
	}
	return false
}

// watch polls the files every interval until ctx ends.
func (f *fileCert) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f.changed() {
				f.load("file change") // an error is logged; the old certificate stays
			}
		}
	}
}

func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := f.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no certificate loaded")
}
