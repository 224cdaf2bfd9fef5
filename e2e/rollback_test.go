package e2e

import (
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
		must(t, browsertest.Eval(page, framesJS, nil))
		must(t, browsertest.WaitFor(page, playingJS(5), connectTimeout))

		glare(t, peer, func() {
			// The app re-offers: any renegotiation does; an ICE restart is one.
			must(t, browsertest.Eval(page, `window.duet.pc().restartIce(), true`, nil))
		})
		must(t, browsertest.WaitFor(page, `window.duet.pc().signalingState === "stable" && window.duet.state() === "connected"`, stepTimeout))
		var before int
		must(t, browsertest.Eval(page, `window.presented`, &before))
		if err := browsertest.WaitFor(page, playingJS(before+10), stepTimeout); err != nil {
			var st any
			browsertest.Eval(page, `(() => { const v = document.querySelector('[data-testid="remote-video"]'); const s = v.srcObject;
				return {w: v.videoWidth, tracks: s ? s.getTracks().map((t) => t.kind + ":" + t.readyState) : null,
					receivers: window.duet.pc().getReceivers().map((r) => r.track.kind + ":" + r.track.readyState + ":" + (s && s.getTracks().includes(r.track)))}; })()`, &st)
			t.Fatalf("run %d: after the rollback the video stopped: %v\n\t%+v", i, err, st)
		}
		ignored, answered := peer.counts()
		t.Logf("run %d: the pion peer ignored %d and answered %d of the app's offers", i, ignored, answered)
	}
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
