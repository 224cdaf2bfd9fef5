package gopeer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/netcut"
)

// TestICERestartWithBrowser: the media path between the web app and a Go
// peer breaks after connecting. Whichever of the two is impolite restarts
// ICE — the browser through call.js, the SDK through its loop — the app
// shows "reconnecting" meanwhile, and once the path is back both are
// connected again and chat flows from the browser to Go.
func TestICERestartWithBrowser(t *testing.T) {
	b := browsertest.New(t)
	for _, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			room := newRoom(t)
			conn, se := netcut.Engine(t, nil, netcut.Timeouts{Disconnected: 2 * time.Second, Failed: 6 * time.Second, Keepalive: 500 * time.Millisecond})
			got := make(chan string, 8)
			opts := []client.Option{
				client.WithSettingEngine(se),
				client.WithOnChat(func(s string) { got <- s }),
				client.WithICERestart(client.ICERestart{Grace: time.Second, GiveUp: 2 * time.Minute}),
			}
			status := browsertest.TestID("call-status") + `.dataset.state`
			var page context.Context
			var call *client.Call
			if tc.goFirst {
				call = dial(t, srv, room, opts...)
				page = openApp(t, b, srv, room, "browser")
			} else {
				page = openApp(t, b, srv, room, "browser")
				// In the room (and so impolite) before the Go peer comes.
				if err := browsertest.WaitFor(page, status+` === "waiting" && window.duet.joined()`, 20*time.Second); err != nil {
					t.Fatal(err)
				}
				call = dial(t, srv, room, opts...)
			}
			if call.Polite() == tc.goFirst {
				t.Fatalf("Go peer polite=%v, want the first to join impolite", call.Polite())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := call.WaitChat(ctx); err != nil {
				t.Fatalf("chat never opened on the Go side: %v", err)
			}
			if err := browsertest.WaitFor(page, status+` === "connected"`, 20*time.Second); err != nil {
				t.Fatal(err)
			}

			conn.SetCut(true)
			if err := browsertest.WaitFor(page, status+` === "reconnecting"`, 60*time.Second); err != nil {
				t.Fatalf("the app never showed reconnecting: %v (Go state %v)", err, call.State())
			}
			restarted := func() bool {
				if tc.goFirst {
					return call.ICERestarts() > 0
				}
				return consoleHas(page, "call: restarting ICE")
			}
			deadline := time.Now().Add(60 * time.Second) // hang detector
			for !restarted() {
				if time.Now().After(deadline) {
					t.Fatalf("the impolite peer never restarted ICE (Go state %v)", call.State())
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
			// Only the impolite side restarts.
			if !tc.goFirst && call.ICERestarts() != 0 {
				t.Errorf("the polite Go peer made %d ICE restarts", call.ICERestarts())
			}
			if tc.goFirst && consoleHas(page, "call: restarting ICE") {
				t.Error("the polite browser restarted ICE")
			}
			if err := browsertest.Type(page, "chat-input", "after the restart"); err != nil {
				t.Fatal(err)
			}
			if err := browsertest.Click(page, "chat-send"); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-got:
				if s != "after the restart" {
					t.Fatalf("Go peer got %q", s)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("chat after the ICE restart never reached the Go peer")
			}
		})
	}
}

func consoleHas(page context.Context, s string) bool {
	for _, line := range browsertest.Console(page) {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
