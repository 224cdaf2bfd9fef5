package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/certs/acmetest"
)

// TestServeACME: `duet serve --acme-domain`, as the real binary, gets its
// certificate from Pebble over TLS-ALPN-01 alone and, separately, over
// HTTP-01 alone, and serves it on the HTTPS port (a client trusting only
// Pebble's root checks it) with HSTS. Its plain-HTTP port, after answering
// the challenge, redirects to HTTPS without HSTS.
func TestServeACME(t *testing.T) {
	const domain = "call.duet.test"
	for _, tc := range []struct {
		name    string
		args    []string
		systemd bool
	}{
		{"tls-alpn-01", []string{"--acme-challenges", "tls-alpn-01", "--acme-cache", t.TempDir(), "--resume-secret", strings.Repeat("cd", 32)}, false},
		{"http-01", []string{"--acme-challenges", "http-01"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpsAddr, httpAddr := freeAddr(t), freeAddr(t)
			pebble := acmetest.Start(t, acmetest.Options{TLSPort: portOf(t, httpsAddr), HTTPPort: portOf(t, httpAddr)})
			args := append([]string{"serve", "--acme-domain", domain, "--acme-ca", pebble.DirectoryURL,
				"--acme-ca-root", pebble.ServerRootsFile, "--addr", httpsAddr, "--http-addr", httpAddr,
				"--lan", "--peerjs=false"}, tc.args...)
			state := t.TempDir()
			var env []string
			if tc.systemd {
				env = []string{"STATE_DIRECTORY=" + state}
			}
			p := startDuetEnv(t, env, args...)
			waitListening(t, p, httpsAddr)

			var served string
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				c, err := pebble.ServedCert(httpsAddr, domain)
				if err == nil {
					served = c.SerialNumber.String()
					if len(c.DNSNames) != 1 || c.DNSNames[0] != domain {
						t.Errorf("certificate for %v, want [%s]", c.DNSNames, domain)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no Pebble certificate on %s: %v", httpsAddr, err)
				}
			}
			log := p.log.String()
			for _, want := range []string{"ACME: certificate obtained", "challenge_type=" + tc.name, `open=https://` + domain + ":" + itoaPort(t, httpsAddr)} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q", want)
				}
			}
			other := "http-01"
			if tc.name == other {
				other = "tls-alpn-01"
			}
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "trying to solve challenge") && strings.Contains(line, "challenge_type="+other) {
					t.Errorf("tried %s although only %s is allowed: %s", other, tc.name, line)
				}
			}

			hc := pebble.Client()
			resp, err := hc.Get("https://" + net.JoinHostPort(domain, itoaPort(t, httpsAddr)) + "/r/some-room")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].SerialNumber.String() != served {
				t.Errorf("HTTPS: %d, serial %s, want 200 and %s", resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber, served)
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
				t.Errorf("HTTPS Strict-Transport-Security %q, want max-age=31536000", got)
			}

			resp, err = hc.Get("http://" + net.JoinHostPort(domain, itoaPort(t, httpAddr)) + "/r/some-room?x=1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := "https://" + net.JoinHostPort(domain, itoaPort(t, httpsAddr)) + "/r/some-room?x=1"
			if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
				t.Errorf("plain HTTP: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("plain HTTP carries Strict-Transport-Security %q", got)
			}

			p.signal(t, syscall.SIGTERM)
			if code := p.waitExit(t); code != 0 {
				t.Errorf("exit %d after SIGTERM, want 0", code)
			}
			if tc.systemd {
				for _, f := range []string{"resume-secret", "acme"} {
					if _, err := os.Stat(filepath.Join(state, f)); err != nil {
						t.Errorf("nothing kept in STATE_DIRECTORY: %v", err)
					}
				}
			}
			if testing.Verbose() {
				t.Logf("duet's log:\n%s", p.log)
			}
		})
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a.Port
}

func itoaPort(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
