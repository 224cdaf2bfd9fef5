package e2e

import (
	"context"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// The buttons that must be in reach on every screen, in every state.
var callButtons = []string{"mute-button", "camera-button", "hangup-button"}

// TestLayout (issue 15): on two laptop screens, a phone upright and on its
// side, and a small phone, while waiting, connected, with chat open and
// with connection info open, the microphone, camera and hang-up buttons
// are inside the viewport and are what a click there hits; an opened
// panel is in view with the focus in it, and Escape closes it and gives
// the focus back. One browser and one call serve every screen.
func TestLayout(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	link := srv.URL() + "/r/" + newRoom(t)
	alice := b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, link))
	waitState(t, alice, "waiting", stepTimeout)
	checkWaiting(t, chromePage{alice})

	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	for _, p := range []context.Context{alice, bob} {
		waitState(t, p, "connected", connectTimeout)
		must(t, browsertest.WaitFor(p, `window.duet.chatOpen()`, stepTimeout))
	}
	checkConnected(t, chromePage{alice})
}

// checkWaiting: on every screen, the waiting room's link and the call
// buttons are in reach.
func checkWaiting(t *testing.T, page appPage) {
	t.Helper()
	for _, v := range viewports {
		page.setViewport(t, v)
		checkReachable(t, page, fmtState(v, "waiting"), append(callButtons, "room-link", "copy-link-button", "stage-title")...)
	}
}

// checkConnected: on every screen, in a call, the call buttons are in
// reach, and chat and connection info open in view and close with Escape.
func checkConnected(t *testing.T, page appPage) {
	t.Helper()
	for _, v := range viewports {
		page.setViewport(t, v)
		page.wake(t)
		checkReachable(t, page, fmtState(v, "connected"), append(callButtons, "chat-button", "more-button")...)
		checkPanel(t, page, v, "chat-button", "", "chat-panel")
		checkPanel(t, page, v, "stats-button", "more-button", "stats-panel")
	}
}

// checkPanel opens a panel with its button (inside the "more" menu when
// menu is set) as a person would, checks it is in view with the focus in
// it and the call buttons still in reach, then closes it with Escape and
// checks the focus went back.
func checkPanel(t *testing.T, page appPage, v viewport, button, menu, panel string) {
	t.Helper()
	where := fmtState(v, panel+" open")
	page.wake(t)
	opener := button
	if menu != "" {
		opener = menu
		must(t, page.eval(browsertest.TestID(menu)+`.focus(), `+browsertest.TestID(menu)+`.click(), true`, nil))
		checkReachable(t, page, fmtState(v, "menu open"), button)
	}
	must(t, page.eval(`(() => { const b = `+browsertest.TestID(button)+`; if (!document.activeElement || !document.activeElement.closest("[role=menu]")) b.focus(); b.click(); return true; })()`, nil))
	var why string
	must(t, page.eval(panelJS+"("+jsString(panel)+")", &why))
	if why != "" {
		t.Errorf("%s: %s", where, why)
	}
	checkReachable(t, page, where, callButtons...)
	page.key(t, "\u001b") // Escape
	var after struct {
		Hidden bool
		Focus  string
	}
	must(t, page.eval(`({hidden: `+browsertest.TestID(panel)+`.hidden, focus: (document.activeElement && document.activeElement.dataset.testid) || ""})`, &after))
	if !after.Hidden || after.Focus != opener {
		t.Errorf("%s: after Escape the panel is hidden=%v and the focus is on %q; want hidden, focus on %s", where, after.Hidden, after.Focus, opener)
	}
}

// TestLayoutFirefox: the same layout checks with the app in Firefox
// (the other person in Chromium).
func TestLayoutFirefox(t *testing.T) {
	srv := startServer(t)
	ff := browsertest.NewFirefox(t)
	b := browsertest.New(t)
	link := srv.URL() + "/r/" + newRoom(t)
	must(t, ff.Navigate(link))
	must(t, ff.WaitFor(`window.duet && window.duet.state() === "waiting"`, stepTimeout))
	page := firefoxPage{ff}
	checkWaiting(t, page)
	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	must(t, ff.WaitFor(`window.duet.state() === "connected" && window.duet.chatOpen()`, connectTimeout))
	checkConnected(t, page)
}
