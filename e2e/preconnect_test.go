package e2e

import (
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// slowCameraScript makes getUserMedia take 2.5 s, as a camera that is slow
// to start (or a person slow to allow it) does, and records when the page
// opened signaling sockets, sent its join and got its media (ms from
// navigation start).
const slowCameraScript = `window.pre = { opens: [], joins: [], media: 0 };
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => new Promise((r) => setTimeout(r, 2500)).then(() => gum(c)).then((s) => { window.pre.media = performance.now(); return s; });
const WS = window.WebSocket;
window.WebSocket = class extends WS {
	constructor(...a) { super(...a); this.addEventListener("open", () => window.pre.opens.push(performance.now())); }
	send(d) { if (typeof d === "string" && d.includes('"join"')) window.pre.joins.push(performance.now()); super.send(d); }
};`

// TestSignalingOpensWhileTheCameraStarts (issue 15): the page opens its
// signaling socket while getUserMedia is still pending, so the socket's
// handshake does not wait for the camera, but joins only once it has its
// media, so the other side never meets a peer with nothing to send. The
// server closes a socket that does not join within JoinTimeout (1 s here,
// less than the camera takes): the page then joins on a new socket and
// the call connects, video both ways.
func TestSignalingOpensWhileTheCameraStarts(t *testing.T) {
	srv := startServerWith(t, server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{JoinTimeout: time.Second}})
	b := browsertest.New(t)
	link := srv.URL() + "/r/slow-camera-room"
	other := b.NewPage(t, browsertest.PageName("other"))
	must(t, browsertest.Navigate(other, link))
	waitState(t, other, "waiting", stepTimeout)

	slow := b.NewPage(t, browsertest.PageName("slow"))
	addInitScript(t, slow, slowCameraScript)
	must(t, browsertest.Navigate(slow, link))
	waitState(t, slow, "connected", connectTimeout)
	waitState(t, other, "connected", connectTimeout)
	waitVideo(t, slow)
	waitVideo(t, other)

	var pre struct {
		Opens, Joins []float64
		Media        float64
	}
	must(t, browsertest.Eval(slow, `window.pre`, &pre))
	t.Logf("sockets opened at %v ms, joins sent at %v ms, media at %.0f ms", pre.Opens, pre.Joins, pre.Media)
	if len(pre.Opens) == 0 || pre.Media == 0 || len(pre.Joins) == 0 {
		t.Fatalf("no socket, join or media recorded: %+v", pre)
	}
	if pre.Opens[0] >= pre.Media {
		t.Errorf("the first socket opened at %.0f ms, after the media (%.0f ms): the handshake waited for the camera", pre.Opens[0], pre.Media)
	}
	if pre.Joins[0] < pre.Media {
		t.Errorf("join sent at %.0f ms, before the media (%.0f ms)", pre.Joins[0], pre.Media)
	}
	if len(pre.Opens) < 2 {
		t.Errorf("one socket (%v): the server should have closed the one that did not join within 1 s", pre.Opens)
	}
}
