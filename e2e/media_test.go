package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// checkNotice checks what the page says about its own media.
func checkNotice(t *testing.T, page context.Context, wantMode, wantText string) {
	t.Helper()
	var mode string
	must(t, browsertest.Eval(page, `window.duet.media()`, &mode))
	if mode != wantMode {
		t.Errorf("%s: media mode %q, want %q", browsertest.Name(page), mode, wantMode)
	}
	var visible bool
	must(t, browsertest.Eval(page, `!`+browsertest.TestID("media-notice")+`.hidden`, &visible))
	text, err := browsertest.Text(page, "media-notice")
	must(t, err)
	if !visible || !strings.Contains(text, wantText) {
		t.Errorf("%s: media-notice visible=%v %q, want it to say %q", browsertest.Name(page), visible, text, wantText)
	}
}

// TestNoDevices: two people without any camera or microphone (Chromium
// without its fake devices has none here) still get a call, receive-only
// on both sides, with the chat working, and each page says why there is no
// media. A call with only the data channel is also the case that showed
// Chromium failing after rolling back a first offer (see call.js).
func TestNoDevices(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t, browsertest.WithFlag("use-fake-device-for-media-stream", false))
	link := srv.URL() + "/r/no-devices-room"
	a := b.NewPage(t, browsertest.PageName("a"))
	must(t, browsertest.Navigate(a, link))
	waitState(t, a, "waiting", stepTimeout)
	c := b.NewPage(t, browsertest.PageName("c"))
	must(t, browsertest.Navigate(c, link))
	waitState(t, a, "connected", connectTimeout)
	waitState(t, c, "connected", connectTimeout)
	checkNotice(t, a, "receive-only", "No camera or microphone")
	checkNotice(t, c, "receive-only", "No camera or microphone")
	sendChat(t, a, "can you hear me? no.")
	waitChat(t, c, "can you hear me? no.")
	sendChat(t, c, "只有文字 — text only")
	waitChat(t, a, "只有文字 — text only")
}

// TestPermissionDenied: one person refuses the camera and microphone; the
// page says so in words, and that person still sees the other, who has a
// camera. Permissions are per browser, so each person has a Chromium.
func TestPermissionDenied(t *testing.T) {
	srv := startServer(t)
	link := srv.URL() + "/r/denied-room"
	refusing := browsertest.New(t,
		browsertest.WithFlag("use-fake-ui-for-media-stream", false),
		browsertest.WithFlag("deny-permission-prompts", true))
	d := refusing.NewPage(t, browsertest.PageName("denied"))
	must(t, browsertest.Navigate(d, link))
	waitState(t, d, "waiting", stepTimeout)
	checkNotice(t, d, "receive-only", "did not allow")

	o := browsertest.New(t).NewPage(t, browsertest.PageName("camera"))
	must(t, browsertest.Navigate(o, link))
	waitState(t, d, "connected", connectTimeout)
	waitState(t, o, "connected", connectTimeout)
	waitVideo(t, d)
	var visible bool
	must(t, browsertest.Eval(o, `!`+browsertest.TestID("media-notice")+`.hidden`, &visible))
	if visible {
		t.Error("the page with a camera shows a media notice")
	}
}
