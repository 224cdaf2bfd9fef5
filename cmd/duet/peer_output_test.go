package main

import (
	"strings"
	"testing"
	"time"
)

// TestPeerOutputReadable: an ordinary call between two duet peers, as a
// tool author first meets it. At the default log level stderr holds duet
// peer's own lines only — no pion message — and each once; at
// --log-level debug pion's messages are there.
func TestPeerOutputReadable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantPion bool
	}{
		{"default", nil, false},
		{"debug", []string{"--log-level", "debug"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTestServer(t)
			room := "output-" + tc.name
			a := startPeer(t, append([]string{"--server", srv.URL(), "--room", room}, tc.args...)...)
			b := startPeer(t, "--server", srv.URL(), "--room", room, "--loop",
				"--play", "../../testdata/media/vp8.ivf", "--play", "../../testdata/media/opus.ogg")
			waitOutput(t, "stderr", a.stderr, "duet peer: verify code")
			time.Sleep(2 * time.Second) // media and RTCP flow for a while
			b.cancel()
			if code := a.wait(t, 20*time.Second); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, a.stderr)
			}
			out := a.stderr.String()
			if got := strings.Contains(out, "pion="); got != tc.wantPion {
				t.Fatalf("pion's messages shown: %v, want %v; stderr:\n%s", got, tc.wantPion, out)
			}
			if n := strings.Count(out, "duet peer: closed\n"); n != 1 {
				t.Fatalf("%d closed lines, want 1; stderr:\n%s", n, out)
			}
			if tc.wantPion {
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, "duet peer: ") || strings.HasPrefix(line, "duet peer: duet peer:") {
					t.Errorf("line %q is not one duet peer line", line)
				}
			}
		})
	}
}

// TestPeerExitLine: the last line says why once, without a doubled prefix.
func TestPeerExitLine(t *testing.T) {
	srv := startTestServer(t)
	p := startPeer(t, "--server", srv.URL(), "--room", "exit-line", "--timeout", "300ms")
	if code := p.wait(t, 20*time.Second); code != exitTimeout {
		t.Fatalf("exit %d, want %d", code, exitTimeout)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if last := lines[len(lines)-1]; last != "duet peer: --timeout elapsed (exit 6)" {
		t.Fatalf("last line %q; stderr:\n%s", last, p.stderr)
	}
}
