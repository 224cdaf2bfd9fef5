package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/duet-call/duet/internal/whip"
)

// TestWHIPClientThroughTURN: whip-client takes its STUN/TURN servers from
// duet's Link headers (--follow-link: the OPTIONS before its offer) and,
// made to relay only (--force-turn), publishes through duet's own TURN
// server with the credentials in those headers; the app in Chromium
// decodes the video over a pair whose remote end is whip-client's relay.
func TestWHIPClientThroughTURN(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"trickled", nil},
		{"no trickle", []string{"-n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ice := startTURN(t)
			d := startDuet(t, whip.Config{ICEServers: ice.Servers})
			b := browsertest.New(t)
			room := newRoom()
			page := openApp(t, b, d, room)
			wc := startWHIPClient(t, d.URL()+"/whip/"+room, append([]string{"-f", "-F", "-V", vp8Pipeline}, tc.args...)...)
			waitDecoding(t, page)
			var remote string
			must(t, browsertest.Eval(page, `(async () => {
				const stats = await window.duet.pc().getStats();
				let pair = null;
				stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
				return pair ? stats.get(pair.remoteCandidateId).candidateType : "";
			})()`, &remote))
			if remote != "relay" {
				t.Errorf("the app's selected pair has a %q remote candidate, want whip-client's relay", remote)
			}
			wc.checkLog()
		})
	}
}

// startTURN runs duet's TURN server on a non-loopback address (Chromium
// does not reach a TURN server on loopback from its real interfaces),
// allowed to relay to that address, as e2e/relay_test.go does.
func startTURN(t *testing.T) *turnserver.ICE {
	t.Helper()
	ip := nonLoopbackIPv4(t)
	b := make([]byte, 16)
	rand.Read(b)
	secret := hex.EncodeToString(b)
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

func nonLoopbackIPv4(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	must(t, err)
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			if ip := p.Addr(); ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	t.Skip("no non-loopback IPv4 address for a TURN server")
	return netip.Addr{}
}
