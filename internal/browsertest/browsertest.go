// Package browsertest drives Debian's headless Chromium from Go tests, for
// tests that need a real browser: the web app end to end, and a Go peer
// calling a browser.
//
// One Chromium process serves a whole test; each page is a tab (its own
// window, so that no tab is hidden and starved of frames). Chromium gets a
// fake camera and microphone and grants media permission without a prompt.
//
//	b := browsertest.New(t)
//	page := b.NewPage(t)
//	if err := browsertest.Navigate(page, srv.URL()+"/r/room"); err != nil { ... }
//	if err := browsertest.WaitFor(page, `window.duet.state() === "connected"`, time.Minute); err != nil { ... }
//
// Without Chromium, New skips the test with a message saying how to install
// it, unless DUET_E2E=1 is set, in which case it fails: CI sets it so that a
// missing browser can never turn into a green run that tested nothing.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvRequire is the environment variable that turns a missing Chromium from
// a skip into a failure.
const EnvRequire = "DUET_E2E"

// Browser is one running Chromium. It is closed by the test's cleanup.
type Browser struct {
	ctx    context.Context // the first chromedp context: owns the process
	cancel context.CancelFunc

	mu    sync.Mutex
	pages int // number of pages opened, for default names
}

type config struct {
	flags map[string]any
	env   []string
}

// Option changes how New starts Chromium.
type Option func(*config)

// WithFlag adds a command-line flag (without the leading dashes), or
// overrides one of the defaults. A value of true gives a bare --name, false
// removes the flag.
func WithFlag(name string, value any) Option {
	return func(c *config) { c.flags[name] = value }
}

// WithEnv adds KEY=VALUE variables to Chromium's environment, for example
// a HOME whose ~/.pki/nssdb trusts a test CA.
func WithEnv(kv ...string) Option {
	return func(c *config) { c.env = append(c.env, kv...) }
}

// WithIgnoreCertErrors makes Chromium accept any TLS certificate, for tests
// against a server with a self-signed one.
func WithIgnoreCertErrors() Option {
	return WithFlag("ignore-certificate-errors", true)
}

// defaultFlags are the flags of every test browser. chromedp's own defaults
// come first; these are added or override them.
func defaultFlags() map[string]any {
	return map[string]any{
		"headless":                      true,
		"no-sandbox":                    true, // the test machines run as root
		"disable-gpu":                   true,
		"no-first-run":                  true,
		"disable-background-networking": true,
		"disable-component-update":      true,
		"disable-sync":                  true,
		// A fake camera (a moving test pattern) and microphone (a beep),
		// and no permission prompt: getUserMedia just succeeds.
		"use-fake-device-for-media-stream": true,
		"use-fake-ui-for-media-stream":     true,
		// Remote <video autoplay> must play without a click.
		"autoplay-policy": "no-user-gesture-required",
		// A page without a media permission (receive-only) would otherwise
		// hide its host candidates behind mDNS names that a Go peer on
		// this machine cannot resolve. Translate and BlinkGenPropertyTrees
		// are chromedp's defaults for this flag, kept.
		"disable-features": "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns",
	}
}

// EnvChromium names the environment variable that, when set, is the path of
// the Chromium binary to use instead of looking for one.
const EnvChromium = "DUET_CHROMIUM"

// FindChromium returns the path of the Chromium binary: $DUET_CHROMIUM if
// set (and "" if that file does not exist), else /usr/bin/chromium, or
// chromium or chromium-browser on PATH. It returns "" if there is none.
func FindChromium() string {
	if p := os.Getenv(EnvChromium); p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		return ""
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Required reports whether DUET_E2E asks for browser tests to fail rather
// than skip when Chromium is missing.
func Required() bool {
	v := os.Getenv(EnvRequire)
	return v != "" && v != "0"
}

// New starts Chromium for the test t, with a fresh profile in a temporary
// directory, and stops it when the test ends. It skips t when there is no
// Chromium, or fails it when DUET_E2E=1.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	bin := FindChromium()
	if bin == "" {
		msg := "browsertest: no Chromium (looked for $" + EnvChromium + ", /usr/bin/chromium, chromium and chromium-browser on PATH); install it with `apt-get install chromium`"
		if Required() {
			t.Fatal(msg + "; " + EnvRequire + " is set, so this is a failure")
		}
		t.Skip(msg + "; set " + EnvRequire + "=1 to make this a failure")
	}
	cfg := &config{flags: defaultFlags()}
	for _, o := range opts {
		o(cfg)
	}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
	)
	for name, v := range cfg.flags {
		allocOpts = append(allocOpts, chromedp.Flag(name, v))
	}
	if len(cfg.env) > 0 {
		allocOpts = append(allocOpts, chromedp.Env(cfg.env...))
	}
	// The browser lives as long as the test, not as long as any one
	// action, so its context has no deadline; actions get their own.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx, cancel: func() { cancelCtx(); cancelAlloc() }}

	start := make(chan error, 1)
	go func() { start <- chromedp.Do(ctx) }()
	select {
	case err := <-start:
		if err != nil {
			b.cancel()
			t.Fatalf("browsertest: start %s: %v", bin, err)
		}
	case <-time.After(60 * time.Second):
		b.cancel()
		t.Fatalf("browsertest: %s did not start within 60s", bin)
	}
	t.Cleanup(b.close)
	return b
}

// close stops Chromium, gracefully first so that it can remove its
// temporary files, then for good.
func (b *Browser) close() {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
		// Nothing to report to: the browser is going away either way.
		_ = err
	}
	b.cancel()
}

// Context is the browser's root chromedp context, for callers that need
// chromedp directly (for example to list targets). Do not cancel it.
func (b *Browser) Context() context.Context { return b.ctx }

func (b *Browser) nextName() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pages++
	return fmt.Sprintf("page%d", b.pages)
}
