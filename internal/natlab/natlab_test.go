package natlab_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/media"
	"github.com/duet-call/duet/internal/natlab"
)

// Exit codes of `duet peer` the lab expects (docs/peer.md).
const (
	exitOK        = 0
	exitICEFailed = 5
)

// scenarioDeadline bounds one scenario: a hang detector, far above the
// ~35 s the slowest (ICE failure) takes on a loaded machine.
const scenarioDeadline = 150 * time.Second

// path is the selected candidate pair a peer printed: `duet peer: path
// local=srflx remote=prflx local-addr=... remote-addr=... protocol=udp`.
type path map[string]string

func (p path) String() string {
	s := fmt.Sprintf("%s(%s) -> %s(%s)", p["local"], p["local-addr"], p["remote"], p["remote-addr"])
	if rp := p["relay-protocol"]; rp != "" {
		s += " relayed over " + rp
	}
	return s
}

func (p path) ip(key string) string {
	host, _, _ := net.SplitHostPort(p[key])
	return host
}

func parsePath(line string) path {
	p := path{}
	_, rest, _ := strings.Cut(line, "duet peer: path ")
	for _, kv := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			p[k] = v
		}
	}
	return p
}

type scenario struct {
	name string
	topo natlab.Topology
	lan  bool // duet serve --lan: no STUN/TURN handed out
	// wantExit is both peers' exit code; exitOK means the call must
	// connect, carry chat both ways and media, and end when B hangs up.
	wantExit int
	// check judges the pairs A and B selected.
	check func(a, b path) error
	// relayed: the call goes through TURN, and the relay must have refused
	// to reach a peer's private host candidate (its default policy is on).
	relayed bool
	// https: duet serve serves HTTPS on port 443 with a certificate of the
	// lab's CA (one-port mode, its default, puts TURN over TLS there too);
	// the peers trust that CA and use https://.
	https bool
}

