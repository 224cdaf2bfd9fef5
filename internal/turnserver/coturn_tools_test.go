package turnserver

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// needTool finds one of coturn's client tools (Debian package coturn). It
// skips the test when the tool is absent, unless DUET_E2E=1 asks for every
// end-to-end test to run, which turns the skip into a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("DUET_E2E") == "1" {
			t.Fatalf("%s not found and DUET_E2E=1: install Debian's coturn package", name)
		}
		t.Skipf("%s not found (install Debian's coturn package, or set DUET_E2E=1 to make this a failure)", name)
	}
	return path
}

// runTool runs a coturn tool with a hang guard and returns its output.
func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: did not finish: %v\n%s", path, args, ctx.Err(), out.String())
	}
	if err != nil {
		t.Logf("%s exited with %v", path, err)
	}
	return out.String()
}

func TestCoturnStunclient(t *testing.T) {
	tool := needTool(t, "turnutils_stunclient")
	s := startServer(t, nil)
	out := runTool(t, tool, "-p", strconv.Itoa(s.UDPAddr().Port), "127.0.0.1")
	m := regexp.MustCompile(`UDP reflexive addr: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no reflexive address in turnutils_stunclient output:\n%s", out)
	}
	ap, err := netip.ParseAddrPort(m[1])
	if err != nil || ap.Addr() != netip.MustParseAddr("127.0.0.1") || ap.Port() == 0 {
		t.Fatalf("reflexive address %q, want 127.0.0.1:port", m[1])
	}
}

// freeUDPPort returns a port that was free a moment ago, for tools that
// cannot be told to pick one.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestCoturnUclientRelays(t *testing.T) {
	uclient := needTool(t, "turnutils_uclient")
	peerTool := needTool(t, "turnutils_peer")
	ca := newTestCA(t)
	s := startServer(t, func(c *Config) {
		allowLoopback(c)
		c.TLSAddr, c.TLS = "127.0.0.1:0", ca.serverConfig(t, "localhost")
	})

	peerPort := freeUDPPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	peer := exec.CommandContext(ctx, peerTool, "-L", "127.0.0.1", "-p", strconv.Itoa(peerPort))
	if err := peer.Start(); err != nil {
		t.Fatalf("start turnutils_peer: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = peer.Wait() })

	udpPort, tlsPort := strconv.Itoa(s.UDPAddr().Port), strconv.Itoa(s.TLSAddr().Port)
	tests := []struct {
		name  string
		flags []string
		port  string
	}{
		{"udp", nil, udpPort},
		{"tcp", []string{"-t"}, udpPort},
		{"udp send indications", []string{"-s"}, udpPort},
		{"tls", []string{"-t", "-S"}, tlsPort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats().AllocationsCreated
			args := append([]string{}, tc.flags...)
			// -W: mint TURN REST credentials from the secret, as a browser's
			// server would; -m 2 clients, -n 20 messages each, peer echoes.
			args = append(args, "-W", testSecret, "-u", "uclient", "-e", "127.0.0.1", "-r", strconv.Itoa(peerPort),
				"-m", "2", "-n", "20", "-l", "200", "-z", "5", "-p", tc.port, "127.0.0.1")
			out := runTool(t, uclient, args...)
			m := regexp.MustCompile(`start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no message totals in turnutils_uclient output:\n%s", out)
			}
			sent, _ := strconv.Atoi(m[1])
			recv, _ := strconv.Atoi(m[2])
			if sent == 0 || recv != sent {
				t.Fatalf("uclient sent %d, got %d back through the relay:\n%s", sent, recv, out)
			}
			if s.Stats().AllocationsCreated == before {
				t.Fatal("uclient's traffic made no allocation on our server")
			}
		})
	}
}

// Under the default policy the same uclient run must get nothing through:
// its peer is on loopback.
func TestCoturnUclientRefusedLoopbackPeer(t *testing.T) {
	uclient := needTool(t, "turnutils_uclient")
	s := startServer(t, nil)
	out := runTool(t, uclient, "-W", testSecret, "-u", "uclient", "-e", "127.0.0.1", "-r", strconv.Itoa(freeUDPPort(t)),
		"-n", "5", "-z", "5", "-p", strconv.Itoa(s.UDPAddr().Port), "127.0.0.1")
	m := regexp.MustCompile(`start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`).FindStringSubmatch(out)
	if m != nil && m[2] != "0" {
		t.Fatalf("uclient got %s messages back from a loopback peer under the default policy:\n%s", m[2], out)
	}
	if s.Stats().Refused[ReasonLoopback] == 0 {
		t.Fatalf("no loopback refusal counted; uclient said:\n%s", out)
	}
}
