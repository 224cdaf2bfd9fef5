package whip

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/media"
	"github.com/duet-call/duet/internal/whip"
	"github.com/duet-call/duet/protocol"
)

// TestWHEPPlayerGetsBrowserVideo: a WHEP player takes the other place of
// a room where the web app in Chromium sends its (fake) camera; the app
// answers the player's recvonly offer and the player receives VP8
// pictures. DELETE ends it and the app sees the place free.
func TestWHEPPlayerGetsBrowserVideo(t *testing.T) {
	for _, trickle := range []bool{false, true} {
		name := map[bool]string{false: "candidates in the offer", true: "trickled"}[trickle]
		t.Run(name, func(t *testing.T) {
			d := startDuet(t, whip.Config{})
			b := browsertest.New(t)
			room := newRoom()
			page := openApp(t, b, d, room)
			p := play(t, d.URL(), d.URL()+"/whep/"+room, trickle)
			must(t, browsertest.WaitFor(page, `window.duet.peerKind() === "whep"`, stepTimeout))
			p.waitVideo(50, connectTimeout)
			w, h := p.size()
			t.Logf("WHEP player receives the browser's camera: %dx%d keyframes", w, h)
			if w == 0 || h == 0 {
				t.Errorf("keyframe size %dx%d", w, h)
			}
			must(t, browsertest.WaitFor(page, `window.duet.state() === "connected"`, stepTimeout))
			answeredOnly(t, page)
			if s := p.stop(); s != http.StatusOK {
				t.Errorf("DELETE: %d", s)
			}
			must(t, browsertest.WaitFor(page, `window.duet.state() === "peer-left"`, stepTimeout))
			sessions(t, d, 0, stepTimeout)
		})
	}
}

// TestWHEPICERestart: the player restarts ICE by PATCH; the app in
// Chromium answers the restart offer duet makes of it, the player gets the
// app's new credentials in the 200, and the video goes on over the new
// ICE session.
func TestWHEPICERestart(t *testing.T) {
	d := startDuet(t, whip.Config{})
	b := browsertest.New(t)
	room := newRoom()
	page := openApp(t, b, d, room)
	p := play(t, d.URL(), d.URL()+"/whep/"+room, false)
	p.waitVideo(20, connectTimeout)
	var before string
	must(t, browsertest.Eval(page, `window.duet.pc().localDescription.sdp.match(/a=ice-ufrag:(.*)/)[1]`, &before))
	oldTag := p.etag
	p.restartICE()
	var after string
	must(t, browsertest.Eval(page, `window.duet.pc().localDescription.sdp.match(/a=ice-ufrag:(.*)/)[1]`, &after))
	if after == before || p.etag == oldTag {
		t.Errorf("after the restart the app's ufrag is %q (was %q), ETag %q (was %q)", after, before, p.etag, oldTag)
	}
	if u, _ := iceCreds(p.pc.RemoteDescription().SDP); u != after {
		t.Errorf("the player's remote ufrag %q is not the app's %q", u, after)
	}
	p.waitVideo(50, connectTimeout)
	if s := p.pc.ICEConnectionState().String(); s != "connected" && s != "completed" {
		t.Errorf("player ICE %s after the restart", s)
	}
	var st string
	must(t, browsertest.Eval(page, `window.duet.state()`, &st))
	if st != "connected" {
		t.Errorf("app state %q after the restart", st)
	}
}

// TestWHEPPlayerGetsGoPeerVideo: the Go SDK, as duet peer uses it, answers
// a WHEP player with the track it sends, and can send the player away.
func TestWHEPPlayerGetsGoPeerVideo(t *testing.T) {
	d := startDuet(t, whip.Config{})
	room := newRoom()
	src, err := media.Open("../../testdata/media/vp8.ivf", true)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	states := make(chan client.State, 32)
	call, err := client.Dial(context.Background(), d.URL(), room, client.WithTracks(src.Track()),
		client.WithOnStateChange(func(s client.State) {
			select {
			case states <- s:
			default:
			}
		}))
	must(t, err)
	t.Cleanup(func() { call.Close() })

	p := play(t, d.URL(), d.URL()+"/whep/"+room, true)
	p.waitVideo(30, connectTimeout)
	w, h := p.size()
	t.Logf("WHEP player receives the Go peer's track: %dx%d keyframes", w, h)
	if call.PeerKind() != protocol.KindWHEP {
		t.Errorf("PeerKind %q", call.PeerKind())
	}
	must(t, call.Dismiss(context.Background()))
	deadline := time.After(stepTimeout)
	for s := client.State(0); s != client.StatePeerLeft; {
		select {
		case s = <-states:
		case <-deadline:
			t.Fatalf("the Go peer did not reach peer-left after dismissing (state %v)", call.State())
		}
	}
	sessions(t, d, 0, stepTimeout)
	if s := p.stop(); s != http.StatusNotFound {
		t.Errorf("DELETE after the dismissal: %d, want 404", s)
	}
	res := p.do(http.MethodPost, d.URL()+"/whep/"+room, "application/sdp", p.pc.LocalDescription().SDP, "")
	if res.status != http.StatusForbidden {
		t.Errorf("POST right after a dismissal: %d %s, want 403", res.status, res.body)
	}
}
