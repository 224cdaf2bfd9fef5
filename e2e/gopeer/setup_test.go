// Package gopeer tests the Go SDK and `duet peer` against the real web app
// in headless Chromium (internal/browsertest): video both ways, recording,
// and chat both ways, with either side joining first.
package gopeer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// startServer runs the real duet server, web app included, in-process;
// sig adjusts its signaling limits.
func startServer(t testing.TB, sig ...signal.Config) *server.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := server.Config{Addr: "127.0.0.1:0", Logger: log}
	if len(sig) > 0 {
		cfg.Signal = sig[0]
	}
	cfg.Signal.Tap = schematest.Tap(t) // every signaling frame must match protocol/schema
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

var roomSeq struct {
	sync.Mutex
	n int
}

// newRoom gives each test its own room id.
func newRoom(t testing.TB) string {
	roomSeq.Lock()
	defer roomSeq.Unlock()
	roomSeq.n++
	return fmt.Sprintf("gopeer-%d-%d", os.Getpid(), roomSeq.n)
}

// openApp opens the web app's room page in a fresh isolated tab.
func openApp(t *testing.T, b *browsertest.Browser, srv *server.Server, room, name string) context.Context {
	t.Helper()
	page := b.NewPage(t, browsertest.PageName(name), browsertest.Isolated())
	if err := browsertest.Navigate(page, srv.URL()+"/r/"+room); err != nil {
		t.Fatal(err)
	}
	return page
}

// dial joins room with the SDK and closes the call when the test ends.
func dial(t testing.TB, srv *server.Server, room string, opts ...client.Option) *client.Call {
	t.Helper()
	return dialURL(t, srv.URL(), room, opts...)
}

func dialURL(t testing.TB, url, room string, opts ...client.Option) *client.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if os.Getenv("DUET_TEST_LOG") == "1" {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts = append([]client.Option{client.WithLogger(log)}, opts...)
	}
	c, err := client.Dial(ctx, url, room, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pageHasPeer waits until the app has a peer connection object (it
// creates one when the other side is present).
const pageHasPC = `window.duet && window.duet.pc && !!window.duet.pc()`

var (
	buildOnce sync.Once
	duetBin   string
	buildErr  error
)

// duetBinary builds cmd/duet once per test run, for the tests that run
// `duet peer` as a user would, in its own process.
func duetBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "duet-gopeer-bin")
		if err != nil {
			buildErr = err
			return
		}
		duetBin = filepath.Join(dir, "duet")
		cmd := exec.Command("go", "build", "-o", duetBin, "github.com/duet-call/duet/cmd/duet")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return duetBin
}

// TestMain removes the built binary at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if duetBin != "" {
		os.RemoveAll(filepath.Dir(duetBin))
	}
	os.Exit(code)
}
