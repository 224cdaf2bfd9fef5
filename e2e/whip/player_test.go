package whip

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// player is a WHEP player on pion, written from the WHEP draft and RFC
// 9725 alone: it offers to receive audio and video, takes the answer from
// the 201, and with trickle sends its candidates by PATCH.
type player struct {
	t        testing.TB
	pc       *webrtc.PeerConnection
	base     string // http://host:port
	location string
	etag     string

	mu        sync.Mutex
	keyframes int
	width     int
	height    int
	packets   int
	signal    chan struct{}
}

func newPlayerPC(t testing.TB) *webrtc.PeerConnection {
	t.Helper()
	var me webrtc.MediaEngine
	must(t, me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96,
	}, webrtc.RTPCodecTypeVideo))
	must(t, me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio))
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	t.Cleanup(func() { pc.Close() })
	return pc
}

// play POSTs a recvonly offer to url (http://host/whep/room). Without
// trickle the offer carries every candidate; with it the candidates go by
// PATCH as pion finds them.
func play(t testing.TB, base, url string, trickle bool) *player {
	t.Helper()
	p := &player{t: t, pc: newPlayerPC(t), base: base, signal: make(chan struct{}, 1)}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		must(t, err)
	}
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			p.readVP8(tr)
		}
	})
	var pending []webrtc.ICECandidateInit
	var pmu sync.Mutex
	located := make(chan struct{})
	if trickle {
		p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			pmu.Lock()
			defer pmu.Unlock()
			var ci webrtc.ICECandidateInit
			if c != nil {
				ci = c.ToJSON()
			}
			select {
			case <-located:
				p.trickle([]webrtc.ICECandidateInit{ci})
			default:
				pending = append(pending, ci)
			}
		})
	}
	offer, err := p.pc.CreateOffer(nil)
	must(t, err)
	gathered := webrtc.GatheringCompletePromise(p.pc)
	must(t, p.pc.SetLocalDescription(offer))
	if !trickle {
		<-gathered
	}
	res := p.do(http.MethodPost, url, "application/sdp", p.pc.LocalDescription().SDP, "")
	if res.status != http.StatusCreated {
		t.Fatalf("WHEP POST: %d %s", res.status, res.body)
	}
	p.location, p.etag = res.header.Get("Location"), res.header.Get("ETag")
	if !strings.Contains(res.body, "a=candidate:") {
		t.Errorf("the answer carries no candidates; a player that cannot trickle could not connect:\n%s", res.body)
	}
	must(t, p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.body}))
	if trickle {
		pmu.Lock()
		close(located)
		p.trickle(pending)
		pmu.Unlock()
	}
	return p
}

// trickle PATCHes candidates (a zero ICECandidateInit is end-of-candidates).
func (p *player) trickle(cands []webrtc.ICECandidateInit) {
	if len(cands) == 0 {
		return
	}
	local := p.pc.LocalDescription()
	ufrag, pwd := iceCreds(local.SDP)
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n", ufrag, pwd)
	for _, c := range cands {
		if c.Candidate == "" {
			b.WriteString("a=end-of-candidates\r\n")
		} else {
			b.WriteString("a=" + c.Candidate + "\r\n")
		}
	}
	res := p.do(http.MethodPatch, p.base+p.location, "application/trickle-ice-sdpfrag", b.String(), p.etag)
	if res.status != http.StatusNoContent {
		p.t.Errorf("trickle PATCH: %d %s", res.status, res.body)
	}
}

// restartICE restarts ICE the WHIP way: new credentials and candidates by
// PATCH with If-Match: *, and the other side's new ones from the 200.
func (p *player) restartICE() {
	p.t.Helper()
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	must(p.t, err)
	gathered := webrtc.GatheringCompletePromise(p.pc)
	must(p.t, p.pc.SetLocalDescription(offer))
	<-gathered
	local := p.pc.LocalDescription().SDP
	ufrag, pwd := iceCreds(local)
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n", ufrag, pwd)
	for _, l := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(l, "a=candidate:") || l == "a=end-of-candidates" {
			b.WriteString(l + "\r\n")
		}
	}
	res := p.do(http.MethodPatch, p.base+p.location, "application/trickle-ice-sdpfrag", b.String(), "*")
	if res.status != http.StatusOK {
		p.t.Fatalf("ICE restart PATCH: %d %s", res.status, res.body)
	}
	p.etag = res.header.Get("ETag")
	// The new answer: the last one with the fragment's credentials and
	// candidates in place of the old.
	newU, newP := iceCreds(res.body)
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(p.pc.RemoteDescription().SDP, "\r\n"), "\r\n") {
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			out = append(out, "a=ice-ufrag:"+newU)
		case strings.HasPrefix(l, "a=ice-pwd:"):
			out = append(out, "a=ice-pwd:"+newP)
		case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
		case strings.HasPrefix(l, "a=mid:0"):
			out = append(out, l)
			for _, fl := range strings.Split(res.body, "\r\n") {
				if strings.HasPrefix(fl, "a=candidate:") || fl == "a=end-of-candidates" {
					out = append(out, fl)
				}
			}
		default:
			out = append(out, l)
		}
	}
	must(p.t, p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: strings.Join(out, "\r\n") + "\r\n"}))
}

func iceCreds(sdp string) (ufrag, pwd string) {
	for _, l := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(l, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
	}
	return ufrag, pwd
}

// readVP8 counts packets and keyframes, reading each keyframe's size from
// its VP8 header (RFC 6386, 9.1): proof that real pictures arrive.
func (p *player) readVP8(tr *webrtc.TrackRemote) {
	var vp8 codecs.VP8Packet
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		payload, err := vp8.Unmarshal(pkt.Payload)
		p.mu.Lock()
		p.packets++
		if err == nil && vp8.S == 1 && vp8.PID == 0 && len(payload) >= 10 && payload[0]&1 == 0 &&
			payload[3] == 0x9d && payload[4] == 0x01 && payload[5] == 0x2a {
			p.keyframes++
			p.width = int(payload[6]) | int(payload[7]&0x3f)<<8
			p.height = int(payload[8]) | int(payload[9]&0x3f)<<8
		}
		p.mu.Unlock()
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
}

// waitPackets waits until the player has n more video packets than now
// and at least one keyframe.
func (p *player) waitVideo(more int, timeout time.Duration) {
	p.t.Helper()
	p.mu.Lock()
	target := p.packets + more
	p.mu.Unlock()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		n, k, w, h := p.packets, p.keyframes, p.width, p.height
		p.mu.Unlock()
		if n >= target && k > 0 {
			return
		}
		select {
		case <-p.signal:
		case <-deadline:
			p.t.Fatalf("WHEP player: %d video packets (want %d), %d keyframes (%dx%d), ICE %s", n, target, k, w, h, p.pc.ICEConnectionState())
		}
	}
}

func (p *player) size() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.width, p.height
}

type httpReply struct {
	status int
	header http.Header
	body   string
}

func (p *player) do(method, url, ctype, body, ifMatch string) httpReply {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	must(p.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	res, err := http.DefaultClient.Do(req)
	must(p.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return httpReply{res.StatusCode, res.Header, string(b)}
}

// stop ends the session with DELETE and returns the status.
func (p *player) stop() int {
	return p.do(http.MethodDelete, p.base+p.location, "", "", "").status
}
