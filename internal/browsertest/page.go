package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultEvalTimeout bounds an Eval whose context has no deadline, so that a
// promise that never settles cannot hang a test.
const DefaultEvalTimeout = 30 * time.Second

// maxConsole is how many console lines a page keeps for error reports.
const maxConsole = 200

// page is what browsertest knows about one tab; it rides in the tab's
// context so that the free functions below can find it.
type page struct {
	name string

	mu      sync.Mutex
	console []string // every console line, oldest dropped past maxConsole
	errors  []string // console errors and uncaught exceptions
	ended   bool     // the test is over: t.Log would panic
}

type pageKey struct{}

func pageOf(ctx context.Context) *page {
	p, _ := ctx.Value(pageKey{}).(*page)
	return p
}

// PageOption changes how NewPage opens a tab.
type PageOption func(*pageConfig)

type pageConfig struct {
	name     string
	isolated bool
}

// PageName names the page in log lines and errors (default page1, page2…).
func PageName(name string) PageOption {
	return func(c *pageConfig) { c.name = name }
}

// Isolated opens the page in its own browser context (like an incognito
// profile): no cookies, storage or cache shared with the other pages.
func Isolated() PageOption {
	return func(c *pageConfig) { c.isolated = true }
}

// NewPage opens a blank tab in its own window and returns its context; use
// it with the functions of this package or with chromedp directly. The tab
// is closed when the test ends. Console errors and uncaught exceptions of
// the page go to the test log as they happen, and if the test fails, the
// page's whole recent console is logged too.
func (b *Browser) NewPage(t testing.TB, opts ...PageOption) context.Context {
	t.Helper()
	cfg := pageConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	// Numbered by order of opening, named or not.
	if def := b.nextName(); cfg.name == "" {
		cfg.name = def
	}
	var ctxOpts []chromedp.ContextOption
	if cfg.isolated {
		ctxOpts = append(ctxOpts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(b.ctx, ctxOpts...)
	// The first Run creates the tab.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: open %s: %v", cfg.name, err)
	}
	p := &page{name: cfg.name}
	ctx = context.WithValue(ctx, pageKey{}, p)

	// Subscribe before returning, so no message of the first navigation
	// is lost; read in a goroutine that ends with the tab.
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.add(t, m)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, ctx, p.name)
		}
		cancel()
		<-done
		p.mu.Lock()
		p.ended = true
		lines := p.console
		p.mu.Unlock()
		if t.Failed() && len(lines) > 0 {
			t.Logf("%s: console before the failure:\n\t%s", p.name, strings.Join(lines, "\n\t"))
		}
	})
	return ctx
}

func (p *page) add(t testing.TB, m chromedp.ConsoleMessage) {
	line := m.String()
	if m.URL != "" {
		line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	isErr := m.Type == chromedp.ConsoleError || m.IsException()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.console = append(p.console, line)
	if len(p.console) > maxConsole {
		p.console = p.console[len(p.console)-maxConsole:]
	}
	if isErr {
		p.errors = append(p.errors, line)
		if len(p.errors) > maxConsole {
			p.errors = p.errors[len(p.errors)-maxConsole:]
		}
		// Logged under the lock so that it cannot race the cleanup that
		// marks the test as over.
		t.Logf("%s console %s", p.name, line)
	}
}

// ConsoleErrors returns the console errors and uncaught exceptions the page
// has shown so far.
func ConsoleErrors(ctx context.Context) []string {
	p := pageOf(ctx)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// Console returns the page's recent console lines (at most 200), oldest
// first, each as "type: text (url:line)".
func Console(ctx context.Context) []string {
	p := pageOf(ctx)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// Name is the page's name, as given by PageName or made up by NewPage.
func Name(ctx context.Context) string {
	if p := pageOf(ctx); p != nil {
		return p.name
	}
	return "page"
}

// Navigate loads url in the page and waits for its load event.
func Navigate(ctx context.Context, url string) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("%s: navigate to %s: %w", Name(ctx), url, err)
	}
	return nil
}

// Reload reloads the page, as a person pressing F5 would, and waits for its
// load event.
func Reload(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		return fmt.Errorf("%s: reload: %w", Name(ctx), err)
	}
	return nil
}

