package browsertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Firefox is one headless Firefox (Debian's firefox-esr) with fake camera
// and microphone, driven over WebDriver BiDi, which Firefox speaks itself:
// no geckodriver. It has one tab. It is for checking that the app works
// in Firefox too; the richer API (tabs, console capture, screenshots)
// is Chromium's.
type Firefox struct {
	cmd *exec.Cmd
	ws  *websocket.Conn
	ctx string // the tab's browsing context id

	mu     sync.Mutex // one command at a time
	nextID int
}

// firefoxPrefs: fake media without a permission prompt, and nothing that
// reaches out to Mozilla's services (this machine's network is closed).
// Host candidates are not hidden behind mDNS names, which a Go peer on
// this machine cannot resolve: as Chromium's WebRtcHideLocalIpsWithMdns
// is turned off (Firefox with it on reached a pion peer in 1 of 2 runs).
const firefoxPrefs = `user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("app.update.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
`

// FindFirefox returns the path of firefox-esr or firefox, or "".
func FindFirefox() string {
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// NewFirefox starts Firefox for t with a fresh profile and stops it when
// the test ends. Without Firefox it skips t, or fails it when DUET_E2E=1.
func NewFirefox(t testing.TB) *Firefox {
	t.Helper()
	bin := FindFirefox()
	if bin == "" {
		if Required() {
			t.Fatal("firefox-esr not found and DUET_E2E is set (install Debian's firefox-esr)")
		}
		t.Skip("firefox-esr not installed; set DUET_E2E=1 to make this a failure")
	}
	profile := t.TempDir()
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile,
		"--remote-debugging-port", fmt.Sprint(port), "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &Firefox{cmd: cmd}
	t.Cleanup(f.close)
	// Firefox says when its BiDi server listens; the rest of its stderr
	// (failed syncs with Mozilla's servers) is noise here.
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "WebDriver BiDi listening on "); ok {
				ready <- url
			}
		}
	}()
	var url string
	select {
	case url = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("firefox: WebDriver BiDi never listened")
	}
	f.ws, _, err = websocket.DefaultDialer.Dial(url+"/session", nil)
	if err != nil {
		t.Fatalf("firefox: %v", err)
	}
	var session struct{}
	if err := f.call("session.new", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}}, &session); err != nil {
		t.Fatalf("firefox: %v", err)
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := f.call("browsingContext.getTree", map[string]any{}, &tree); err != nil || len(tree.Contexts) == 0 {
		t.Fatalf("firefox: no tab: %v", err)
	}
	f.ctx = tree.Contexts[0].Context
	return f
}

func (f *Firefox) close() {
	if f.ws != nil {
		f.call("session.end", map[string]any{}, nil)
		f.ws.Close()
	}
	f.cmd.Process.Kill()
	f.cmd.Wait()
}

// call sends one BiDi command and waits for its answer, skipping events.
func (f *Firefox) call(method string, params any, out any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := f.nextID
	if err := f.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		f.ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var msg struct {
			Type    string          `json:"type"`
			ID      int             `json:"id"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := f.ws.ReadJSON(&msg); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if msg.ID != id {
			continue // an event, or an answer nobody waits for
		}
		if msg.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, msg.Error, msg.Message)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(msg.Result, out)
	}
}

// Navigate loads url in the tab and waits for the page to load.
func (f *Firefox) Navigate(url string) error {
	return f.call("browsingContext.navigate", map[string]any{"context": f.ctx, "url": url, "wait": "complete"}, nil)
}

// Eval evaluates js (which may return a promise) in the page and decodes
// its JSON value into out (nil to ignore it).
func (f *Firefox) Eval(js string, out any) error {
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	expr := "(async () => JSON.stringify(await (" + js + ")))()"
	if err := f.call("script.evaluate", map[string]any{"expression": expr, "target": map[string]any{"context": f.ctx}, "awaitPromise": true}, &res); err != nil {
		return fmt.Errorf("firefox: eval %s: %w", short(js), err)
	}
	if res.Type != "success" {
		return fmt.Errorf("firefox: eval %s: %s", short(js), res.ExceptionDetails.Text)
	}
	if out == nil || res.Result.Type != "string" {
		return nil
	}
	return json.Unmarshal([]byte(res.Result.Value), out)
}

// WaitFor polls js every 100 ms until it is truthy, for at most timeout.
func (f *Firefox) WaitFor(js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		last = f.Eval("(async () => !!(await ("+js+")))()", &ok)
		if last == nil && ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	why := "the expression stayed false"
	if last != nil {
		why = last.Error()
	}
	var status string
	f.Eval(`(document.querySelector('[data-testid="call-status"]') || {}).textContent || ""`, &status)
	return errors.New("firefox: timed out after " + timeout.String() + " waiting for " + short(js) + ": " + why + "; call-status: " + status)
}

// SetViewport sets the tab's viewport to width × height CSS pixels.
func (f *Firefox) SetViewport(width, height int) error {
	return f.call("browsingContext.setViewport", map[string]any{"context": f.ctx,
		"viewport": map[string]any{"width": width, "height": height}}, nil)
}

// Key presses and releases one key, as a person typing would; key is a
// character or a WebDriver key code such as "\uE00C" (Escape).
func (f *Firefox) Key(key string) error {
	return f.call("input.performActions", map[string]any{"context": f.ctx, "actions": []any{map[string]any{
		"type": "key", "id": "keyboard", "actions": []any{
			map[string]any{"type": "keyDown", "value": key}, map[string]any{"type": "keyUp", "value": key},
		}}}}, nil)
}

// MoveMouse moves the mouse to (x, y) in the viewport.
func (f *Firefox) MoveMouse(x, y int) error {
	return f.call("input.performActions", map[string]any{"context": f.ctx, "actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"}, "actions": []any{
			map[string]any{"type": "pointerMove", "x": x, "y": y, "duration": 0},
		}}}}, nil)
}

// Click clicks at (x, y) in the viewport with the left button.
func (f *Firefox) Click(x, y int) error {
	return f.call("input.performActions", map[string]any{"context": f.ctx, "actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"}, "actions": []any{
			map[string]any{"type": "pointerMove", "x": x, "y": y, "duration": 0},
			map[string]any{"type": "pointerDown", "button": 0}, map[string]any{"type": "pointerUp", "button": 0},
		}}}}, nil)
}
