package whip

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/whip"
	"github.com/duet-call/duet/protocol"
)

// OBS offers H.264 and no VP8. Debian's Chromium decodes H.264 in WebRTC
// (its ffmpeg); Firefox ESR needs the OpenH264 plugin it downloads from
// Mozilla on first use, and without it answers such an offer with the
// video rejected. The Go peer (pion) takes H.264 as it comes.

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

// TestH264PublisherIntoGoPeer: the Go SDK, as duet peer uses it, answers
// an H.264-only publisher and receives its video: whole access units with
// the SPS, PPS and an IDR picture.
func TestH264PublisherIntoGoPeer(t *testing.T) {
	gstElements(t, "x264enc", "rtph264pay")
	d := startDuet(t, whip.Config{})
	room := newRoom()
	var mu sync.Mutex
	var mime string
	nals := map[byte]int{}
	got := make(chan struct{})
	var once sync.Once
	call, err := client.Dial(context.Background(), d.URL(), room, client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		var depack codecs.H264Packet
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			au, err := depack.Unmarshal(pkt.Payload)
			mu.Lock()
			mime = tr.Codec().MimeType
			for err == nil && len(au) > 4 {
				// Annex B: 00 00 00 01, then the NAL header.
				nals[au[4]&0x1f]++
				next := indexStartCode(au[4:])
				if next < 0 {
					break
				}
				au = au[4+next:]
			}
			done := nals[7] > 0 && nals[8] > 0 && nals[5] > 0
			mu.Unlock()
			if done {
				once.Do(func() { close(got) })
			}
		}
	}))
	must(t, err)
	t.Cleanup(func() { call.Close() })
	wc := startWHIPClient(t, d.URL()+"/whip/"+room, "-V", h264Pipeline)
	select {
	case <-got:
	case <-time.After(connectTimeout):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no SPS, PPS and IDR from the publisher: track %q, NAL types %v", mime, nals)
	}
	if k := call.PeerKind(); k != protocol.KindWHIP {
		t.Errorf("PeerKind %q, want whip", k)
	}
	mu.Lock()
	t.Logf("Go peer receives %s: NAL unit types %v", mime, nals)
	mu.Unlock()
	wc.checkLog()
}

// indexStartCode finds the next 00 00 00 01 in b.
func indexStartCode(b []byte) int {
	for i := 0; i+4 <= len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 0 && b[i+3] == 1 {
			return i
		}
	}
	return -1
}
