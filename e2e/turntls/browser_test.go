package turntls

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
)

// nonLoopbackIPv4 is an IPv4 address of this machine that is not loopback:
// Chromium does not use a TURN server on 127.0.0.1 from its sockets on
// real interfaces (see e2e/relay_test.go), so the shared port listens here.
// The traffic never leaves the machine.
func nonLoopbackIPv4(t *testing.T) netip.Addr { return nonLoopbackIPv4Bench(t) }

func nonLoopbackIPv4Bench(t testing.TB) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			if ip := p.Addr(); ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	t.Skip("no non-loopback IPv4 address for a TURN server that Chromium would use")
	return netip.Addr{}
}

// trustInNSS makes a home directory whose NSS database (what Chromium on
// Linux reads, ~/.pki/nssdb) trusts the test CA, with Debian's certutil.
func trustInNSS(t testing.TB) string {
	t.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		if browsertest.Required() {
			t.Fatal("certutil not found (apt-get install libnss3-tools) and DUET_E2E is set")
		}
		t.Skip("certutil not found: apt-get install libnss3-tools")
	}
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "duet test CA", "-t", "C,,", "-i", testPKI.caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return home
}

// Two Chromium pages of the web app, relay-only (?relay=1 sets
// iceTransportPolicy "relay"), handed nothing but the turns: URL of the
// HTTPS port, call each other with video both ways: TURN over TLS through
// the port that serves the app.
func TestBrowsersOnlyTURNS(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	p := startOnePort(t, ip)
	// Chromium verifies a TURN server's certificate with the same trust
	// store as pages (tried: a turns: certificate it does not trust gets
	// no relay candidate, though the page's loaded), so the test CA goes
	// into the NSS database of the HOME it runs with.
	b := browsertest.New(t, browsertest.WithEnv("HOME="+trustInNSS(t)))
	link := p.url + "/r/turns-only?relay=1"
	first := b.NewPage(t, browsertest.PageName("first"))
	must(t, browsertest.Navigate(first, link))
	must(t, browsertest.WaitFor(first, `window.duet && window.duet.state() === "waiting"`, 30*time.Second))
	second := b.NewPage(t, browsertest.PageName("second"))
	must(t, browsertest.Navigate(second, link))
	for _, page := range []context.Context{first, second} {
		// Deadlines bound a hang on a loaded machine; they are not targets.
		if err := browsertest.WaitFor(page, `window.duet.state() === "connected"`, 90*time.Second); err != nil {
			t.Fatalf("%s: %v", browsertest.Name(page), err)
		}
		must(t, browsertest.WaitFor(page, `(async () => (await `+browsertest.InboundVideoJS+`).framesDecoded > 0)()`, 90*time.Second))
	}
	for _, page := range []context.Context{first, second} {
		var got struct {
			Policy, Local, Remote, RelayProtocol string
			URLs                                 []string
		}
		must(t, browsertest.Eval(page, `(async () => {
			const pc = window.duet.pc();
			const conf = pc.getConfiguration();
			const stats = await pc.getStats();
			let pair = null;
			stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
			const local = pair ? stats.get(pair.localCandidateId) : {};
			return {
				Policy: conf.iceTransportPolicy,
				URLs: conf.iceServers.flatMap((s) => [].concat(s.urls)),
				Local: local.candidateType || "", RelayProtocol: local.relayProtocol || "",
				Remote: pair ? stats.get(pair.remoteCandidateId).candidateType : "",
			};
		})()`, &got))
		t.Logf("%s: %+v", browsertest.Name(page), got)
		want := fmt.Sprintf("turns:%s:%d?transport=tcp", ip, p.ice.TLSPort)
		if got.Policy != "relay" || len(got.URLs) != 1 || got.URLs[0] != want ||
			got.Local != "relay" || got.RelayProtocol != "tls" || got.Remote != "relay" {
			t.Errorf("%s: policy %q, URLs %v, selected %s (relay over %q) ↔ %s; want relay, [%s], relay over tls ↔ relay",
				browsertest.Name(page), got.Policy, got.URLs, got.Local, got.RelayProtocol, got.Remote, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
