package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/pion/webrtc/v4"
)

// syncBuffer is a bytes.Buffer safe for the peer's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startTestServer(t *testing.T) *server.Server {
	t.Helper()
	return startTestServerAt(t, "127.0.0.1:0", nil)
}

// startTestServerAt runs a server on addr with the given resume secret
// (nil: a random one), so that a restart on the same port can honour the
// tokens of the first. It serves /metrics, as duet serve does.
func startTestServerAt(t *testing.T, addr string, secret []byte) *server.Server {
	t.Helper()
	srv, err := server.New(server.Config{Addr: addr, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(),
		Signal: signal.Config{ResumeSecret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// peerProc is one `duet peer` run in-process, as main would run it.
type peerProc struct {
	stdin          *io.PipeWriter
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	code           chan int
}

func startPeer(t *testing.T, args ...string) *peerProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	p := &peerProc{stdin: inW, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() { p.code <- runPeerIO(ctx, args, inR, p.stdout, p.stderr) }()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		select {
		case <-p.code:
		case <-time.After(15 * time.Second):
			t.Errorf("duet peer did not exit; stderr:\n%s", p.stderr)
		}
	})
	return p
}

// wait returns the exit code, failing the test if it takes too long.
func (p *peerProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case c := <-p.code:
		p.code <- c // for Cleanup
		return c
	case <-time.After(d):
		t.Fatalf("duet peer still running after %v; stderr:\n%s", d, p.stderr)
		return -1
	}
}

// waitOutput polls until out holds want.
func waitOutput(t *testing.T, what string, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q; it holds:\n%s", what, want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPeerChatPipes(t *testing.T) {
	srv := startTestServer(t)
	p := startPeer(t, "--server", srv.URL(), "--room", "pipes")
	waitOutput(t, "stderr", p.stderr, "waiting")

	got := make(chan string, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.URL(), "pipes", client.WithOnChat(func(s string) { got <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(p.stdin, "line from stdin\n")
	select {
	case s := <-got:
		if s != "line from stdin" {
			t.Fatalf("SDK got %q", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("stdin line never arrived; peer stderr:\n%s", p.stderr)
	}
	if err := c.SendChat("two\nlines"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, "stdout", p.stdout, "two lines\n")
	// duet peer prints the verify code the other side derives too.
	code, err := c.VerifyCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitOutput(t, "stderr", p.stderr, "duet peer: verify code "+code+"\n")
	c.Close() // the other side hangs up: duet peer ends with 0
	if code := p.wait(t, 20*time.Second); code != exitOK {
		t.Fatalf("exit %d after the peer left, want 0; stderr:\n%s", code, p.stderr)
	}
}

// TestPeerPlayRecord: one duet peer plays VP8 and Opus, another records
// them; the files are complete and parse after a normal exit.
func TestPeerPlayRecord(t *testing.T) {
	srv := startTestServer(t)
	dir := t.TempDir()
	rec := startPeer(t, "--server", srv.URL(), "--room", "media", "--record", dir)
	startPeer(t, "--server", srv.URL(), "--room", "media", "--loop",
		"--play", "../../testdata/media/vp8.ivf", "--play", "../../testdata/media/opus.ogg")
	waitOutput(t, "recorder stderr", rec.stderr, "recording video")
	waitOutput(t, "recorder stderr", rec.stderr, "recording audio")
	time.Sleep(3 * time.Second) // let a few seconds of media arrive
	rec.cancel()                // as SIGINT would
	if code := rec.wait(t, 15*time.Second); code != exitOK {
		t.Fatalf("recorder exit %d; stderr:\n%s", code, rec.stderr)
	}
	tests := []struct {
		file, codec string
		min         int
	}{
		{"video-1.ivf", "VP80", 15},
		{"audio-2.ogg", "opus", 50},
		{"video-2.ivf", "VP80", 15},
		{"audio-1.ogg", "opus", 50},
	}
	found := 0
	for _, tc := range tests {
		info, err := media.Inspect(filepath.Join(dir, tc.file))
		if err != nil {
			continue // the other numbering
		}
		found++
		if info.Codec != tc.codec || info.Frames < tc.min {
			t.Errorf("%s: %+v, want codec %s and at least %d frames", tc.file, info, tc.codec, tc.min)
		}
		if tc.codec == "VP80" && (info.Width != 160 || info.Height != 120) {
			t.Errorf("%s: the IVF header says %dx%d; the frames played are 160x120", tc.file, info.Width, info.Height)
		}
	}
	if found != 2 {
		t.Fatalf("found %d recordings in %s, want 2; stderr:\n%s", found, dir, rec.stderr)
	}
}

func TestPeerExitCodes(t *testing.T) {
	srv := startTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		c, err := client.Dial(ctx, srv.URL(), "full")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no room", []string{"--server", srv.URL()}, exitUsage},
		{"unknown flag", []string{"--room", "r", "--bogus"}, exitUsage},
		{"room full", []string{"--server", srv.URL(), "--room", "full"}, exitRoomFull},
		{"nothing listening", []string{"--server", "http://127.0.0.1:1", "--room", "r"}, exitUnreachable},
		{"not a URL", []string{"--server", "ftp://x", "--room", "r"}, exitUnreachable},
		{"bad room", []string{"--server", srv.URL(), "--room", "a b"}, exitRefused},
		{"bad play file", []string{"--server", srv.URL(), "--room", "r", "--play", "peer.go"}, exitBadFile},
		{"missing play file", []string{"--server", srv.URL(), "--room", "r", "--play", "nope.ivf"}, exitBadFile},
		{"timeout alone", []string{"--server", srv.URL(), "--room", "lonely", "--timeout", "500ms"}, exitTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, tc.args...)
			if code := p.wait(t, 20*time.Second); code != tc.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.want, p.stderr)
			}
		})
	}
}

// TestPeerServerGoneMidCall: a server that goes away and stays away ends
// duet peer with exit 8: at once with --reconnect-for 0, else once the
// reconnect time has run out, after saying it is reconnecting.
func TestPeerServerGoneMidCall(t *testing.T) {
	for _, tc := range []struct {
		reconnectFor string
		reconnects   bool
	}{{"0", false}, {"2s", true}} {
		t.Run("reconnect-for "+tc.reconnectFor, func(t *testing.T) {
			srv := startTestServer(t)
			p := startPeer(t, "--verbose", "--server", srv.URL(), "--room", "gone", "--reconnect-for", tc.reconnectFor)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, srv.URL(), "gone")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			waitOutput(t, "stderr", p.stderr, "connected")
			srv.Shutdown(ctx)
			if code := p.wait(t, 20*time.Second); code != exitServerGone {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitServerGone, p.stderr)
			}
			if got := strings.Contains(p.stderr.String(), "signaling lost; reconnecting"); got != tc.reconnects {
				t.Fatalf("reconnecting reported: %v, want %v; stderr:\n%s", got, tc.reconnects, p.stderr)
			}
		})
	}
}