// Eval evaluates the JavaScript expression js in the page, awaits it if it
// is a promise, and decodes its JSON value into out (which may be nil to
// ignore the value). Without a deadline on ctx it gives up after
// DefaultEvalTimeout.
func Eval(ctx context.Context, js string, out any) error {
	ctx, cancel := withDefaultTimeout(ctx, DefaultEvalTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: eval %s: %w", Name(ctx), short(js), err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: eval %s: decode %s: %w", Name(ctx), short(js), raw, err)
	}
	return nil
}

// WaitFor polls the JavaScript expression js (which may return a promise)
// every 100 ms until it is truthy, for at most timeout. On timeout the error
// says what the page's call-status element shows, the expression's last
// value or error, and the page's console errors: enough to tell "never
// connected" from "connected but no frames".
func WaitFor(ctx context.Context, js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	expr := "(async () => !!(await (" + js + ")))()"
	var last error
	for {
		var ok bool
		evalCtx, cancel := context.WithDeadline(ctx, deadline)
		err := Eval(evalCtx, expr, &ok)
		cancel()
		if err == nil && ok {
			return nil
		}
		// An eval cut short by the deadline says nothing about the page;
		// keep the error before it, or none: the expression was false.
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			last = err
		} else if err == nil {
			last = nil
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	why := "\n\tthe expression stayed false"
	if last != nil {
		why = fmt.Sprintf("\n\tlast error: %v", last)
	}
	return fmt.Errorf("%s: timed out after %v waiting for %s%s%s", Name(ctx), timeout, short(js), why, describe(ctx))
}

// describe reports the page's state (call-status, window.duet.state(),
// console errors) for an error message. It uses a fresh
// short deadline because the caller's may be spent.
func describe(ctx context.Context) string {
	var b strings.Builder
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var status string
	if err := Eval(dctx, `(document.querySelector('[data-testid="call-status"]') || {}).textContent || ""`, &status); err == nil {
		fmt.Fprintf(&b, "\n\tcall-status: %q", strings.TrimSpace(status))
	}
	var state string
	if err := Eval(dctx, `(window.duet && window.duet.state && String(window.duet.state())) || ""`, &state); err == nil && state != "" {
		fmt.Fprintf(&b, "\n\twindow.duet.state(): %q", state)
	}
	// What the remote video element holds: a call that connects and
	// decodes but shows nothing is told apart here.
	var video string
	if err := Eval(dctx, remoteVideoStateJS, &video); err == nil && video != "" {
		fmt.Fprintf(&b, "\n\tremote-video: %s", video)
	}
	if errs := ConsoleErrors(ctx); len(errs) > 0 {
		fmt.Fprintf(&b, "\n\tconsole errors:\n\t\t%s", strings.Join(errs, "\n\t\t"))
	}
	return b.String()
}

// remoteVideoStateJS describes the remote video element for describe:
// its ready state, size, whether it plays, and the tracks it is given.
const remoteVideoStateJS = `(() => { const v = document.querySelector('[data-testid="remote-video"]');
	if (!v) return "";
	const tracks = v.srcObject && v.srcObject.getTracks ? v.srcObject.getTracks().map((t) => t.kind + "/" + t.readyState + (t.muted ? "/muted" : "")).join(",") : "none";
	return "readyState " + v.readyState + ", " + v.videoWidth + "x" + v.videoHeight + (v.paused ? ", paused" : ", playing") + ", tracks [" + tracks + "]"; })()`

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func short(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) > 120 {
		return js[:117] + "..."
	}
	return js
}

// saveScreenshot keeps a picture of a page of a failed test when the test
// runs with -artifacts (go test -artifacts -outputdir DIR), to see what the
// page showed.
func saveScreenshot(t testing.TB, ctx context.Context, name string) {
	f := flag.Lookup("test.artifacts")
	if f == nil || f.Value.String() != "true" {
		return
	}
	ad, ok := t.(interface{ ArtifactDir() string })
	if !ok {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("%s: screenshot: %v", name, err)
		return
	}
	path := filepath.Join(ad.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("%s: screenshot: %v", name, err)
		return
	}
	t.Logf("%s: screenshot in %s", name, path)
}
