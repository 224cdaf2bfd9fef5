package client_test

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// cuttable is a UDP socket whose path can be cut and restored: while cut,
// it drops every packet in both directions, as a network that went away
// would. Everything a peer sends and receives over ICE goes through it.
type cuttable struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cuttable) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

func (c *cuttable) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil // lost on the way
	}
	return c.PacketConn.WriteTo(b, addr)
}

// cuttablePeer gives a call one loopback UDP socket for all its ICE
// traffic, with pion's timeouts shortened so an outage shows in seconds.
func cuttablePeer(t *testing.T) (*cuttable, client.Option) {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn := &cuttable{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { mux.Close() }) // after the call's Close (cleanups run last-in first-out)
	se := client.DefaultSettingEngine()
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICETimeouts(time.Second, 3*time.Second, 200*time.Millisecond)
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

	connA.cut.Store(true)
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
	connA.cut.Store(false)

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