var scenarios = []scenario{
	{
		name: "1-both-endpoint-independent",
		topo: natlab.Topology{A: natlab.NAT{Kind: natlab.EndpointIndependent}, B: natlab.NAT{Kind: natlab.EndpointIndependent}},
		check: func(a, b path) error {
			// Direct through both NATs: no relay, and each side sends to
			// the other's public (NAT) address, learnt via STUN (srflx) or
			// from its checks (prflx).
			if err := noRelay(a, b); err != nil {
				return err
			}
			if err := remoteIs(a, natlab.NATBPublic, "srflx", "prflx"); err != nil {
				return fmt.Errorf("A: %w", err)
			}
			if err := remoteIs(b, natlab.NATAPublic, "srflx", "prflx"); err != nil {
				return fmt.Errorf("B: %w", err)
			}
			// Endpoint-independent mapping as Linux does it: the NAT kept
			// each peer's own port, so the port one side sends to is the
			// port the other side sends from.
			if port(a["remote-addr"]) != port(b["local-addr"]) || port(b["remote-addr"]) != port(a["local-addr"]) {
				return fmt.Errorf("NATs did not keep the peers' ports: A %v, B %v", a, b)
			}
			return nil
		},
	},
	{
		name:    "2a-A-symmetric",
		topo:    natlab.Topology{A: natlab.NAT{Kind: natlab.Symmetric}, B: natlab.NAT{Kind: natlab.EndpointIndependent}},
		check:   throughRelay,
		relayed: true,
	},
	{
		name:    "2b-both-symmetric",
		topo:    natlab.Topology{A: natlab.NAT{Kind: natlab.Symmetric}, B: natlab.NAT{Kind: natlab.Symmetric}},
		check:   throughRelay,
		relayed: true,
	},
	{
		name:    "3-udp-blocked-at-A",
		topo:    natlab.Topology{A: natlab.NAT{BlockUDP: true}, B: natlab.NAT{Kind: natlab.EndpointIndependent}},
		relayed: true,
		check: func(a, b path) error {
			if a["local"] != "relay" || a["relay-protocol"] != "tcp" {
				return fmt.Errorf("A: want a local relay candidate over TCP, got %v", a)
			}
			if a.ip("local-addr") != natlab.ServerIP {
				return fmt.Errorf("A: relay address %s is not the server's %s", a["local-addr"], natlab.ServerIP)
			}
			if b["remote"] != "relay" || b["remote-addr"] != a["local-addr"] {
				return fmt.Errorf("B: want A's relay %s as remote, got %v", a["local-addr"], b)
			}
			return nil
		},
	},
	{
		name: "4-same-lan",
		topo: natlab.Topology{SameLAN: true},
		lan:  true,
		check: func(a, b path) error {
			lan := netip.MustParsePrefix(natlab.LANA)
			for who, p := range map[string]path{"A": a, "B": b} {
				if p["local"] != "host" || p["remote"] != "host" {
					return fmt.Errorf("%s: want host to host, got %v", who, p)
				}
				for _, k := range []string{"local-addr", "remote-addr"} {
					if ip, err := netip.ParseAddr(p.ip(k)); err != nil || !lan.Contains(ip) {
						return fmt.Errorf("%s: %s %s is not on the LAN %s", who, k, p[k], lan)
					}
				}
			}
			return nil
		},
	},
	{
		name:    "6-only-https-out-at-A",
		topo:    natlab.Topology{A: natlab.NAT{OnlyHTTPS: true}, B: natlab.NAT{Kind: natlab.EndpointIndependent}},
		https:   true,
		relayed: true,
		check: func(a, b path) error {
			// Nothing but TCP to 443 leaves A's network: A's end must be a
			// relay reached over TLS on the HTTPS port itself.
			if a["local"] != "relay" || a["relay-protocol"] != "tls" {
				return fmt.Errorf("A: want a local relay candidate over TLS, got %v", a)
			}
			if a.ip("local-addr") != natlab.ServerIP {
				return fmt.Errorf("A: relay address %s is not the server's %s", a["local-addr"], natlab.ServerIP)
			}
			if b["remote"] != "relay" || b["remote-addr"] != a["local-addr"] {
				return fmt.Errorf("B: want A's relay %s as remote, got %v", a["local-addr"], b)
			}
			return nil
		},
	},
	{
		name:     "5-turn-unreachable-symmetric",
		topo:     natlab.Topology{A: natlab.NAT{Kind: natlab.Symmetric, BlockTURN: true}, B: natlab.NAT{Kind: natlab.Symmetric, BlockTURN: true}},
		wantExit: exitICEFailed,
	},
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func noRelay(a, b path) error {
	for who, p := range map[string]path{"A": a, "B": b} {
		if p["local"] == "relay" || p["remote"] == "relay" {
			return fmt.Errorf("%s: want no relay, got %v", who, p)
		}
	}
	return nil
}

func remoteIs(p path, ip string, types ...string) error {
	for _, t := range types {
		if p["remote"] == t && p.ip("remote-addr") == ip {
			return nil
		}
	}
	return fmt.Errorf("want remote %v at %s, got %v", types, ip, p)
}

// throughRelay: a symmetric NAT leaves only the relay, so each pair has a
// relay end, and every relay end is on the server.
func throughRelay(a, b path) error {
	for who, p := range map[string]path{"A": a, "B": b} {
		if p["local"] != "relay" && p["remote"] != "relay" {
			return fmt.Errorf("%s: want a relay end, got %v", who, p)
		}
		for _, end := range []string{"local", "remote"} {
			if p[end] == "relay" && p.ip(end+"-addr") != natlab.ServerIP {
				return fmt.Errorf("%s: relay end %s is not on the server %s", who, p[end+"-addr"], natlab.ServerIP)
			}
		}
	}
	return nil
}

func TestNATLab(t *testing.T) {
	requireLab(t)
	duet := buildDuet(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScenario(t, duet, sc)
		})
	}
}

// requireLab skips unless the lab was asked for (make natlab sets
// DUET_NATLAB=auto, CI sets 1) and can run here; with DUET_NATLAB=1 a lab
// that cannot run fails instead.
func requireLab(t *testing.T) {
	t.Helper()
	mode := os.Getenv("DUET_NATLAB")
	if mode == "" {
		t.Skip("NAT lab not requested: run `make natlab` as root (it creates network namespaces); DUET_NATLAB=1 makes it required")
	}
	if err := natlab.Available(); err != nil {
		if mode == "1" {
			t.Fatalf("DUET_NATLAB=1 but the lab cannot run: %v", err)
		}
		t.Skipf("NAT lab skipped: %v", err)
	}
	if err := natlab.CheckHostRanges(hostPrefixes(t)); err != nil {
		t.Fatal(err)
	}
}

func hostPrefixes(t *testing.T) []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildDuet builds cmd/duet once per test binary, as the lab runs the real
// binary in the namespaces. TestMain removes it.
func buildDuet(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "natlab-duet-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "duet")
		goTool := "go"
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		}
		out, err := exec.Command(goTool, "build", "-o", build.path, "github.com/duet-call/duet/cmd/duet").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

