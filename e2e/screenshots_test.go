package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestScreenshots writes the pictures in docs/screenshots when
// DUET_SCREENSHOTS names a directory: the landing page, waiting, a call,
// chat and connection info, on a laptop and on a phone upright and on its
// side, in English and Chinese. Normal runs skip it, so they never
// rewrite the committed files.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("DUET_SCREENSHOTS")
	if dir == "" {
		t.Skip("DUET_SCREENSHOTS is not set")
	}
	must(t, os.MkdirAll(dir, 0o755))
	srv := startServer(t)
	b := browsertest.New(t)
	shot := func(page context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(page, chromedp.CaptureScreenshot())
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
		t.Logf("%s.png: %d bytes", name, len(png))
	}
	setLang := func(page context.Context, lang string) {
		t.Helper()
		var cur string
		must(t, browsertest.Eval(page, `window.duet.lang()`, &cur))
		if cur != lang {
			must(t, browsertest.Click(page, "lang-switch"))
		}
		must(t, browsertest.Eval(page, `document.activeElement && document.activeElement.blur(), true`, nil))
	}
	laptop := viewport{"laptop", 1280, 800, false}
	phone := viewport{"phone", 390, 844, true}
	landscape := viewport{"phone-landscape", 844, 390, true}

	home := b.NewPage(t, browsertest.PageName("home"))
	setViewport(t, home, viewport{"home", 800, 600, false})
	must(t, browsertest.Navigate(home, srv.URL()+"/"))
	for _, lang := range []string{"en", "zh-CN"} {
		setLang(home, lang)
		shot(home, "landing-"+lang)
	}
	setLang(home, "en")

	link := srv.URL() + "/r/" + newRoom(t)
	alice := b.NewPage(t, browsertest.PageName("alice"))
	setViewport(t, alice, laptop)
	must(t, browsertest.Navigate(alice, link))
	waitState(t, alice, "waiting", stepTimeout)
	must(t, browsertest.WaitFor(alice, browsertest.TestID("qr-code")+`.complete`, stepTimeout))
	shot(alice, "waiting-en")
	setViewport(t, alice, phone)
	shot(alice, "waiting-phone-en")
	setViewport(t, alice, laptop)

	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, link))
	for _, p := range []context.Context{alice, bob} {
		waitState(t, p, "connected", connectTimeout)
		must(t, browsertest.WaitFor(p, `window.duet.chatOpen()`, stepTimeout))
	}
	waitVideo(t, alice)
	must(t, browsertest.Type(bob, "display-name", "Bob"))
	must(t, browsertest.Eval(bob, browsertest.TestID("display-name")+`.dispatchEvent(new Event("change")), true`, nil))
	sendChat(t, bob, "Hi! Can you hear me?")
	waitChat(t, alice, "Can you hear me?")
	sendChat(t, alice, "Yes, loud and clear.")
	must(t, browsertest.Click(bob, "mute-button"))
	must(t, browsertest.WaitFor(alice, visible("remote-muted")+` && !!window.duet.stats()`, connectTimeout))
	for _, lang := range []string{"en", "zh-CN"} {
		setLang(alice, lang)
		wakeBars(t, alice)
		shot(alice, "call-"+lang)
	}
	setLang(alice, "en")
	wakeBars(t, alice)
	must(t, browsertest.Click(alice, "chat-button"))
	shot(alice, "chat-en")
	must(t, browsertest.Click(alice, "chat-button"))
	must(t, browsertest.Click(alice, "stats-button"))
	// A few seconds of history for the chart.
	must(t, browsertest.WaitFor(alice, `window.duet.statsHistory() >= 8`, connectTimeout))
	for _, lang := range []string{"en", "zh-CN"} {
		setLang(alice, lang)
		wakeBars(t, alice)
		shot(alice, "stats-"+lang)
	}
	must(t, browsertest.Click(alice, "stats-button"))
	setLang(alice, "en")
	for _, v := range []viewport{phone, landscape} {
		setViewport(t, alice, v)
		wakeBars(t, alice)
		shot(alice, "call-"+v.name+"-en")
	}
	setViewport(t, alice, phone)
	must(t, browsertest.Click(alice, "chat-button"))
	wakeBars(t, alice)
	shot(alice, "chat-phone-en")
	must(t, browsertest.Click(alice, "chat-button"))
	wakeBars(t, alice)
	must(t, browsertest.Click(alice, "more-button"))
	var rect any
	must(t, browsertest.Eval(alice, `(() => { const r = document.getElementById("more-menu").getBoundingClientRect(); const c = document.getElementById("controls").getBoundingClientRect(); return [r.left, r.right, c.left, c.right, innerWidth, getComputedStyle(document.getElementById("more-menu")).right]; })()`, &rect))
	t.Logf("menu %v", rect)
	shot(alice, "menu-phone-en")
}
