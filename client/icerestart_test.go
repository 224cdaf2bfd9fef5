package client_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/netcut"
)

// cuttablePeer gives a call one loopback UDP socket for all its ICE
// traffic, with pion's timeouts shortened so an outage shows in seconds.
func cuttablePeer(t *testing.T) (*netcut.Conn, client.Option) {
	t.Helper()
	conn, se := netcut.Engine(t, net.IPv4(127, 0, 0, 1), netcut.Timeouts{Disconnected: time.Second, Failed: 3 * time.Second, Keepalive: 200 * time.Millisecond})
	return conn, client.WithSettingEngine(se)
}

// TestICERestartAfterPathBreaks: the media path between two connected SDK
// peers is cut. Both report reconnecting; the impolite peer, and only it,
// restarts ICE through signaling; when the path is restored the call is
// connected again and chat flows. With the path cut long enough, the
// first restart fails too (pion: failed) and is retried.
func TestICERestartAfterPathBreaks(t *testing.T) {
	for _, restarts := range []int{1, 2} {
		t.Run(fmt.Sprintf("restored after %d restarts", restarts), func(t *testing.T) {
			testICERestart(t, restarts)
		})
	}
}

func testICERestart(t *testing.T, restarts int) {
	srv := startServer(t)
	policy := client.WithICERestart(client.ICERestart{Grace: 500 * time.Millisecond, GiveUp: time.Minute})
	connA, seA := cuttablePeer(t)
	_, seB := cuttablePeer(t)
	var stA, stB stateLog
	inA := newInbox()
	a := dial(t, srv.URL(), "icerestart", seA, policy, stA.option(), inA.option()) // impolite
	b := dial(t, srv.URL(), "icerestart", seB, policy, stB.option())               // polite
	waitChat(t, a, b)
	if a.Polite() || !b.Polite() {
		t.Fatal("roles: want a impolite, b polite")
	}

	connA.SetCut(true)
	waitState(t, "a", a, client.StateReconnecting)
	waitState(t, "b", b, client.StateReconnecting)
	// Hang detector: the restart comes after pion's 1 s disconnected
	// timeout and the 0.5 s grace.
	deadline := time.Now().Add(30 * time.Second)
	for a.ICERestarts() < restarts {
		if time.Now().After(deadline) {
			t.Fatalf("the impolite peer never restarted ICE; states a: %v", &stA)
		}
		time.Sleep(50 * time.Millisecond)
	}
	connA.SetCut(false)

	waitState(t, "a", a, client.StateConnected)
	waitState(t, "b", b, client.StateConnected)
	if n := b.ICERestarts(); n != 0 {
		t.Errorf("the polite peer made %d ICE restarts; only the impolite one should", n)
	}
	if err := b.SendChat("back again"); err != nil {
		t.Fatalf("chat after the ICE restart: %v", err)
	}
	inA.expect(t, "back again")
	for name, l := range map[string]*stateLog{"a": &stA, "b": &stB} {
		if l.seen(client.StatePeerLeft) || l.seen(client.StateFailed) {
			t.Errorf("%s saw the call break: %v", name, l)
		}
	}
}

// waitState polls c's state; the deadline only detects a hang.
func waitState(t *testing.T, name string, c *client.Call, want client.State) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for c.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %v, never %v", name, c.State(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
