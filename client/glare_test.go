package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
	"github.com/pion/webrtc/v4"
)

const (
	vp8File  = "../testdata/media/vp8.ivf"
	opusFile = "../testdata/media/opus.ogg"
)

// frameCount counts the video frames (RTP packets with the marker bit)
// and audio packets arriving on a peer's remote tracks.
type frameCount struct {
	video, audio atomic.Int64
}

func (f *frameCount) read(tr *webrtc.TrackRemote) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			f.audio.Add(1)
		} else if pkt.Marker {
			f.video.Add(1)
		}
	}
}

// waitMore waits until at least n more video frames and audio packets
// have arrived than when it was called.
func (f *frameCount) waitMore(t testing.TB, who string, n int64) {
	t.Helper()
	v0, a0 := f.video.Load(), f.audio.Load()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a timing
	for f.video.Load()-v0 < n || f.audio.Load()-a0 < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: media stopped: %d video frames and %d audio packets in 20 s", who, f.video.Load()-v0, f.audio.Load()-a0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// glarePeer is one side of a glare test: an SDK call or a stdPeer.
type glarePeer interface {
	addOpus()
	frames() *frameCount
	tracks() <-chan string
	sendChat(string) error
	chat() <-chan string
	waitChat(testing.TB)
}

type sdkPeer struct {
	t      testing.TB
	call   *client.Call
	fc     *frameCount
	tr     chan string
	in     inbox
	played sync.WaitGroup
	cancel context.CancelFunc
}

// dialSDK joins with looping Opus and VP8 tracks, counting what arrives.
func dialSDK(t testing.TB, url, room string) *sdkPeer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &sdkPeer{t: t, fc: &frameCount{}, tr: make(chan string, 8), in: newInbox(), cancel: cancel}
	var tracks []webrtc.TrackLocal
	for _, path := range []string{opusFile, vp8File} {
		src, err := media.Open(path, true)
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, src.Track())
		p.played.Go(func() { src.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); p.played.Wait() })
	p.call = dial(t, url, room, p.in.option(), client.WithTracks(tracks...),
		client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			select {
			case p.tr <- tr.Codec().MimeType:
			default:
			}
			p.fc.read(tr)
		}))
	return p
}

