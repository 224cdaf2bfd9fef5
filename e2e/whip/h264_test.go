package whip

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/media"
	"github.com/duet-call/duet/internal/whip"
	"github.com/duet-call/duet/protocol"
)

// OBS offers H.264 and no VP8. Debian's Chromium decodes H.264 in WebRTC
// (its ffmpeg); Firefox ESR needs the OpenH264 plugin it downloads from
// Mozilla on first use, and without it answers such an offer with the
// video rejected. The Go peer (pion) takes H.264 as it comes and duet
// peer --record writes it as an Annex B file.

// TestH264PublisherIntoChromium: an H.264-only WHIP publisher, as OBS is,
// into the web app in Chromium, which decodes it.
func TestH264PublisherIntoChromium(t *testing.T) {
	gstElements(t, "x264enc", "rtph264pay")
	d := startDuet(t, whip.Config{})
	b := browsertest.New(t)
	room := newRoom()
	page := openApp(t, b, d, room)
	wc := startWHIPClient(t, d.URL()+"/whip/"+room, "-V", h264Pipeline)
	must(t, browsertest.WaitFor(page, `window.duet.state() === "connected"`, connectTimeout))
	st := waitDecoding(t, page)
	var codec string
	must(t, browsertest.Eval(page, `(async () => { let m = ""; (await window.duet.pc().getStats()).forEach((s) => { if (s.type === "codec" && s.mimeType.startsWith("video/")) m = s.mimeType; }); return m; })()`, &codec))
	t.Logf("Chromium decodes %s from the WHIP publisher: %d frames, %dx%d", codec, st.FramesDecoded, st.FrameWidth, st.FrameHeight)
	if !strings.EqualFold(codec, "video/H264") {
		t.Errorf("decoding %q, want video/H264", codec)
	}
	answeredOnly(t, page)
	wc.checkLog()
}

// TestH264PublisherIntoFirefoxIsRefused: Firefox without OpenH264 takes
// none of an H.264-only offer; the publisher gets 422 media-refused (not a
// session that never connects) and the person's place is free again.
func TestH264PublisherIntoFirefoxIsRefused(t *testing.T) {
	gstElements(t, "x264enc", "rtph264pay")
	d := startDuet(t, whip.Config{})
	ff := browsertest.NewFirefox(t)
	room := newRoom()
	must(t, ff.Navigate(d.URL()+"/r/"+room))
	must(t, ff.WaitFor(`window.duet && window.duet.state() === "waiting"`, stepTimeout))
	var h264 bool
	must(t, ff.Eval(`RTCRtpReceiver.getCapabilities("video").codecs.some((c) => c.mimeType === "video/H264")`, &h264))
	if h264 {
		t.Skip("this Firefox has an H.264 decoder (OpenH264 installed): nothing to refuse")
	}
	wc := startWHIPClient(t, d.URL()+"/whip/"+room, "-V", h264Pipeline)
	wc.waitLog("422", stepTimeout)
	must(t, ff.WaitFor(`window.duet.state() === "peer-left"`, stepTimeout))
	sessions(t, d, 0, stepTimeout)
}

// TestH264PublisherIntoGoPeer: the Go SDK answers an H.264-only publisher
// and records its video as duet peer --record does (media.Record): an
// Annex B file with SPS, PPS and IDR pictures that GStreamer's libav
// decoder plays to the end.
func TestH264PublisherIntoGoPeer(t *testing.T) {
	gstElements(t, "x264enc", "rtph264pay", "h264parse", "avdec_h264")
	d := startDuet(t, whip.Config{})
	room := newRoom()
	dir := t.TempDir()
	type result struct {
		mime, path string
		err        error
	}
	recorded := make(chan result, 1)
	call, err := client.Dial(context.Background(), d.URL(), room, client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		path, err := media.Record(dir, 1, tr)
		recorded <- result{tr.Codec().MimeType, path, err}
	}))
	must(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			call.Close()
		}
	})
	wc := startWHIPClient(t, d.URL()+"/whip/"+room, "-V", h264Pipeline)
	file := filepath.Join(dir, "video-1.h264")
	deadline := time.Now().Add(connectTimeout)
	for {
		if fi, err := os.Stat(file); err == nil && fi.Size() > 10<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no H.264 recording grew in %s", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if k := call.PeerKind(); k != protocol.KindWHIP {
		t.Errorf("PeerKind %q, want whip", k)
	}
	wc.checkLog()
	closed = true
	must(t, call.Close()) // ends the track, so the recording is closed
	r := <-recorded
	if r.err != nil || !strings.EqualFold(r.mime, webrtc.MimeTypeH264) {
		t.Fatalf("recorded %s to %s: %v", r.mime, r.path, r.err)
	}
	b, err := os.ReadFile(r.path)
	must(t, err)
	nals := map[byte]int{}
	for i := 0; i+4 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 0 && b[i+3] == 1 {
			nals[b[i+4]&0x1f]++
		}
	}
	t.Logf("Go peer recorded %s: %d bytes, NAL unit types %v", r.mime, len(b), nals)
	if nals[7] == 0 || nals[8] == 0 || nals[5] == 0 {
		t.Errorf("the recording lacks SPS, PPS or IDR: %v", nals)
	}
	out, err := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+r.path, "!", "h264parse", "!", "avdec_h264", "!", "fakesink").CombinedOutput()
	if err != nil || strings.Contains(string(out), "ERROR") {
		t.Errorf("GStreamer cannot decode the recording: %v\n%s", err, out)
	}
}
