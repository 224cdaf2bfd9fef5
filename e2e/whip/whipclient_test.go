package whip

import (
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/whip"
)

// TestWHIPClientIntoBrowser: simple-whip-client publishes a test pattern
// into a room where the web app in Chromium waits; the app learns its
// partner is a WHIP publisher, answers, and decodes the video. Then the
// client stops (DELETE) and the app hears the other place is free.
func TestWHIPClientIntoBrowser(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"VP8, trickled", []string{"-V", vp8Pipeline}},
		{"VP8, no trickle", []string{"-n", "-V", vp8Pipeline}},
		{"VP8 and Opus", []string{"-V", vp8Pipeline, "-A", opusPipeline}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDuet(t, whip.Config{})
			b := browsertest.New(t)
			room := newRoom()
			page := openApp(t, b, d, room)
			wc := startWHIPClient(t, d.URL()+"/whip/"+room, tc.args...)
			must(t, browsertest.WaitFor(page, `window.duet.peerKind() === "whip"`, stepTimeout))
			must(t, browsertest.WaitFor(page, `window.duet.state() === "connected"`, connectTimeout))
			st := waitDecoding(t, page)
			t.Logf("browser decodes the WHIP video: %d frames, %dx%d", st.FramesDecoded, st.FrameWidth, st.FrameHeight)
			if st.FrameWidth != 320 || st.FrameHeight != 240 {
				t.Errorf("decoded %dx%d, the pipeline sends 320x240", st.FrameWidth, st.FrameHeight)
			}
			answeredOnly(t, page)
			wc.checkLog()
			wc.stop()
			must(t, browsertest.WaitFor(page, `window.duet.state() === "peer-left"`, stepTimeout))
			sessions(t, d, 0, stepTimeout)
		})
	}
}
