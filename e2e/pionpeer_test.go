package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/duet-call/duet/internal/media"
)

// pionPeer is a standard WebRTC peer written in the test from
// docs/protocol.md alone: a pion PeerConnection on duet's signaling, the
// impolite side of the W3C perfect negotiation example (it ignores an
// offer that collides with its own). It sends the VP8 test file.
type pionPeer struct {
	t  *testing.T
	ws *websocket.Conn
	pc *webrtc.PeerConnection

	wmu sync.Mutex // one writer on ws

	mu          sync.Mutex
	makingOffer bool
	ignored     int // offers of the other side ignored as collisions
	answered    int // offers of the other side answered
	offers      chan struct{}
	hold        bool      // keep the next local offer instead of sending it
	held        chan bool // told when an offer is held
}

type wireMsg struct {
	Type        string                     `json:"type"`
	Description *webrtc.SessionDescription `json:"description,omitempty"`
	Candidate   *webrtc.ICECandidateInit   `json:"candidate,omitempty"`
	Polite      bool                       `json:"polite,omitempty"`
	PeerPresent bool                       `json:"peerPresent,omitempty"`
	IceServers  []webrtc.ICEServer         `json:"iceServers,omitempty"`
	Code        string                     `json:"code,omitempty"`
}

// joinPionPeer joins room on srv's signaling and starts the peer once the
// other side is there. It stops when the test ends.
func joinPionPeer(t *testing.T, base, room string) *pionPeer {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {base}})
	must(t, err)
	p := &pionPeer{t: t, ws: ws, offers: make(chan struct{}, 16), held: make(chan bool, 1)}
	p.send(map[string]any{"type": "join", "v": 1, "room": room})
	var joined wireMsg
	must(t, ws.ReadJSON(&joined))
	if joined.Type != "joined" || joined.Polite {
		t.Fatalf("pion peer: got %+v, want joined as the impolite peer", joined)
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{ICEServers: joined.IceServers})
	must(t, err)
	p.pc = pc
	src, err := media.Open("../testdata/media/vp8.ivf", true)
	must(t, err)
	_, err = pc.AddTrack(src.Track())
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	played := make(chan error, 1)
	go func() { played <- src.Run(ctx) }()
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		init := webrtc.ICECandidateInit{Candidate: ""}
		if c != nil {
			init = c.ToJSON()
		}
		p.send(map[string]any{"type": "candidate", "candidate": init})
	})
	read := make(chan struct{})
	go p.read(read)
	t.Cleanup(func() {
		ws.Close()
		<-read
		pc.Close()
		cancel()
		if err := <-played; err != nil {
			t.Errorf("pion peer: playing: %v", err)
		}
	})
	return p
}

func (p *pionPeer) send(msg any) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.ws.WriteJSON(msg); err != nil {
		p.t.Logf("pion peer: send: %v", err)
	}
}

// offer makes an offer and sends it; with hold set, it keeps it in
// have-local-offer instead and says so on p.held.
func (p *pionPeer) offer() error {
	p.mu.Lock()
	p.makingOffer = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.makingOffer = false
		p.mu.Unlock()
	}()
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("pion peer: offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		return fmt.Errorf("pion peer: set local offer: %w", err)
	}
	p.mu.Lock()
	hold := p.hold
	p.hold = false
	p.mu.Unlock()
	if hold {
		p.held <- true
		return nil
	}
	p.send(map[string]any{"type": "description", "description": p.pc.LocalDescription()})
	return nil
}

// sendHeld sends the offer kept by a held offer().
func (p *pionPeer) sendHeld() {
	p.send(map[string]any{"type": "description", "description": p.pc.LocalDescription()})
}

func (p *pionPeer) read(done chan struct{}) {
	defer close(done)
	for {
		var m wireMsg
		if err := p.ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "peer-joined":
			go func() {
				if err := p.offer(); err != nil {
					p.t.Error(err)
				}
			}()
		case "description":
			p.handleDescription(*m.Description)
		case "candidate":
			if m.Candidate != nil && m.Candidate.Candidate != "" {
				// Those of an ignored offer fail; as the example says, ignore.
				_ = p.pc.AddICECandidate(*m.Candidate)
			}
		}
	}
}

func (p *pionPeer) handleDescription(d webrtc.SessionDescription) {
	p.mu.Lock()
	collision := d.Type == webrtc.SDPTypeOffer && (p.makingOffer || p.pc.SignalingState() != webrtc.SignalingStateStable)
	if collision {
		p.ignored++ // impolite: our offer wins
	}
	p.mu.Unlock()
	if collision {
		p.offers <- struct{}{}
		return
	}
	if err := p.pc.SetRemoteDescription(d); err != nil {
		p.t.Errorf("pion peer: set remote %s: %v", d.Type, err)
		return
	}
	if d.Type != webrtc.SDPTypeOffer {
		return
	}
	a, err := p.pc.CreateAnswer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(a)
	}
	if err != nil {
		p.t.Errorf("pion peer: answer: %v", err)
		return
	}
	p.mu.Lock()
	p.answered++
	p.mu.Unlock()
	p.send(map[string]any{"type": "description", "description": p.pc.LocalDescription()})
	p.offers <- struct{}{}
}

// counts says how many offers of the other side were ignored and answered.
func (p *pionPeer) counts() (ignored, answered int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ignored, p.answered
}
