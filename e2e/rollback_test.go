package e2e

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/duet-call/duet/internal/browsertest"
)

// framesJS counts, in the page, the frames the remote video element
// presents (requestVideoFrameCallback), from when it is first run.
const framesJS = `(() => { const v = document.querySelector('[data-testid="remote-video"]');
	if (!window.presented) { window.presented = 0; const tick = () => { window.presented++; v.requestVideoFrameCallback(tick); }; v.requestVideoFrameCallback(tick); }
	return true; })()`

// playingJS: the remote video element shows decoded frames now: it has a
// size, and more frames were presented than n.
func playingJS(n int) string {
	return `(() => { const v = document.querySelector('[data-testid="remote-video"]');
		return v.videoWidth > 0 && window.presented > ` + strconv.Itoa(n) + `; })()`
}

// TestRollbackKeepsVideo (issue 16): the app is the polite side of a
// mid-call glare with a standard impolite peer (pion, written from the
// protocol, as the W3C perfect negotiation example does it): both offer at
// the same moment, the app rolls back its offer and answers the other's,
// and the remote video element keeps showing the live track — frames go on
// being presented after the rollback, not only decoded.
func TestRollbackKeepsVideo(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	for i := range 3 {
		room := newRoom(t)
		peer := joinPionPeer(t, srv.URL(), room)
		page := b.NewPage(t, browsertest.PageName("app"))
		must(t, browsertest.Navigate(page, srv.URL()+"/r/"+room))
		waitState(t, page, "connected", connectTimeout)
		// The app re-offers: any renegotiation does; an ICE restart is one.
		rollback(t, i, chromiumJS{page}, peer, `window.duet.pc().restartIce(), true`)
	}
}

// TestRollbackKeepsVideoFirefox is TestRollbackKeepsVideo with the app in
// Firefox, whose rollback and track handling are its own. Its re-offer
// adds an inactive audio m-line rather than restarting ICE: a restart
// that Firefox offers to a pion peer fails now and then whatever the
// glare (seen without any: Firefox says connected, pion's ICE agent
// failed, media stops), which is another matter than the rollback under
// test.
//
// Skipped unless DUET_FIREFOX_PION=1: in 20 repetitions (-count=20 -race)
// one call between Firefox and the pion peer never connected (90 s),
// before any glare, so the test would make the suite flaky; the rollback
// itself passed every time the call connected. Both are written down in
// docs/architecture.md, "ICE restart", known open.
func TestRollbackKeepsVideoFirefox(t *testing.T) {
	if os.Getenv("DUET_FIREFOX_PION") != "1" {
		t.Skip("Firefox does not always connect to a pion peer on loopback (issue 16's note); DUET_FIREFOX_PION=1 runs this")
	}
	srv := startServer(t)
	ff := browsertest.NewFirefox(t)
	for i := range 3 {
		room := newRoom(t)
		peer := joinPionPeer(t, srv.URL(), room)
		must(t, ff.Navigate(srv.URL()+"/r/"+room))
		must(t, ff.WaitFor(`window.duet && window.duet.state() === "connected"`, connectTimeout))
		rollback(t, i, ff, peer, `window.duet.pc().addTransceiver("audio", {direction: "inactive"}), true`)
	}
}

// jsPage is a tab of either browser.
type jsPage interface {
	Eval(js string, out any) error
	WaitFor(js string, timeout time.Duration) error
}

type chromiumJS struct{ ctx context.Context }

func (c chromiumJS) Eval(js string, out any) error { return browsertest.Eval(c.ctx, js, out) }
func (c chromiumJS) WaitFor(js string, timeout time.Duration) error {
	return browsertest.WaitFor(c.ctx, js, timeout)
}

// rollback waits until page plays the pion peer's video, makes the two
// collide mid-call with the app polite (reoffer makes the app offer), and
// checks the video goes on.
func rollback(t *testing.T, run int, page jsPage, peer *pionPeer, reoffer string) {
	t.Helper()
	must(t, page.Eval(framesJS, nil))
	must(t, page.WaitFor(playingJS(5), connectTimeout))
	glare(t, peer, func() { must(t, page.Eval(reoffer, nil)) })
	must(t, page.WaitFor(`window.duet.pc().signalingState === "stable" && window.duet.state() === "connected"`, stepTimeout))
	var before int
	must(t, page.Eval(`window.presented`, &before))
	if err := page.WaitFor(playingJS(before+10), stepTimeout); err != nil {
		var st any
		page.Eval(`(() => { const v = document.querySelector('[data-testid="remote-video"]'); const s = v.srcObject;
			return {w: v.videoWidth, tracks: s ? s.getTracks().map((t) => t.kind + ":" + t.readyState) : null,
				receivers: window.duet.pc().getReceivers().map((r) => r.track.kind + ":" + r.track.readyState + ":" + (s && s.getTracks().includes(r.track)))}; })()`, &st)
		t.Fatalf("run %d: after the rollback the video stopped: %v\n\t%+v", run, err, st)
	}
	ignored, answered := peer.counts()
	t.Logf("run %d: the pion peer ignored %d and answered %d of the app's offers", run, ignored, answered)
}

// glare makes the two sides offer at the same moment: the pion peer makes
// its offer and holds it in have-local-offer, appOffers makes the app
// offer, the pion peer ignores that offer as impolite, and only then sends
// its own, which reaches the app while the app's offer is pending.
func glare(t *testing.T, peer *pionPeer, appOffers func()) {
	t.Helper()
	peer.mu.Lock()
	peer.hold = true
	peer.mu.Unlock()
	must(t, peer.offer())
	<-peer.held
	if peer.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		t.Fatalf("pion peer in %v, want have-local-offer", peer.pc.SignalingState())
	}
	ignoredBefore, _ := peer.counts()
	appOffers()
	deadline := time.After(stepTimeout)
	for {
		if ignored, _ := peer.counts(); ignored > ignoredBefore {
			break
		}
		select {
		case <-peer.offers:
		case <-deadline:
			t.Fatal("the app's offer never reached the pion peer")
		}
	}
	peer.sendHeld()
}
