package client_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/duet-call/duet/protocol"
)

// startTURN runs duet's TURN server on loopback, allowed to relay to it,
// and returns a server whose joined hands out its credentials.
func startTURNServer(t testing.TB) (url string) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	turn, err := turnserver.New(turnserver.Config{
		Addr: "127.0.0.1:0", PublicIP: lo, RelayBind: lo, Secret: "relay-test-secret",
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := turn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		turn.Shutdown(ctx)
	})
	ice := &turnserver.ICE{Host: "127.0.0.1", Port: turn.UDPAddr().Port, Secret: "relay-test-secret"}
	srv := startServer(t, signal.Config{ICEServers: func(string, string) []protocol.ICEServer { return ice.Servers("") },
		JoinRate: 1000, JoinBurst: 1000}) // the benchmark joins faster than one IP may
	return srv.URL()
}

// TestRelayPath: a peer that may only relay gets a relayed call with the
// Go peer controlling ICE, and two peers that may connect directly still
// do although TURN is offered: the SDK's relay wait of 0 (DefaultSettingEngine)
// lets a relay pair be chosen at once only when no direct pair has succeeded.
func TestRelayPath(t *testing.T) {
	url := startTURNServer(t)
	for i, tc := range []struct {
		name             string
		ctlRelay, others bool // which side is relay-only
		relayed          bool
	}{
		{"controlling peer relay-only", true, false, true},
		{"controlled peer relay-only", false, true, true},
		{"direct works", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := fmt.Sprintf("relay-%d", i)
			relay := func(on bool) []client.Option {
				if on {
					return []client.Option{client.WithRelayOnly()}
				}
				return nil
			}
			ctl := dial(t, url, room, relay(tc.ctlRelay)...) // first: impolite, offers, controls ICE
			other := dial(t, url, room, relay(tc.others)...)
			waitChat(t, ctl, other)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := ctl.Path(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if relayed := p.Local.Type == "relay" || p.Remote.Type == "relay"; relayed != tc.relayed {
				t.Fatalf("controlling peer's path %v: relayed %v, want %v", p, relayed, tc.relayed)
			}
		})
	}
}

// BenchmarkRelayOnlyConnect: from both peers dialled to chat open, for a
// relay-only call that the Go peer controls (it joins first and offers):
// relay-only itself, with pion's relay wait (2 s, as before) and with the
// SDK's settings; and with the other side relay-only instead.
func BenchmarkRelayOnlyConnect(b *testing.B) {
	url := startTURNServer(b)
	pionWaits := client.DefaultSettingEngine()
	pionWaits.SetRelayAcceptanceMinWait(2 * time.Second)
	for i, bc := range []struct {
		name       string
		opts       []client.Option
		relayFirst bool // the relay-only peer is the one that joins first and controls
	}{
		{"controller-relay-only/pion-relay-wait", []client.Option{client.WithSettingEngine(pionWaits)}, true},
		{"controller-relay-only/sdk", nil, true},
		{"controlled-relay-only/sdk", nil, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			var total time.Duration
			for b.Loop() {
				n++
				room := fmt.Sprintf("relay-bench-%d-%d", i, n)
				start := time.Now()
				relayOnly := append([]client.Option{client.WithRelayOnly()}, bc.opts...)
				var ctl, other *client.Call
				if bc.relayFirst {
					ctl = dial(b, url, room, relayOnly...)
					other = dial(b, url, room, bc.opts...)
				} else {
					ctl = dial(b, url, room, bc.opts...)
					other = dial(b, url, room, relayOnly...)
				}
				waitChat(b, ctl, other)
				total += time.Since(start)
				other.Close()
				ctl.Close()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/connect")
		})
	}
}
