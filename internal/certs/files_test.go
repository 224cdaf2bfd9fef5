package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// pemPair is a certificate for localhost and its key, in PEM.
type pemPair struct {
	cert, key []byte
	serial    string
}

// makePair makes a self-signed certificate with this serial, valid from
// notBefore to notAfter.
func makePair(t *testing.T, serial int64, notBefore, notAfter time.Time) pemPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemPair{
		cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		serial: big.NewInt(serial).String(),
	}
}

func validPair(t *testing.T, serial int64) pemPair {
	return makePair(t, serial, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedSerial does a TLS handshake with addr and returns the serial of
// the certificate it presents.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// tlsListeners serves m's TLS config on two listeners, as HTTPS and TURN
// over TLS share it, and returns their addresses.
func tlsListeners(t *testing.T, m *Manager) []string {
	t.Helper()
	var addrs []string
	for range 2 {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", m.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					c.(*tls.Conn).Handshake()
					c.Close()
				}()
			}
		}()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// TestFilesReload: Reload (what SIGHUP calls) serves a new certificate on
// every listener sharing the config; a bad new pair is refused with an
// error and the previous certificate stays.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := validPair(t, 1)
	writeFile(t, certFile, first.cert)
	writeFile(t, keyFile, first.key)
	m, err := Files(certFile, keyFile, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addrs := tlsListeners(t, m)
	other := validPair(t, 99)
	now := time.Now()

	steps := []struct {
		name       string
		cert, key  []byte
		wantErr    bool
		wantSerial string
	}{
		{"garbage certificate", []byte("not a certificate"), first.key, true, "1"},
		{"key of another certificate", first.cert, other.key, true, "1"},
		{"expired", nil, nil, true, "1"}, // filled below
		{"not yet valid", nil, nil, true, "1"},
		{"a good new pair", nil, nil, false, "2"},
		{"empty files", []byte{}, []byte{}, true, "2"},
	}
	expired := makePair(t, 3, now.Add(-2*time.Hour), now.Add(-time.Hour))
	steps[2].cert, steps[2].key = expired.cert, expired.key
	future := makePair(t, 4, now.Add(time.Hour), now.Add(2*time.Hour))
	steps[3].cert, steps[3].key = future.cert, future.key
	second := validPair(t, 2)
	steps[4].cert, steps[4].key = second.cert, second.key

	for _, s := range steps {
		writeFile(t, certFile, s.cert)
		writeFile(t, keyFile, s.key)
		err := m.Reload()
		if (err != nil) != s.wantErr {
			t.Errorf("%s: Reload error %v, want error %v", s.name, err, s.wantErr)
		}
		for _, a := range addrs {
			if got := servedSerial(t, a); got != s.wantSerial {
				t.Errorf("%s: %s serves serial %s, want %s", s.name, a, got, s.wantSerial)
			}
		}
	}
}

// TestFilesWatch: without a signal, a poll sees the files change and the
// new certificate is served — also when, as certbot does, the change is a
// symlink pointed at a new file of the same size and time — and a bad
// change keeps the previous certificate.
func TestFilesWatch(t *testing.T) {
	dir := t.TempDir()
	archive, live := filepath.Join(dir, "archive"), filepath.Join(dir, "live")
	for _, d := range []string{archive, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	stamp := time.Now().Add(-time.Minute).Truncate(time.Second)
	// version writes archive/{cert,key}N.pem, all with one modification
	// time, and points live/{cert,key}.pem at them the way certbot does
	// (a new symlink renamed over the old).
	version := func(n int, p pemPair) {
		for _, f := range []struct {
			name string
			b    []byte
		}{{"cert", p.cert}, {"key", p.key}} {
			target := filepath.Join(archive, f.name+strconv.Itoa(n)+".pem")
			// Padded to one size, so only the inode tells versions apart.
			writeFile(t, target, append(f.b, bytes.Repeat([]byte("\n"), 4096-len(f.b))...))
			if err := os.Chtimes(target, stamp, stamp); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(live, f.name+".tmp")
			if err := os.Symlink(target, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(live, f.name+".pem")); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := validPair(t, 1)
	version(1, first)
	m, err := Files(filepath.Join(live, "cert.pem"), filepath.Join(live, "key.pem"), 20*time.Millisecond, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(t.Context()) })
	addrs := tlsListeners(t, m)

	second := validPair(t, 2)
	version(2, second)
	waitSerial(t, addrs, "2")

	// A bad renewal: the new cert file does not match the key. Polls
	// see it, refuse it, and the served certificate stays.
	bad := validPair(t, 3)
	version(3, pemPair{cert: bad.cert, key: second.key})
	for deadline := time.Now().Add(10 * time.Second); m.files.changed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watcher never looked at the bad pair")
		}
	}
	for _, a := range addrs {
		if got := servedSerial(t, a); got != "2" {
			t.Errorf("after a bad pair, %s serves serial %s, want 2", a, got)
		}
	}
	// The fix arrives: served.
	version(4, bad)
	waitSerial(t, addrs, "3")
}

func waitSerial(t *testing.T, addrs []string, want string) {
	t.Helper()
	for _, a := range addrs {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := servedSerial(t, a)
			if got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still serves serial %s, want %s", a, got, want)
			}
		}
	}
}
