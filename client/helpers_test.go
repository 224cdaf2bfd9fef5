package client_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine of a call, a peer connection
// or the server outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger logs at debug when DUET_TEST_LOG=1, else nothing.
func testLogger() *slog.Logger {
	if os.Getenv("DUET_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startServer runs the real duet server in-process on a free port. sig
// adjusts its signaling limits (the benchmark joins faster than the
// per-IP join limit allows).
func startServer(t testing.TB, sig ...signal.Config) *server.Server {
	t.Helper()
	cfg := server.Config{Addr: "127.0.0.1:0", Logger: testLogger()}
	if len(sig) > 0 {
		cfg.Signal = sig[0]
	}
	cfg.Signal.Tap = schematest.Tap(t) // every frame of every test, either way
	srv, err := server.New(cfg)
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

// dial joins room and closes the call when the test ends.
func dial(t testing.TB, url, room string, opts ...client.Option) *client.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(testLogger().With("peer", room))}, opts...)
	c, err := client.Dial(ctx, url, room, opts...)
	if err != nil {
		t.Fatalf("Dial(%s, %s): %v", url, room, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitChat(t testing.TB, calls ...*client.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, c := range calls {
		if err := c.WaitChat(ctx); err != nil {
			t.Fatalf("call %d: chat never opened: %v (state %v)", i, err, c.State())
		}
	}
}

// inbox collects chat lines from WithOnChat.
type inbox chan string

func newInbox() inbox { return make(inbox, 64) }

func (in inbox) option() client.Option {
	return client.WithOnChat(func(s string) {
		select {
		case in <- s:
		default:
		}
	})
}

func (in inbox) expect(t testing.TB, want string) {
	t.Helper()
	select {
	case got := <-in:
		if got != want {
			t.Fatalf("chat: got %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("chat: %q never arrived", want)
	}
}

// states records every state a call reports.
type states chan client.State

func newStates() states { return make(states, 64) }

func (s states) option() client.Option {
	return client.WithOnStateChange(func(st client.State) {
		select {
		case s <- st:
		default:
		}
	})
}

func (s states) waitFor(t testing.TB, want client.State) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case got := <-s:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v never reported", want)
		}
	}
}

// addOpus adds a looping Opus track from the test media to c and plays it
// in real time until the test ends: a mid-call addition that needs a
// renegotiation to reach the other side.
func addOpus(t testing.TB, c *client.Call) {
	t.Helper()
	src, err := media.Open("../testdata/media/opus.ogg", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddTrack(src.Track()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	played := make(chan error, 1)
	go func() { played <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-played })
}

// expectOpus waits for the codec of a remote track reported on tracks and
// fails unless it is Opus; what says what the track was for.
func expectOpus(t testing.TB, tracks <-chan string, what string) {
	t.Helper()
	select {
	case k := <-tracks:
		if k != webrtc.MimeTypeOpus {
			t.Fatalf("%s: got a %s track, want Opus", what, k)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never arrived", what)
	}
}
