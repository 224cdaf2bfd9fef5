package gopeer

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/netcut"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// startServerAt runs the server on addr with a given resume secret, so a
// second one on the same port takes the first one's peers back.
func startServerAt(t *testing.T, addr string, secret []byte) *server.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(server.Config{Addr: addr, Logger: log, Signal: signal.Config{ResumeSecret: secret, Tap: schematest.Tap(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv) })
	return srv
}

func stopServer(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// TestServerRestartWithBrowser: the web app and a Go peer are in a call
// when the server restarts on the same port (same resume secret). Both
// resume — the app never leaves "connected", the Go peer's signaling comes
// back, neither sees the other leave — and the call can still negotiate
// through the new server: the Go peer's path is then cut, the impolite
// side restarts ICE, and both are connected again.
func TestServerRestartWithBrowser(t *testing.T) {
	b := browsertest.New(t)
	secret := []byte("resume secret for the gopeer restart test")
	for _, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServerAt(t, "127.0.0.1:0", secret)
			addr := srv.Addr().String()
			room := newRoom(t)
			conn, se := netcut.Engine(t, nil, netcut.Timeouts{Disconnected: 2 * time.Second, Failed: 6 * time.Second, Keepalive: 500 * time.Millisecond})
			up := make(chan bool, 8)
			var left []client.State
			states := make(chan client.State, 64)
			opts := []client.Option{
				client.WithSettingEngine(se),
				client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second, Total: time.Minute}),
				client.WithICERestart(client.ICERestart{Grace: time.Second, GiveUp: 2 * time.Minute}),
				client.WithOnSignalingChange(func(s bool) { up <- s }),
				client.WithOnStateChange(func(s client.State) { states <- s }),
			}
			status := browsertest.TestID("call-status") + `.dataset.state`
			var page context.Context
			var call *client.Call
			if tc.goFirst {
				call = dial(t, srv, room, opts...)
				page = openApp(t, b, srv, room, "browser")
			} else {
				page = openApp(t, b, srv, room, "browser")
				if err := browsertest.WaitFor(page, status+` === "waiting" && window.duet.joined()`, 20*time.Second); err != nil {
					t.Fatal(err)
				}
				call = dial(t, srv, room, opts...)
			}
			if err := browsertest.WaitFor(page, status+` === "connected"`, 30*time.Second); err != nil {
				t.Fatal(err)
			}

			stopServer(srv)
			waitSignaling(t, up, false)
			startServerAt(t, addr, secret)
			waitSignaling(t, up, true)
			// The app resumes too: its socket is back when the server
			// relays our next negotiation, which the ICE restart needs.
			if err := browsertest.WaitFor(page, status+` === "connected"`, 30*time.Second); err != nil {
				t.Fatal(err)
			}

			conn.SetCut(true)
			if err := browsertest.WaitFor(page, status+` === "reconnecting"`, 60*time.Second); err != nil {
				t.Fatalf("the app never showed reconnecting: %v (Go state %v)", err, call.State())
			}
			deadline := time.Now().Add(60 * time.Second) // hang detector
			for !(call.ICERestarts() > 0 || consoleHas(page, "call: restarting ICE")) {
				if time.Now().After(deadline) {
					t.Fatalf("no ICE restart (Go state %v)", call.State())
				}
				time.Sleep(100 * time.Millisecond)
			}
			conn.SetCut(false)
			if err := browsertest.WaitFor(page, status+` === "connected"`, 60*time.Second); err != nil {
				t.Fatalf("the app never came back to connected: %v (Go state %v)", err, call.State())
			}
			deadline = time.Now().Add(30 * time.Second)
			for call.State() != client.StateConnected {
				if time.Now().After(deadline) {
					t.Fatalf("Go peer state %v, never connected again", call.State())
				}
				time.Sleep(50 * time.Millisecond)
			}
			for len(states) > 0 {
				if s := <-states; s == client.StatePeerLeft || s == client.StateFailed {
					left = append(left, s)
				}
			}
			if len(left) > 0 {
				t.Fatalf("the Go peer saw the call break: %v", left)
			}
			if consoleHas(page, "-> peer-left") {
				t.Fatal("the app saw the Go peer leave")
			}
			if !consoleHas(page, "-> server-gone") {
				t.Fatalf("the app never lost its server; console:\n%s", strings.Join(browsertest.Console(page), "\n"))
			}
		})
	}
}

// waitSignaling waits for the Go peer's signaling to report want; the
// deadline only detects a hang.
func waitSignaling(t *testing.T, up <-chan bool, want bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-up:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("Go peer signaling up=%v never reported", want)
		}
	}
}
