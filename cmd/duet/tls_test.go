package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testCA signs certificates for 127.0.0.1, as a private CA would, and
// writes them where --tls-cert/--tls-key read them.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	roots *x509.CertPool
	dir   string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "duet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, roots: x509.NewCertPool(), dir: t.TempDir()}
	ca.roots.AddCert(cert)
	return ca
}

// issue writes a certificate for 127.0.0.1 with this serial and its key
// to cert.pem and key.pem in the CA's directory (the same names each
// time, replaced by rename as a deploy hook would) and returns their paths.
func (ca *testCA) issue(t *testing.T, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(ca.dir, "cert.pem"), filepath.Join(ca.dir, "key.pem")
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})},
	} {
		if err := os.WriteFile(f.name+".new", f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.name+".new", f.name); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// servedSerial opens a new TLS connection to addr, trusting roots, and
// returns the serial of the certificate served.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func waitServedSerial(t *testing.T, addr string, roots *x509.CertPool, want string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := servedSerial(t, addr, roots)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still serves serial %s, want %s", addr, got, want)
		}
	}
}

// freeAddr is a loopback address whose port was free a moment ago, for a
// child process that must be told its port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, p *duetProcess, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("duet never listened on %s (running %v); log:\n%s", addr, p.running(), p.log)
		}
	}
}

// wsPeer is one side of a call's signaling connection.
type wsPeer struct {
	t *testing.T
	c *websocket.Conn
}

func dialPeer(t *testing.T, addr string, roots *x509.CertPool, room string) *wsPeer {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{RootCAs: roots}}
	c, _, err := d.Dial("wss://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &wsPeer{t: t, c: c}
	p.send(`{"type":"join","v":1,"room":"` + room + `"}`)
	p.expect("joined")
	return p
}

func (p *wsPeer) send(msg string) {
	p.t.Helper()
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		p.t.Fatalf("send %s: %v", msg, err)
	}
}

// expect reads messages until one of type typ arrives.
func (p *wsPeer) expect(typ string) {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := p.c.ReadMessage()
		if err != nil {
			p.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if strings.Contains(string(b), `"type":"`+typ+`"`) {
			return
		}
	}
}

// TestServeReloadsCertificateFiles: duet serve --tls-cert, as the real
// binary, with two peers in a call on its signaling WebSocket. The files
// are replaced; SIGHUP (or, in the other case, the poll alone) makes new
// TLS connections get the new certificate, while the process and the
// call's connections stay up and still relay. SIGTERM still drains.
func TestServeReloadsCertificateFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		watch  string
		signal bool
	}{
		{"SIGHUP", "0", true},
		{"file change", "100ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			certFile, keyFile := ca.issue(t, 100)
			addr := freeAddr(t)
			p := startDuet(t, "serve", "--addr", addr, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-watch", tc.watch,
				"--lan", "--peerjs=false", "--resume-secret", strings.Repeat("cd", 32))
			waitListening(t, p, addr)
			if got := servedSerial(t, addr, ca.roots); got != "100" {
				t.Fatalf("serial %s at start, want 100", got)
			}
			a := dialPeer(t, addr, ca.roots, "reload-room")
			b := dialPeer(t, addr, ca.roots, "reload-room")
			a.expect("peer-joined")

			ca.issue(t, 101)
			if tc.signal {
				// Without polling nothing reads the files before the signal.
				if got := servedSerial(t, addr, ca.roots); got != "100" {
					t.Fatalf("serial %s before SIGHUP, want still 100", got)
				}
				p.hangUp(t, "TLS certificate reloaded")
			}
			waitServedSerial(t, addr, ca.roots, "101")
			if !p.running() {
				t.Fatalf("duet exited: %v", p.err)
			}
			// The call's connections, opened on the old certificate, relay.
			a.send(`{"type":"candidate","candidate":{"candidate":""}}`)
			b.expect("candidate")
			b.send(`{"type":"candidate","candidate":{"candidate":""}}`)
			a.expect("candidate")

			p.signal(t, syscall.SIGTERM)
			if code := p.waitExit(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}

// TestSIGHUPKeepsCommandsRunning: SIGHUP, which used to end every command
// at once, is logged and leaves serve, turn and peer running; SIGTERM
// still ends them cleanly.
func TestSIGHUPKeepsCommandsRunning(t *testing.T) {
	srv := startTestServer(t)
	addr := freeAddr(t)
	for _, tc := range []struct {
		name  string
		args  []string
		ready string
		hup   string
	}{
		{"serve", []string{"serve", "--addr", addr, "--lan", "--peerjs=false", "--resume-secret", strings.Repeat("cd", 32)},
			"duet is running", "SIGHUP: nothing to reload (no TLS certificate)"},
		{"turn", []string{"turn", "--turn-secret", "s3cret", "--turn-addr", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1"},
			"duet turn is running", "SIGHUP: nothing to reload"},
		{"peer", []string{"peer", "--server", srv.URL(), "--room", "hup-room"},
			"duet peer: joined room", "SIGHUP: nothing to reload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startDuet(t, tc.args...)
			waitOutput(t, "duet "+tc.name, p.log, tc.ready)
			p.hangUp(t, tc.hup)
			p.hangUp(t, tc.hup) // and again
			p.signal(t, syscall.SIGTERM)
			if code := p.waitExit(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0; log:\n%s", code, p.log)
			}
		})
	}
}

// TestServeHSTS: HSTS goes with HTTPS from a real certificate, never with
// plain HTTP or a self-signed certificate, and --hsts-max-age 0 turns it off.
func TestServeHSTS(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, 7)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plain http", []string{"--lan"}, ""},
		{"self-signed", []string{"--lan", "--tls-self-signed"}, ""},
		{"certificate files", []string{"--lan", "--tls-cert", certFile, "--tls-key", keyFile}, "max-age=31536000"},
		{"certificate files, shorter", []string{"--lan", "--tls-cert", certFile, "--tls-key", keyFile, "--hsts-max-age", "1h"}, "max-age=3600"},
		{"certificate files, off", []string{"--lan", "--tls-cert", certFile, "--tls-key", keyFile, "--hsts-max-age", "0"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := startServe(t, tc.args...)
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.roots, InsecureSkipVerify: tc.name == "self-signed"}}}
			for _, path := range []string{"/", "/r/some-room", "/healthz"} {
				resp, err := hc.Get(url + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("Strict-Transport-Security"); got != tc.want {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, tc.want)
				}
			}
		})
	}
	// Asking for HSTS with a self-signed certificate is a config error.
	var log syncBuffer
	if code := runServe(t.Context(), []string{"--tls-self-signed", "--hsts-max-age", "1h", "--addr", "127.0.0.1:0"}, nil, &log); code != 2 {
		t.Errorf("--tls-self-signed --hsts-max-age 1h: exit %d, want 2", code)
	}
	if !regexp.MustCompile(`no HSTS with --tls-self-signed`).MatchString(log.String()) {
		t.Errorf("no clear error:\n%s", log.String())
	}
}