// TestPeerServerRestart: the server restarts on the same port with the
// same resume secret while duet peer is in a call. duet peer does not
// exit: it resumes its place, the other peer never sees it leave, and
// chat still reaches it afterwards.
func TestPeerServerRestart(t *testing.T) {
	secret := []byte("resume secret kept across the restart")
	srv := startTestServerAt(t, "127.0.0.1:0", secret)
	addr := srv.Addr().String()
	p := startPeer(t, "--verbose", "--server", srv.URL(), "--room", "restart")
	got := make(chan string, 8)
	left := make(chan client.State, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.URL(), "restart",
		client.WithOnChat(func(s string) { got <- s }),
		client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second}),
		client.WithOnStateChange(func(s client.State) {
			if s == client.StatePeerLeft {
				left <- s
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitOutput(t, "stderr", p.stderr, "connected")
	if err := c.WaitChat(ctx); err != nil {
		t.Fatal(err)
	}

	srv.Shutdown(ctx)
	waitOutput(t, "stderr", p.stderr, "signaling lost; reconnecting")
	startTestServerAt(t, addr, secret)
	waitOutput(t, "stderr", p.stderr, "signaling back; room resumed")

	io.WriteString(p.stdin, "after the restart\n")
	select {
	case s := <-got:
		if s != "after the restart" {
			t.Fatalf("chat %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("chat from duet peer never arrived; stderr:\n%s", p.stderr)
	}
	select {
	case code := <-p.code:
		t.Fatalf("duet peer exited with %d across the restart; stderr:\n%s", code, p.stderr)
	case <-left:
		t.Fatal("the other peer saw duet peer leave")
	default:
	}
}

// TestPeerICEFailure: the other peer offers no usable candidate (its IP
// filter refuses every address), so ICE cannot find a path and duet peer
// reports the failure with its exit code once pion gives up (about 30 s).
func TestPeerICEFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for pion's ICE failure timeout")
	}
	srv := startTestServer(t)
	p := startPeer(t, "--server", srv.URL(), "--room", "noice")
	var se webrtc.SettingEngine
	se.SetIPFilter(func(net.IP) bool { return false })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.URL(), "noice", client.WithSettingEngine(se))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if code := p.wait(t, 90*time.Second); code != exitICEFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitICEFailed, p.stderr)
	}
}