func runScenario(t *testing.T, duet string, sc scenario) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), scenarioDeadline, fmt.Errorf("scenario %s: hang detector (%v) fired", sc.name, scenarioDeadline))
	defer cancel()
	lab, err := natlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("removing the lab: %v", err)
		}
	})
	t0 := time.Now()
	n, err := natlab.Build(ctx, lab, sc.topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("topology %s built in %v", lab.Prefix(), time.Since(t0).Round(time.Millisecond))

	var procs []*natlab.Proc
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("--- %s stderr:\n%s--- %s stdout:\n%s", p.Name, p.Output("stderr"), p.Name, p.Output("stdout"))
			}
		}
	})
	var pki *labPKI
	if sc.https {
		pki = newLabPKI(t)
	}
	srv := startServer(ctx, t, lab, n, duet, sc.lan, pki)
	procs = append(procs, srv)

	mediaDir, err := filepath.Abs("../../testdata/media")
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	serverURL := "http://" + natlab.ServerIP + ":8080"
	var env []string
	if pki != nil {
		serverURL = fmt.Sprintf("https://%s:%d", natlab.ServerIP, natlab.HTTPSPort)
		// Go (signaling and pion's TURN/TLS client) trusts the lab's CA.
		env = []string{"env", "SSL_CERT_FILE=" + pki.caFile}
	}
	peer := func(name, ns, play, record string) *natlab.Proc {
		args := append(append([]string{}, env...), duet, "peer", "--server", serverURL, "--room", "natlab",
			"--play", filepath.Join(mediaDir, play), "--loop", "--record", record, "--timeout", "120s")
		if os.Getenv("DUET_NATLAB_VERBOSE") == "1" {
			args = append(args, "--verbose")
		}
		p, err := lab.Start(name, ns, args...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		return p
	}
	// A joins first (the impolite peer, which offers), then B: the call
	// starts when B starts, so setup times count from there.
	a := peer("peer A", n.PeerA, "vp8.ivf", dirA)
	if _, err := a.WaitLine(ctx, "stderr", "joined room"); err != nil {
		t.Fatal(err)
	}
	b := peer("peer B", n.PeerB, "opus.ogg", dirB)
	start := b.Started

	if sc.wantExit != exitOK {
		expectFailure(ctx, t, sc, start, a, b)
		return
	}
	var paths [2]path
	var setup [2]time.Duration
	for i, p := range []*natlab.Proc{a, b} {
		l, err := p.WaitLine(ctx, "stderr", "duet peer: path ")
		if err != nil {
			t.Fatal(err)
		}
		paths[i], setup[i] = parsePath(l.Text), l.At.Sub(start)
	}
	if err := sc.check(paths[0], paths[1]); err != nil {
		t.Errorf("selected pairs: %v\n A: %v\n B: %v", err, paths[0], paths[1])
	}

	rtt := chatRoundTrip(ctx, t, sc.name, a, b)
	if sc.relayed {
		if _, err := srv.WaitLine(ctx, "stderr", "reason=private"); err != nil {
			t.Errorf("the relay never refused a private peer address: %v", err)
		}
	}

	// Media: A sends VP8 video, B Opus audio; each records the other.
	waitFile(ctx, t, dirB, "video-*.ivf", 6000)
	waitFile(ctx, t, dirA, "audio-*.ogg", 3000)
	if err := b.Signal(syscall.SIGINT); err != nil { // B hangs up; A sees peer-left
		t.Fatal(err)
	}
	for _, p := range []*natlab.Proc{b, a} {
		code, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if code != exitOK {
			t.Errorf("%s exited %d, want %d", p.Name, code, exitOK)
		}
	}
	video := inspect(t, dirB, "video-*.ivf", "VP80")
	audio := inspect(t, dirA, "audio-*.ogg", "opus")

	t.Logf("RESULT %s: setup A %v, B %v (from B's start to the path line, chat open); chat round trip %v; B got %d VP8 frames, A got %d Opus packets\n  A: %v\n  B: %v",
		sc.name, setup[0].Round(time.Millisecond), setup[1].Round(time.Millisecond), rtt.Round(time.Millisecond), video.Frames, audio.Frames, paths[0], paths[1])
}

