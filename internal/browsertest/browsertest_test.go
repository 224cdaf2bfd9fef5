package browsertest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
)

// The page logs an error on load and has a call-status element, so the test
// can check that a timeout reports both.
const testPage = `<!doctype html><title>t</title>
<p data-testid="call-status">waiting for the other person</p>
<input data-testid="in"><button data-testid="btn">b</button>
<script src="/page.js"></script>`

const testJS = `console.error("boom from the page");
window.clicks = 0;
document.querySelector('[data-testid="btn"]').onclick = () => { window.clicks++; };`

func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, testPage) })
	mux.HandleFunc("/page.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, testJS)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowser(t *testing.T) {
	srv := server(t)
	b := browsertest.New(t)
	page := b.NewPage(t, browsertest.PageName("one"))
	if err := browsertest.Navigate(page, srv.URL); err != nil {
		t.Fatal(err)
	}

	var sum int
	if err := browsertest.Eval(page, `Promise.resolve(40 + 2)`, &sum); err != nil || sum != 42 {
		t.Fatalf("Eval = %d, %v; want 42", sum, err)
	}

	if err := browsertest.Type(page, "in", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Click(page, "btn"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(page, `window.clicks === 1 && document.querySelector("input").value === "hi"`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Click(page, "nope"); err == nil {
		t.Error("Click on a missing element succeeded")
	}

	// A wait that cannot succeed must fail, and say what the page shows.
	err := browsertest.WaitFor(page, `false`, 500*time.Millisecond)
	if err == nil {
		t.Fatal("WaitFor(false) succeeded")
	}
	for _, want := range []string{"timed out", "waiting for the other person", "boom from the page"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("WaitFor error lacks %q:\n%v", want, err)
		}
	}

	// The fake camera works and needs no prompt.
	var tracks int
	if err := browsertest.Eval(page, `navigator.mediaDevices.getUserMedia({video: true, audio: true}).then((s) => s.getTracks().length)`, &tracks); err != nil || tracks != 2 {
		t.Fatalf("getUserMedia tracks = %d, %v; want 2", tracks, err)
	}

	// Without a duet app, the stats helper reports no peer connection.
	st, err := browsertest.InboundVideo(page)
	if err != nil || st.PC {
		t.Fatalf("InboundVideo = %+v, %v; want no pc", st, err)
	}

	// A second tab of the same browser, isolated, works on its own.
	other := b.NewPage(t, browsertest.Isolated())
	if err := browsertest.Navigate(other, srv.URL); err != nil {
		t.Fatal(err)
	}
	text, err := browsertest.Text(other, "call-status")
	if err != nil || text != "waiting for the other person" {
		t.Fatalf("Text = %q, %v", text, err)
	}
	if browsertest.Name(other) != "page2" {
		t.Errorf("default name = %q, want page2", browsertest.Name(other))
	}

	// A cancelled context stops a wait at once rather than at its timeout.
	ctx, cancel := context.WithCancel(page)
	cancel()
	start := time.Now()
	if err := browsertest.WaitFor(ctx, `false`, time.Minute); err == nil || time.Since(start) > 20*time.Second {
		t.Fatalf("WaitFor on a cancelled context: %v after %v", err, time.Since(start))
	}
}

// TestMissingChromium runs this test binary again without a browser: it
// must skip, with a message, and fail instead when DUET_E2E=1.
func TestMissingChromium(t *testing.T) {
	if os.Getenv("BROWSERTEST_CHILD") == "1" {
		browsertest.New(t)
		t.Fatal("New returned without a browser")
	}
	for _, tc := range []struct {
		require  string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"1", true, "DUET_E2E is set, so this is a failure"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingChromium$", "-test.v")
		cmd.Env = append(os.Environ(), "BROWSERTEST_CHILD=1",
			browsertest.EnvChromium+"=/nonexistent/chromium", browsertest.EnvRequire+"="+tc.require)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail {
			t.Errorf("DUET_E2E=%q: failed=%v, want %v\n%s", tc.require, failed, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "no Chromium") {
			t.Errorf("DUET_E2E=%q: output lacks %q and the reason:\n%s", tc.require, tc.want, out)
		}
	}
}
