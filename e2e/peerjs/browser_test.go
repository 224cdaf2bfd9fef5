package peerjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// This file is a small Chromium harness of our own until
// internal/browsertest lands; the calls mirror its New/NewPage/WaitFor.

// newBrowser starts headless Chromium with a fake camera. Browser tests run
// only with DUET_E2E=1.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if !e2e() {
		t.Skip("browser test: set DUET_E2E=1 to run it (needs chromium, node and npm)")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("no chromium on PATH (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Two pages of one browser must see each other's host candidates;
		// mDNS-obfuscated ones would not resolve here.
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// newPage opens u in a new tab of the browser.
func newPage(t *testing.T, browser context.Context, u string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady("#remote")); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return ctx
}

// eval runs a JS expression in the page, awaiting it if it is a promise,
// within a deadline.
func eval(t *testing.T, page context.Context, expr string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(page, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("eval %s: decode %s: %v", expr, raw, err)
	}
}

// waitFor polls a boolean JS expression until it is true or the deadline.
func waitFor(t *testing.T, page context.Context, what, expr string) {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		eval(t, page, expr, &ok)
		if ok {
			return
		}
		if time.Now().After(end) {
			var log any
			eval(t, page, "window.log", &log)
			t.Fatalf("timed out waiting for %s; page log %v", what, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pageURL(base string, tg target) string {
	q := url.Values{"host": {tg.host}, "port": {fmt.Sprint(tg.port)}, "path": {tg.path}}
	return base + "/index.html?" + q.Encode()
}