// startServer runs duet serve on the public side. The relay's default
// policy stays on: it refuses loopback, private and other special
// addresses, and only the documentation range the NATs' public sides use
// is let through with --turn-allow-peer, as a real deployment on public
// addresses would need no exception at all.
func startServer(ctx context.Context, t *testing.T, lab *natlab.Lab, n *natlab.Net, duet string, lan bool, pki *labPKI) *natlab.Proc {
	t.Helper()
	secret := make([]byte, 16)
	rand.Read(secret)
	addr := natlab.ServerIP + ":8080"
	if pki != nil {
		addr = fmt.Sprintf("%s:%d", natlab.ServerIP, natlab.HTTPSPort)
	}
	args := []string{duet, "serve", "--addr", addr,
		"--turn-public-ip", natlab.ServerIP, "--turn-allow-peer", natlab.PublicNet,
		"--turn-secret", "natlab-" + hex.EncodeToString(secret[:8]), "--resume-secret", hex.EncodeToString(secret)}
	if lan {
		args = append(args, "--lan")
	}
	if pki != nil {
		args = append(args, "--tls-cert", pki.certFile, "--tls-key", pki.keyFile)
	}
	srv, err := lab.Start("duet serve", n.Server, args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitLine(ctx, "stderr", "duet is running"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, srv.Output("stderr"))
	}
	return srv
}

// expectFailure: ICE must fail with the documented exit code in bounded
// time, and no pair may ever be selected. Both peers give up after the
// same ICE timeout, so the first to fail leaves the room a moment before
// the other would fail too; that one then sees peer-left instead and, as
// documented, waits for another peer, so the test ends it.
func expectFailure(ctx context.Context, t *testing.T, sc scenario, start time.Time, a, b *natlab.Proc) {
	t.Helper()
	var first *natlab.Proc
	select {
	case <-a.Done():
		first = a
	case <-b.Done():
		first = b
	case <-ctx.Done():
		t.Fatalf("neither peer gave up: %v", context.Cause(ctx))
	}
	took := time.Since(start)
	if code, _ := first.Wait(ctx); code != sc.wantExit {
		t.Errorf("%s exited %d, want %d", first.Name, code, sc.wantExit)
	}
	if _, ok := first.Find("stderr", "duet peer: failed"); !ok {
		t.Errorf("%s never reported the failed state", first.Name)
	}
	other := a
	if first == a {
		other = b
	}
	l, err := other.WaitLine(ctx, "stderr", "duet peer: peer-left")
	if err != nil { // it exited, having failed on its own
		if code, _ := other.Wait(ctx); code != sc.wantExit {
			t.Errorf("%s exited %d, want %d", other.Name, code, sc.wantExit)
		}
	} else {
		if f, ok := other.Find("stderr", "duet peer: failed"); ok && f.At.Before(l.At) {
			t.Logf("%s failed too", other.Name)
		}
		other.Stop(10 * time.Second)
	}
	for _, p := range []*natlab.Proc{a, b} {
		for _, never := range []string{"duet peer: connected", "duet peer: path "} {
			if l, ok := p.Find("stderr", never); ok {
				t.Errorf("%s: %q although no path exists", p.Name, l.Text)
			}
		}
	}
	t.Logf("RESULT %s: %s exited %d after %v (from B's start); %s then saw it leave",
		sc.name, first.Name, sc.wantExit, took.Round(time.Millisecond), other.Name)
}

// chatRoundTrip sends a line from A, has the test answer it from B, and
// waits for the answer at A: chat crosses the path both ways.
func chatRoundTrip(ctx context.Context, t *testing.T, name string, a, b *natlab.Proc) time.Duration {
	t.Helper()
	ping, pong := "ping from A in "+name, "pong from B in "+name
	sent := time.Now()
	if err := a.WriteLine(ping); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitLine(ctx, "stdout", ping); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteLine(pong); err != nil {
		t.Fatal(err)
	}
	l, err := a.WaitLine(ctx, "stdout", pong)
	if err != nil {
		t.Fatal(err)
	}
	return l.At.Sub(sent)
}

// waitFile waits until a recording matching pattern in dir holds at least
// size bytes: media is arriving.
func waitFile(ctx context.Context, t *testing.T, dir, pattern string, size int64) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.Size() >= size {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no %s of %d bytes in %s: %v", pattern, size, dir, context.Cause(ctx))
		}
	}
}

// inspect checks the one recording matching pattern: the right codec and
// enough frames that media really flowed (the threshold is far below what
// waitFile's size implies).
func inspect(t *testing.T, dir, pattern, codec string) media.Info {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) != 1 {
		t.Fatalf("want one %s in %s, found %v", pattern, dir, files)
	}
	info, err := media.Inspect(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != codec || info.Frames < 5 {
		t.Errorf("%s: %+v, want %s with at least 5 frames", files[0], info, codec)
	}
	return info
}
