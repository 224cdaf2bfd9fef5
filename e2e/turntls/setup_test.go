// Package turntls tests TURN over TLS on the HTTPS port (one-port mode)
// with real clients that have nothing but a turns: URL: two pion peers, and
// two Chromium pages of the web app with iceTransportPolicy "relay". The
// test CA is trusted the way each client needs it (docs/deploy.md, "TURN
// over TLS"): Go through SSL_CERT_FILE, set in TestMain before any
// certificate is verified; Chromium through its NSS database.
package turntls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/duet-call/duet/protocol"
)

// testPKI is the CA of this test binary, written to dir.
var testPKI struct {
	dir    string
	caFile string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "turntls:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "duet-turntls-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "duet turntls test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return 0, err
	}
	ca, _ := x509.ParseCertificate(der)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return 0, err
	}
	testPKI.dir, testPKI.caFile, testPKI.ca, testPKI.caKey = dir, caFile, ca, key
	// Go reads the system roots once, at the first verification: from here
	// on every Go TLS client in this binary trusts the test CA only.
	os.Setenv("SSL_CERT_FILE", caFile)
	os.Unsetenv("SSL_CERT_DIR")
	return m.Run(), nil
}

// serverTLS issues a certificate for ip (and localhost) from the test CA.
func serverTLS(t testing.TB, ip netip.Addr) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{ip.AsSlice()},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, testPKI.ca, &key.PublicKey, testPKI.caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
}

// onePort is duet with TURN over TLS on its HTTPS port.
type onePort struct {
	srv  *server.Server
	turn *turnserver.Server
	ice  *turnserver.ICE
	url  string // https://ip:port
}

// startOnePort runs the TURN server and the HTTPS server on ip, the HTTPS
// port taking TURN over TLS too, and hands out ONLY the turns: URL (with
// its credential): a client can relay through nothing else.
func startOnePort(t testing.TB, ip netip.Addr) *onePort {
	t.Helper()
	secretBytes := make([]byte, 16)
	rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)
	ts, err := turnserver.New(turnserver.Config{
		Addr: netip.AddrPortFrom(ip, 0).String(), PublicIP: ip, RelayBind: ip, Secret: secret,
		// The peers' relay addresses are on ip, which the default policy
		// refuses (loopback or private): open exactly that address.
		AllowPeers: []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())},
		TLS:        serverTLS(t, ip),
	}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.Shutdown(ctx)
	})
	p := &onePort{turn: ts, ice: &turnserver.ICE{Host: ip.String(), Port: ts.UDPAddr().Port, Secret: secret}}
	cfg := server.Config{
		Addr: netip.AddrPortFrom(ip, 0).String(), TLS: serverTLS(t, ip), TURN: ts.ServeConn,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		Signal: signal.Config{ICEServers: p.onlyTURNS},
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	p.srv = srv
	p.ice.TLSPort = srv.Addr().(*net.TCPAddr).Port // before any client asks
	p.url = srv.URL()
	return p
}

// onlyTURNS is what the server hands out: the turns: URL alone.
func (p *onePort) onlyTURNS(host, user string) []protocol.ICEServer {
	var out []protocol.ICEServer
	for _, s := range p.ice.ServersFor(host, user) {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turns:") {
				out = append(out, protocol.ICEServer{URLs: []string{u}, Username: s.Username, Credential: s.Credential})
			}
		}
	}
	return out
}
