package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestInstallable (issue 15): Chromium finds nothing that stops it from
// installing the app (manifest, icons, service worker), the service
// worker keeps only the app shell — never signaling, the API, QR codes or
// media — and with the server gone the home page and a room page still
// open from it.
func TestInstallable(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	p := b.NewPage(t, browsertest.PageName("app"))
	must(t, browsertest.Navigate(p, srv.URL()+"/"))
	// It claims the page once active (clients.claim), no reload needed.
	must(t, browsertest.WaitFor(p, `!!navigator.serviceWorker.controller`, stepTimeout))

	var errs []string
	_, err := chromedp.Run(p, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, page.GetInstallabilityErrors, cdp.Empty{})
		for _, e := range res.InstallabilityErrors {
			errs = append(errs, e.ErrorID)
		}
		return err
	}))
	must(t, err)
	if len(errs) > 0 {
		t.Errorf("installability errors: %v", errs)
	}

	// A call, so that signaling, the API and the QR code were all fetched.
	room := newRoom(t)
	must(t, browsertest.Navigate(p, srv.URL()+"/r/"+room))
	waitState(t, p, "waiting", stepTimeout)
	must(t, browsertest.WaitFor(p, browsertest.TestID("qr-code")+`.complete`, stepTimeout))
	var cached []string
	must(t, browsertest.Eval(p, `(async () => { const out = [];
		for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
		return out; })()`, &cached))
	if len(cached) < 10 {
		t.Errorf("the service worker caches %v; want the app shell", cached)
	}
	for _, c := range cached {
		if strings.HasPrefix(c, "/ws") || strings.HasPrefix(c, "/api/") || strings.HasPrefix(c, "/qr/") || strings.HasPrefix(c, "/r/") {
			t.Errorf("the service worker cached %s", c)
		}
	}

	// The server goes away: the shell still opens, from the cache.
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	must(t, srv.Shutdown(ctx))
	for path, want := range map[string]string{"/": "", "/r/" + room: room} {
		must(t, browsertest.Navigate(p, srv.URL()+path))
		must(t, browsertest.WaitFor(p, `!!window.duet && !!`+browsertest.TestID("hangup-button")+` && window.duet.room() === `+jsString(want), stepTimeout))
	}
	var state string
	must(t, browsertest.Eval(p, `window.duet.state()`, &state))
	t.Logf("offline, the room page opened from the cache and shows %q", state)
}
