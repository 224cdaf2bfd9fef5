package gopeer

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/media"
)

// orders: the Go peer and the browser each join first (and so each is the
// impolite peer that makes the offer), the other joins second.
var orders = []struct {
	name    string
	goFirst bool
}{
	{"go joins first", true},
	{"browser joins first", false},
}

// TestGoVideoToBrowser: the SDK plays the VP8 test file into the web app;
// the page's remote video decodes frames of the file's size.
func TestGoVideoToBrowser(t *testing.T) {
	b := browsertest.New(t)
	for _, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			room := newRoom(t)
			src, err := media.Open("../../testdata/media/vp8.ivf", true)
			if err != nil {
				t.Fatal(err)
			}
			var page context.Context
			if !tc.goFirst {
				page = openApp(t, b, srv, room, "browser")
			}
			call := dial(t, srv, room, client.WithTracks(src.Track()))
			if tc.goFirst {
				page = openApp(t, b, srv, room, "browser")
			}
			ctx, cancel := context.WithCancel(context.Background())
			played := make(chan error, 1)
			go func() { played <- src.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-played; err != nil {
					t.Errorf("playing: %v", err)
				}
			}()
			if err := browsertest.WaitFor(page, browsertest.InboundVideoJS+`.then(s => s.framesDecoded > 20)`, 30*time.Second); err != nil {
				t.Fatalf("%v (Go peer state %v)", err, call.State())
			}
			s, err := browsertest.InboundVideo(page)
			if err != nil {
				t.Fatal(err)
			}
			if s.FrameWidth != 160 || s.FrameHeight != 120 {
				t.Fatalf("browser decoded %dx%d frames, the file is 160x120", s.FrameWidth, s.FrameHeight)
			}
		})
	}
}

// TestChatBothWays: a line typed in the web app reaches the Go peer, and
// a line the Go peer sends shows in the app's chat log.
func TestChatBothWays(t *testing.T) {
	b := browsertest.New(t)
	for _, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			room := newRoom(t)
			got := make(chan string, 8)
			opt := client.WithOnChat(func(s string) { got <- s })
			var page context.Context
			var call *client.Call
			if tc.goFirst {
				call = dial(t, srv, room, opt)
				page = openApp(t, b, srv, room, "browser")
			} else {
				page = openApp(t, b, srv, room, "browser")
				call = dial(t, srv, room, opt)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := call.WaitChat(ctx); err != nil {
				t.Fatalf("chat never opened on the Go side: %v", err)
			}
			if err := call.SendChat("from Go: héllo"); err != nil {
				t.Fatal(err)
			}
			if err := browsertest.WaitFor(page, browsertest.TestID("chat-log")+`.textContent.includes("from Go: héllo")`, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := browsertest.Type(page, "chat-input", "from the browser"); err != nil {
				t.Fatal(err)
			}
			if err := browsertest.Click(page, "chat-send"); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-got:
				if s != "from the browser" {
					t.Fatalf("Go peer got %q", s)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the browser's chat line never reached the Go peer")
			}
			// The web app and the SDK derive the same verify code from
			// the fingerprints they exchanged.
			code, err := call.VerifyCode(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := browsertest.WaitFor(page, browsertest.TestID("verify-code")+`.textContent === `+strconv.Quote(code)+` && !document.getElementById("verify").hidden`, 20*time.Second); err != nil {
				t.Fatalf("Go peer's verify code %s: %v", code, err)
			}
		})
	}
}

// lockedBuffer collects a child process's output for the test to poll.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBrowserRecordedByPeer: the web app (fake camera and microphone)
// calls `duet peer --record`, run as its own process; after SIGINT the
// peer exits 0 and the files it wrote are complete: an IVF with many
// frames and an Ogg with Opus packets.
func TestBrowserRecordedByPeer(t *testing.T) {
	b := browsertest.New(t)
	bin := duetBinary(t)
	srv := startServer(t)
	room := newRoom(t)
	dir := t.TempDir()
	var stderr lockedBuffer
	cmd := exec.Command(bin, "peer", "--server", srv.URL(), "--room", room, "--record", dir, "--timeout", "2m")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	page := openApp(t, b, srv, room, "camera")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "recording video") || !strings.Contains(stderr.String(), "recording audio") {
		if time.Now().After(deadline) {
			t.Fatalf("duet peer never started recording both tracks; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = page
	time.Sleep(4 * time.Second) // a few seconds of the fake camera
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("duet peer: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("duet peer did not exit on SIGINT; stderr:\n%s", stderr.String())
	}
	video, audio := findRecordings(t, dir)
	vi, err := media.Inspect(video)
	if err != nil {
		t.Fatal(err)
	}
	if vi.Frames < 30 {
		t.Errorf("%s holds %d frames (%+v), want at least 30 from 4 s of camera", video, vi.Frames, vi)
	}
	ai, err := media.Inspect(audio)
	if err != nil {
		t.Fatal(err)
	}
	if ai.Codec != "opus" || ai.Frames < 50 {
		t.Errorf("%s: %+v, want at least 50 Opus packets", audio, ai)
	}
}

func findRecordings(t *testing.T, dir string) (video, audio string) {
	t.Helper()
	ivf, _ := filepath.Glob(filepath.Join(dir, "video-*.ivf"))
	ogg, _ := filepath.Glob(filepath.Join(dir, "audio-*.ogg"))
	if len(ivf) != 1 || len(ogg) != 1 {
		t.Fatalf("recordings in %s: %v %v, want one video and one audio", dir, ivf, ogg)
	}
	return ivf[0], ogg[0]
}

// TestPeerChatWithBrowser: `duet peer` as a process, its stdin and stdout
// piped, chats with the web app both ways.
func TestPeerChatWithBrowser(t *testing.T) {
	b := browsertest.New(t)
	bin := duetBinary(t)
	srv := startServer(t)
	room := newRoom(t)
	page := openApp(t, b, srv, room, "browser")
	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "peer", "--server", srv.URL(), "--room", room, "--timeout", "2m")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Written before the channel is open: duet peer holds it until then.
	if _, err := stdin.Write([]byte("piped into duet peer\n")); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(page, browsertest.TestID("chat-log")+`.textContent.includes("piped into duet peer")`, 30*time.Second); err != nil {
		t.Fatalf("%v; duet peer stderr:\n%s", err, stderr.String())
	}
	if err := browsertest.WaitFor(page, `window.duet.chatOpen()`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Type(page, "chat-input", "typed in the browser"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Click(page, "chat-send"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for stdout.String() != "typed in the browser\n" {
		if time.Now().After(deadline) {
			t.Fatalf("stdout is %q; stderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stdin.Close() // stdin ending does not end the call
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("duet peer: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("duet peer did not exit on SIGINT")
	}
}
