package e2e

import (
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestFirefoxCallsChromium: the app in Firefox (fake camera and
// microphone) and in Chromium make a call, Firefox first and so the
// impolite peer: both are connected, each decodes the other's video, and
// chat goes both ways. Firefox and Chromium differ in codecs, candidate
// gathering and stats; this is where that would show.
func TestFirefoxCallsChromium(t *testing.T) {
	srv := startServer(t)
	ff := browsertest.NewFirefox(t)
	b := browsertest.New(t)
	link := srv.URL() + "/r/firefox-room"

	must(t, ff.Navigate(link))
	must(t, ff.WaitFor(`window.duet && window.duet.state() === "waiting"`, stepTimeout))
	chrome := b.NewPage(t, browsertest.PageName("chromium"))
	must(t, browsertest.Navigate(chrome, link))

	must(t, ff.WaitFor(`window.duet.state() === "connected"`, connectTimeout))
	waitState(t, chrome, "connected", connectTimeout)
	waitVideo(t, chrome)
	must(t, ff.WaitFor(`(async () => (await `+browsertest.InboundVideoJS+`).framesDecoded > 0)()`, connectTimeout))
	var st browsertest.VideoStats
	must(t, ff.Eval(browsertest.InboundVideoJS, &st))
	t.Logf("firefox: remote video decoding: %d frames, %dx%d", st.FramesDecoded, st.FrameWidth, st.FrameHeight)

	// Chat both ways, through the same controls a person uses.
	must(t, ff.WaitFor(`window.duet.chatOpen()`, stepTimeout))
	must(t, ff.Eval(`(() => {
		const input = document.querySelector('[data-testid="chat-input"]');
		input.value = "from firefox";
		input.dispatchEvent(new Event("input", {bubbles: true}));
		document.querySelector('[data-testid="chat-send"]').click();
		return true;
	})()`, nil))
	waitChat(t, chrome, "from firefox")
	sendChat(t, chrome, "from chromium")
	must(t, ff.WaitFor(`Array.from(document.querySelector('[data-testid="chat-log"]').children).some((li) => li.textContent.includes("from chromium"))`, stepTimeout))
}
