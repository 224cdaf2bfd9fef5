package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestScreenShare: sharing sends a screen track in place of the camera's
// (no renegotiation: the same sender), the other side is told, and
// stopping puts the camera back in the same sender.
func TestScreenShare(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t) // its fake UI picks the whole screen
	alice, bob := startCall(t, b, srv.URL())
	senderJS := `(() => { const s = window.duet.pc().getSenders().filter((s) => s.track && s.track.kind === "video");
		return s.length === 1 ? s[0].track.label + "|" + s[0].track.getSettings().displaySurface : "senders: " + s.length; })()`
	var before string
	must(t, browsertest.Eval(alice, senderJS, &before))
	// Real clicks, as the menu holds it: getDisplayMedia needs a user gesture.
	wakeBars(t, alice)
	_, err := chromedp.Run(alice, chromedp.Click(chromedp.CSS(`[data-testid="more-button"]`)))
	must(t, err)
	_, err = chromedp.Run(alice, chromedp.Click(chromedp.CSS(`[data-testid="screen-button"]`)))
	must(t, err)
	must(t, browsertest.WaitFor(alice, browsertest.TestID("screen-button")+`.getAttribute("aria-checked") === "true"`, stepTimeout))
	var during string
	must(t, browsertest.Eval(alice, senderJS, &during))
	if during == before {
		t.Errorf("while sharing, alice's video sender still sends %q", during)
	}
	must(t, browsertest.WaitFor(bob, visible("remote-sharing"), stepTimeout))
	must(t, browsertest.Click(alice, "screen-button"))
	must(t, browsertest.WaitFor(bob, `!`+visible("remote-sharing"), stepTimeout))
	var after string
	must(t, browsertest.Eval(alice, senderJS, &after))
	if after != before {
		t.Errorf("after sharing, alice's video sender sends %q, want the camera %q again", after, before)
	}
	t.Logf("camera %q, screen %q", before, during)
}