func (p *sdkPeer) addOpus() {
	src, err := media.Open(opusFile, true)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.call.AddTrack(src.Track()); err != nil {
		p.t.Error(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.played.Go(func() { src.Run(ctx) })
	p.t.Cleanup(cancel)
}

func (p *sdkPeer) frames() *frameCount     { return p.fc }
func (p *sdkPeer) tracks() <-chan string   { return p.tr }
func (p *sdkPeer) sendChat(s string) error { return p.call.SendChat(s) }
func (p *sdkPeer) chat() <-chan string     { return p.in }
func (p *sdkPeer) waitChat(t testing.TB)   { waitChat(t, p.call) }

func (s *stdPeer) frames() *frameCount   { return s.fc }
func (s *stdPeer) tracks() <-chan string { return s.tr }
func (s *stdPeer) chat() <-chan string   { return s.chatIn }
func (s *stdPeer) waitChat(t testing.TB) {
	t.Helper()
	select {
	case <-s.chatUp:
	case <-time.After(20 * time.Second):
		t.Fatal("std peer: chat never opened")
	}
}

// TestGlare makes offers collide — at the first offer, right after the call
// connects, and mid-call twice over — between two SDK peers and between an
// SDK peer and a standard peer written from the W3C example, and checks
// after each that the call heals on the same connection: the polite peer
// rolls back and answers, each side keeps one ICE ufrag and one DTLS
// fingerprint throughout, media flows both ways, and chat works.
// (The standard peer plays impolite only; see stdPeer.)
func TestGlare(t *testing.T) {
	pairs := []struct {
		name  string
		first func(t testing.TB, url, room string) glarePeer // joins first: impolite
	}{
		{"sdk-sdk", func(t testing.TB, url, room string) glarePeer { return dialSDK(t, url, room) }},
		{"std-sdk", func(t testing.TB, url, room string) glarePeer { return dialStd(t, url, room) }},
	}
	// A standard peer laid out video first: its first offer pairs its video
	// with the mid the SDK's rolled-back first offer gave its audio.
	videoFirst := func(t testing.TB, url, room string) glarePeer { return dialStd(t, url, room, vp8File, opusFile) }
	points := []struct {
		name       string
		firstOffer bool // the first offers cross
		later      int  // crossings once connected
		settle     bool // media flows a while before the first later one
	}{
		{"first-offer", true, 0, false},
		{"after-connect", false, 1, false},
		{"mid-call", false, 2, true},
	}
	for _, pair := range pairs {
		for _, pt := range points {
			t.Run(pair.name+"/"+pt.name, func(t *testing.T) {
				srv := startServer(t)
				px := newCrossProxy(t, srv.URL())
				if pt.firstOffer {
					px.arm()
				}
				room := "glare-" + pair.name + "-" + pt.name
				imp := pair.first(t, px.URL(), room)
				pol := dialSDK(t, px.URL(), room)
				if pol.call.Polite() != true {
					t.Fatal("the second to join is not polite")
				}
				imp.waitChat(t)
				pol.waitChat(t)
				healthy(t, imp, pol)
				if pt.settle {
					pol.fc.waitMore(t, "polite", 50)
				}
				for i := range pt.later {
					px.arm()
					imp.addOpus()
					pol.addOpus()
					waitCrossings(t, px, i+1)
					expectTrack(t, imp, webrtc.MimeTypeOpus, "the polite peer's new track")
					expectTrack(t, pol, webrtc.MimeTypeOpus, "the impolite peer's new track")
					healthy(t, imp, pol)
				}
				if want := pt.later + map[bool]int{true: 1}[pt.firstOffer]; px.crossings() != want {
					t.Fatalf("%d offer crossings, want %d", px.crossings(), want)
				}
				sameConnection(t, px.descriptions(), false)
			})
		}
	}
	t.Run("std-video-first-sdk/first-offer", func(t *testing.T) {
		srv := startServer(t)
		px := newCrossProxy(t, srv.URL())
		px.arm()
		imp := videoFirst(t, px.URL(), "glare-video-first")
		pol := dialSDK(t, px.URL(), "glare-video-first")
		imp.waitChat(t)
		pol.waitChat(t)
		healthy(t, imp, pol)
		if px.crossings() != 1 {
			t.Fatalf("%d offer crossings, want 1", px.crossings())
		}
		// The polite peer answered from a new connection that nothing had
		// seen: only its rolled-back offer, which nobody applied, differs.
		sameConnection(t, px.descriptions(), true)
	})
}

func waitCrossings(t testing.TB, px *crossProxy, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for px.crossings() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the offers never crossed (%d crossings, want %d)", px.crossings(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func expectTrack(t testing.TB, p glarePeer, mime, what string) {
	t.Helper()
	for {
		select {
		case got := <-p.tracks():
			if strings.EqualFold(got, mime) {
				return
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never arrived", what)
		}
	}
}

// healthy checks media and chat both ways.
func healthy(t testing.TB, imp, pol glarePeer) {
	t.Helper()
	imp.frames().waitMore(t, "impolite", 10)
	pol.frames().waitMore(t, "polite", 10)
	for _, dir := range []struct {
		from, to glarePeer
		text     string
	}{{imp, pol, "from the impolite side"}, {pol, imp, "from the polite side"}} {
		if err := dir.from.sendChat(dir.text); err != nil {
			t.Fatalf("chat %s: %v", dir.text, err)
		}
		select {
		case got := <-dir.to.chat():
			if got != dir.text {
				t.Fatalf("chat: got %q, want %q", got, dir.text)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("chat %s never arrived", dir.text)
		}
	}
}

// sameConnection fails if a peer's descriptions carry more than one ICE
// ufrag or DTLS fingerprint: a peer that resolved glare with a new
// connection, which a standard peer cannot follow. skipCrossed leaves out
// the offers that crossed, of which the polite one was never applied.
func sameConnection(t testing.TB, descs []seenDesc, skipCrossed bool) {
	t.Helper()
	ids := map[int]map[string]bool{}
	for _, d := range descs {
		if d.from == 0 || skipCrossed && d.crossed {
			continue // as received, the sender's copy is checked
		}
		if ids[d.from] == nil {
			ids[d.from] = map[string]bool{}
		}
		for _, line := range strings.Split(d.desc.SDP, "\r\n") {
			if strings.HasPrefix(line, "a=ice-ufrag:") || strings.HasPrefix(line, "a=fingerprint:") {
				ids[d.from][line] = true
			}
		}
	}
	for from, set := range ids {
		if len(set) != 2 {
			t.Errorf("peer %d used %d ICE ufrags and fingerprints, want one of each: %v", from, len(set), fmt.Sprint(set))
		}
	}
}
