package e2e

import (
	"context"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestAccessibility (issue 15): axe-core, injected into the page, reports
// no violation on the landing page, /check, while waiting, in a call,
// with chat and with connection info open, on a full room, and in the
// Chinese UI (contrast included: white on the primary blue and on hang
// up's red once failed it).
func TestAccessibility(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	axe := axeSource(t)

	home := b.NewPage(t, browsertest.PageName("home"))
	must(t, browsertest.Navigate(home, srv.URL()+"/"))
	must(t, browsertest.WaitFor(home, `window.duet.state() === "idle"`, stepTimeout))
	checkAxe(t, home, axe, "landing")
	must(t, browsertest.Click(home, "lang-switch"))
	checkAxe(t, home, axe, "landing in Chinese")
	must(t, browsertest.Click(home, "lang-switch"))

	must(t, browsertest.Navigate(home, srv.URL()+"/check"))
	must(t, browsertest.WaitFor(home, browsertest.TestID("check-media")+`.dataset.state !== "pending"`, stepTimeout))
	checkAxe(t, home, axe, "/check")

	link := srv.URL() + "/r/" + newRoom(t)
	alice := b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, link))
	waitState(t, alice, "waiting", stepTimeout)
	must(t, browsertest.WaitFor(alice, browsertest.TestID("qr-code")+`.complete`, stepTimeout))
	checkAxe(t, alice, axe, "waiting")

	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	for _, p := range []context.Context{alice, bob} {
		waitState(t, p, "connected", connectTimeout)
		must(t, browsertest.WaitFor(p, `window.duet.chatOpen()`, stepTimeout))
	}
	sendChat(t, bob, "hello")
	waitChat(t, alice, "hello")
	must(t, browsertest.WaitFor(alice, `!!window.duet.stats() && !`+browsertest.TestID("signal")+`.hidden`, connectTimeout))
	wakeBars(t, alice)
	checkAxe(t, alice, axe, "connected")
	must(t, browsertest.Click(alice, "more-button"))
	checkAxe(t, alice, axe, "more menu")
	must(t, browsertest.Click(alice, "more-button"))
	must(t, browsertest.Click(alice, "chat-button"))
	checkAxe(t, alice, axe, "chat")
	must(t, browsertest.Click(alice, "stats-button"))
	must(t, browsertest.WaitFor(alice, `window.duet.panel() === "stats"`, stepTimeout))
	checkAxe(t, alice, axe, "connection info")
	must(t, browsertest.Click(alice, "lang-switch"))
	checkAxe(t, alice, axe, "connection info in Chinese")
	must(t, browsertest.Click(alice, "chat-button"))
	checkAxe(t, alice, axe, "chat in Chinese")

	carol := b.NewPage(t, browsertest.PageName("carol"), browsertest.Isolated())
	must(t, browsertest.Navigate(carol, link))
	waitState(t, carol, "room-full", stepTimeout)
	checkAxe(t, carol, axe, "room full")
	must(t, browsertest.Click(alice, "hangup-button"))
	waitState(t, bob, "peer-left", stepTimeout)
	checkAxe(t, bob, axe, "peer left")
	waitState(t, alice, "ended", stepTimeout)
	checkAxe(t, alice, axe, "hung up, in Chinese")
}
