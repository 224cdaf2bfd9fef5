package e2e

import (
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// TestPreCallCheck: /check against a server with duet's TURN shows the
// fake camera, moves the level meter with the fake microphone's tone,
// finds a relay candidate, and gives a verdict; in LAN mode it says so.
func TestPreCallCheck(t *testing.T) {
	b := browsertest.New(t)
	t.Run("with TURN", func(t *testing.T) {
		srv := startServerWith(t, server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{ICEServers: startTURN(t).ServersFor}})
		p := b.NewPage(t, browsertest.PageName("check"))
		must(t, browsertest.Navigate(p, srv.URL()+"/check"))
		must(t, browsertest.WaitFor(p, browsertest.TestID("check-video")+`.videoWidth > 0`, stepTimeout))
		// Chromium's fake microphone plays a beep: the meter must move.
		must(t, browsertest.WaitFor(p, `window.duetCheck.maxLevel > 0.01 && `+browsertest.TestID("check-level")+`.value >= 0`, stepTimeout))
		must(t, browsertest.WaitFor(p, `window.duetCheck.verdict !== "pending"`, stepTimeout))
		var got struct{ Media, Stun, Turn, Verdict, Text string }
		must(t, browsertest.Eval(p, `({media: duetCheck.media, stun: duetCheck.stun, turn: duetCheck.turn, verdict: duetCheck.verdict,
			text: `+browsertest.TestID("check-verdict")+`.textContent})`, &got))
		t.Logf("check found %+v", got)
		// Here the server is on this machine: no NAT between, so the
		// browser drops the srflx candidate equal to its host one.
		if got.Media != "ok" || got.Turn != "ok" || (got.Stun != "ok" && got.Stun != "no-nat") || got.Verdict != "direct" || got.Text == "" {
			t.Fatalf("check found %+v; want media ok, TURN ok, STUN ok or no-nat, verdict direct with a text", got)
		}
	})
	t.Run("LAN mode", func(t *testing.T) {
		srv := startServer(t) // hands out no ICE servers, as --lan does
		p := b.NewPage(t, browsertest.PageName("check-lan"))
		must(t, browsertest.Navigate(p, srv.URL()+"/check"))
		must(t, browsertest.WaitFor(p, `window.duetCheck.verdict === "lan" && `+browsertest.TestID("check-verdict")+`.textContent.includes("LAN")`, stepTimeout))
	})
}
