package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
)

// viewport is a screen the layout must work on.
type viewport struct {
	name   string
	w, h   int64
	mobile bool
}

// viewports are the screens of issue 15: two laptops, a phone upright and
// on its side, and a small phone.
var viewports = []viewport{
	{"1280x800", 1280, 800, false},
	{"1366x768", 1366, 768, false},
	{"390x844", 390, 844, true},
	{"844x390", 844, 390, true},
	{"360x640", 360, 640, true},
}

// setViewport gives the page that screen (a phone's with touch).
func setViewport(t *testing.T, page context.Context, v viewport) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
		if v.w > v.h {
			opts = append(opts, chromedp.EmulateLandscape)
		}
	}
	_, err := chromedp.Run(page, chromedp.EmulateViewport(v.w, v.h, opts...))
	must(t, err)
}

// reachableJS: for each data-testid, whether the element is wholly inside
// the viewport and is what a click at its centre hits (elementFromPoint),
// so a person can see and press it. It returns the ones that are not,
// with why.
const reachableJS = `((ids) => {
	const bad = [];
	for (const id of ids) {
		const el = document.querySelector('[data-testid="' + id + '"]');
		if (!el) { bad.push(id + ": missing"); continue; }
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) { bad.push(id + ": not shown"); continue; }
		if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) {
			bad.push(id + ": at " + [r.left, r.top, r.right, r.bottom].map(Math.round) + " outside " + innerWidth + "x" + innerHeight); continue;
		}
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (!hit || !(hit === el || el.contains(hit))) bad.push(id + ": covered by " + (hit ? hit.tagName + "#" + hit.id + "." + hit.className : "nothing"));
	}
	return bad;
})`

// appPage is the app in a browser tab, Chromium's or Firefox's, for the
// layout checks that run in both.
type appPage interface {
	eval(js string, out any) error
	setViewport(t *testing.T, v viewport)
	wake(t *testing.T) // moves the mouse over the stage
	key(t *testing.T, key string)
}

type chromePage struct{ ctx context.Context }

func (p chromePage) eval(js string, out any) error        { return browsertest.Eval(p.ctx, js, out) }
func (p chromePage) setViewport(t *testing.T, v viewport) { setViewport(t, p.ctx, v) }
func (p chromePage) wake(t *testing.T)                    { wakeBars(t, p.ctx) }
func (p chromePage) key(t *testing.T, key string)         { pressKey(t, p.ctx, key) }

type firefoxPage struct{ f *browsertest.Firefox }

func (p firefoxPage) eval(js string, out any) error { return p.f.Eval(js, out) }
func (p firefoxPage) setViewport(t *testing.T, v viewport) {
	t.Helper()
	must(t, p.f.SetViewport(int(v.w), int(v.h)))
}
func (p firefoxPage) wake(t *testing.T) {
	t.Helper()
	must(t, p.f.MoveMouse(50, 100))
	must(t, p.f.MoveMouse(60, 100))
	must(t, p.f.WaitFor(`!document.getElementById("stage").classList.contains("idle")`, stepTimeout))
}
func (p firefoxPage) key(t *testing.T, key string) {
	t.Helper()
	if key == "\u001b" {
		key = "\uE00C" // WebDriver's Escape
	}
	must(t, p.f.Key(key))
}

// checkReachable fails t for each element of ids a person could not see
// and press on page.
func checkReachable(t *testing.T, page appPage, where string, ids ...string) {
	t.Helper()
	var bad []string
	must(t, page.eval(reachableJS+"("+jsList(ids)+")", &bad))
	for _, b := range bad {
		t.Errorf("%s: %s", where, b)
	}
}

// panelJS: whether the panel is inside the viewport and holds the focus.
const panelJS = `((id) => {
	const p = document.querySelector('[data-testid="' + id + '"]');
	if (!p || p.hidden) return id + " is not open";
	const r = p.getBoundingClientRect();
	if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5 || r.height < 40)
		return id + " at " + [r.left, r.top, r.right, r.bottom].map(Math.round) + " is not inside " + innerWidth + "x" + innerHeight;
	if (!p.contains(document.activeElement)) return "the focus is on " + (document.activeElement && document.activeElement.outerHTML.slice(0, 80)) + ", not in " + id;
	return "";
})`

// wakeBars moves the mouse over the stage, as a person would to bring
// back the bars that hide during a call.
func wakeBars(t *testing.T, page context.Context) {
	t.Helper()
	for _, x := range []float64{50, 60} {
		_, err := chromedp.Run(page, chromedp.MouseEvent(chromedp.MouseMoved, x, 100))
		must(t, err)
	}
	must(t, browsertest.WaitFor(page, `!document.getElementById("stage").classList.contains("idle")`, stepTimeout))
}

// pressKey sends a real key press (for example "Escape") to the page.
func pressKey(t *testing.T, page context.Context, key string) {
	t.Helper()
	_, err := chromedp.Run(page, chromedp.KeyEvent(key))
	must(t, err)
}

// jsList writes ids as a JavaScript array of strings.
func jsList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = jsString(id)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// axeSource is axe-core, a test fixture (testdata/axe/README.md).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	must(t, err)
	return string(b)
}

// axeJS runs axe-core (already injected) on the page and lists each
// violation with the nodes it found.
const axeJS = `(async () => {
	const r = await axe.run(document, {resultTypes: ["violations"]});
	return r.violations.map((v) => v.id + " (" + v.impact + "): " + v.help + " — " +
		v.nodes.slice(0, 4).map((n) => n.target.join(" ") + (n.failureSummary ? " [" + n.failureSummary.replace(/\s+/g, " ").slice(0, 160) + "]" : "")).join("; "));
})()`

// checkAxe injects axe-core into page (the DevTools protocol is not
// bound by the page's CSP) and fails t for every violation it reports.
func checkAxe(t *testing.T, page context.Context, src, where string) {
	t.Helper()
	var have bool
	must(t, browsertest.Eval(page, `typeof axe !== "undefined"`, &have))
	if !have {
		must(t, browsertest.Eval(page, src+"\n;true", nil))
	}
	var violations []string
	must(t, browsertest.Eval(page, axeJS, &violations))
	for _, v := range violations {
		t.Errorf("axe, %s: %s", where, v)
	}
	t.Logf("axe, %s: %d violations", where, len(violations))
}

// fmtState names a state for messages.
func fmtState(v viewport, state string) string { return fmt.Sprintf("%s, %s", v.name, state) }
