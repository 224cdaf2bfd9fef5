package e2e

import (
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// hideJS makes the page report itself hidden or visible, as a background
// tab would, and fires visibilitychange; it also counts, from its first
// run, the Web Audio source nodes the page starts (the chime).
const hideJS = `((hidden) => {
	if (!window.audioStarts) {
		window.audioStarts = 0;
		const start = AudioScheduledSourceNode.prototype.start;
		AudioScheduledSourceNode.prototype.start = function (...a) { window.audioStarts++; return start.apply(this, a); };
		Object.defineProperty(document, "visibilityState", {configurable: true, get: () => window.pageHidden ? "hidden" : "visible"});
		Object.defineProperty(document, "hidden", {configurable: true, get: () => !!window.pageHidden});
	}
	window.pageHidden = hidden;
	document.dispatchEvent(new Event("visibilitychange"));
	return true;
})`

// TestHiddenPageAlerts (issue 15): while the page is hidden, the other
// person joining and a chat line each put a count in the title and play a
// chime made in Web Audio; back in view the title is plain again, and
// nothing of it happens while the page is in view.
func TestHiddenPageAlerts(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	link := srv.URL() + "/r/" + newRoom(t)
	alice := b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, link))
	waitState(t, alice, "waiting", stepTimeout)
	must(t, browsertest.Eval(alice, hideJS+"(true)", nil))

	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	must(t, browsertest.WaitFor(alice, `document.title === "(1) duet" && window.audioStarts > 0`, connectTimeout))
	var starts int
	must(t, browsertest.Eval(alice, `window.audioStarts`, &starts))
	waitState(t, bob, "connected", connectTimeout)
	sendChat(t, bob, "are you there?")
	must(t, browsertest.WaitFor(alice, `document.title === "(2) duet" && window.audioStarts > `+jsInt(starts), stepTimeout))

	must(t, browsertest.Eval(alice, hideJS+"(false)", nil))
	must(t, browsertest.WaitFor(alice, `document.title === "duet"`, stepTimeout))
	must(t, browsertest.Eval(alice, `window.audioStarts`, &starts))
	sendChat(t, bob, "now you see me")
	waitChat(t, alice, "now you see me")
	var after struct {
		Title  string
		Starts int
	}
	must(t, browsertest.Eval(alice, `({title: document.title, starts: window.audioStarts})`, &after))
	if after.Title != "duet" || after.Starts != starts {
		t.Errorf("in view, a chat line changed the title to %q and started %d sounds; want duet and none", after.Title, after.Starts-starts)
	}
}
