package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/turnserver"
)

// nonLoopbackIPv4 is an IPv4 address of this machine that is not loopback:
// Chromium does not send to a TURN server on 127.0.0.1 from its sockets on
// real interfaces, so the test TURN server listens on this one.
func nonLoopbackIPv4(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			if ip := p.Addr(); ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	t.Skip("no non-loopback IPv4 address for a TURN server that Chromium would use")
	return netip.Addr{}
}

// TestRelayOnly: with ?relay=1 both pages use only TURN relay candidates,
// with the credentials the server hands out in joined, through duet's own
// TURN server, and the call still works.
func TestRelayOnly(t *testing.T) {
	srv := startServerWith(t, server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{ICEServers: startTURN(t).ServersFor}})

	b := browsertest.New(t)
	first, second := connectPair(t, b, srv.URL()+"/r/relay-room?relay=1")
	for _, p := range []context.Context{first, second} {
		var got struct {
			Policy string `json:"policy"`
			Local  string `json:"local"`
			Remote string `json:"remote"`
			TURN   bool   `json:"turn"`
		}
		must(t, browsertest.Eval(p, `(async () => {
			const pc = window.duet.pc();
			const conf = pc.getConfiguration();
			const stats = await pc.getStats();
			let pair = null;
			stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
			return {
				policy: conf.iceTransportPolicy,
				turn: conf.iceServers.some((s) => [].concat(s.urls).some((u) => u.startsWith("turn:")) && !!s.username),
				local: pair ? stats.get(pair.localCandidateId).candidateType : "",
				remote: pair ? stats.get(pair.remoteCandidateId).candidateType : "",
			};
		})()`, &got))
		var lan bool
		must(t, browsertest.Eval(p, `!`+browsertest.TestID("lan-mode")+`.hidden`, &lan))
		if lan {
			t.Errorf("%s: shows LAN mode although the server handed out TURN", browsertest.Name(p))
		}
		if got.Policy != "relay" || !got.TURN || got.Local != "relay" || got.Remote != "relay" {
			t.Errorf("%s: policy %q, TURN server with credentials %v, selected pair %s ↔ %s; want relay, true, relay ↔ relay",
				browsertest.Name(p), got.Policy, got.TURN, got.Local, got.Remote)
		}
	}
}

// startTURN runs duet's TURN server on a non-loopback address of this
// machine until the test ends, allowed to relay to that address (the
// peers' relay addresses are there, which the policy refuses by default:
// no relaying into private networks), and returns the ICE servers to hand
// out.
func startTURN(t *testing.T) *turnserver.ICE {
	t.Helper()
	ip := nonLoopbackIPv4(t)
	secretBytes := make([]byte, 16)
	rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)
	turn, err := turnserver.New(turnserver.Config{
		Addr:       netip.AddrPortFrom(ip, 0).String(),
		PublicIP:   ip,
		RelayBind:  ip,
		Secret:     secret,
		AllowPeers: []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())},
	}, nil)
	must(t, err)
	must(t, turn.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		turn.Shutdown(ctx)
	})
	return &turnserver.ICE{Host: ip.String(), Port: turn.UDPAddr().Port, Secret: secret}
}
