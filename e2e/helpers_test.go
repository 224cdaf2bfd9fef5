package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
)

// Deadlines are generous on purpose: the test machine has two shared cores
// and runs three Chromium renderers encoding and decoding video. They bound
// a hang; they are not a speed target.
const (
	connectTimeout = 90 * time.Second
	stepTimeout    = 30 * time.Second
)

// startServer runs the real duet server on a free loopback port until the
// test ends.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	return startServerWith(t, server.Config{Addr: "127.0.0.1:0"})
}

// startServerWith runs the real duet server with cfg until the test ends.
func startServerWith(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Signal.Tap = schematest.Tap(t) // every signaling frame must match protocol/schema
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
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return srv
}

// must fails the test at once on err, from the caller's line.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitState waits until the page's call state is want.
func waitState(t *testing.T, page context.Context, want string, timeout time.Duration) {
	t.Helper()
	must(t, browsertest.WaitFor(page, fmt.Sprintf(`window.duet && window.duet.state() === %q`, want), timeout))
}

// waitVideo waits until the page decodes the other side's video: frames
// counted by WebRTC's own stats and a size on the remote <video> element,
// which only a decoded frame gives it.
func waitVideo(t *testing.T, page context.Context) {
	t.Helper()
	js := `(async () => { const s = await ` + browsertest.InboundVideoJS + `;
		const v = ` + browsertest.RemoteVideoJS + `;
		return s.framesDecoded > 0 && v.videoWidth > 0; })()`
	if err := browsertest.WaitFor(page, js, connectTimeout); err != nil {
		st, _ := browsertest.InboundVideo(page)
		t.Fatalf("%v\n\tinbound video: %+v", err, st)
	}
	st, err := browsertest.InboundVideo(page)
	must(t, err)
	t.Logf("%s: remote video decoding: %d frames, %dx%d", browsertest.Name(page), st.FramesDecoded, st.FrameWidth, st.FrameHeight)
}

// statusText is what the page's call-status element says.
func statusText(t *testing.T, page context.Context) string {
	t.Helper()
	s, err := browsertest.Text(page, "call-status")
	must(t, err)
	return strings.TrimSpace(s)
}

// sendChat types a line into the page's chat and sends it.
func sendChat(t *testing.T, page context.Context, text string) {
	t.Helper()
	must(t, browsertest.WaitFor(page, `window.duet.chatOpen() && !`+browsertest.TestID("chat-send")+`.disabled`, stepTimeout))
	must(t, browsertest.Type(page, "chat-input", text))
	must(t, browsertest.Click(page, "chat-send"))
}

// waitChat waits until a line with text is a child of the page's chat log.
func waitChat(t *testing.T, page context.Context, text string) {
	t.Helper()
	js := fmt.Sprintf(`Array.from(%s.children).some((li) => li.textContent.includes(%q))`, browsertest.TestID("chat-log"), text)
	must(t, browsertest.WaitFor(page, js, stepTimeout))
}

// step logs how long the last phase took, for reading test logs; the
// numbers are never asserted.
type stopwatch struct {
	t     *testing.T
	start time.Time
	last  time.Time
}

func newStopwatch(t *testing.T) *stopwatch {
	now := time.Now()
	return &stopwatch{t: t, start: now, last: now}
}

func (s *stopwatch) step(what string) {
	s.t.Helper()
	now := time.Now()
	s.t.Logf("%s after %v (total %v)", what, now.Sub(s.last).Round(time.Millisecond), now.Sub(s.start).Round(time.Millisecond))
	s.last = now
}
