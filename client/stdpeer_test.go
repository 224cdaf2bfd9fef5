package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/media"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// stdPeer is a standard WebRTC peer written from the W3C perfect
// negotiation example (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example)
// and docs/protocol.md alone, on plain pion, without any of the SDK: what a
// third party writing their own duet client would make. One mutex stands
// for the browser's single thread. It plays impolite only: the example's
// polite side rolls back, and pion cannot (see client/negotiate.go).
type stdPeer struct {
	t  testing.TB
	ws *websocket.Conn
	pc *webrtc.PeerConnection // nil until the other peer is present; guarded by mu

	wmu sync.Mutex // ws writes

	mu          sync.Mutex // the "event loop"
	polite      bool
	makingOffer bool
	ignoreOffer bool

	closed bool
	layout []string // the files its first tracks play, in order

	dc     *webrtc.DataChannel
	chatIn chan string
	chatUp chan struct{}
	joined chan struct{} // closed on joined
	tr     chan string   // mime types of remote tracks
	fc     *frameCount
	ctx    context.Context // ends with the test
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// dialStd joins room on the server at url (http://…). Its connection,
// with a VP8 and an Opus track and the chat channel, is made once the other
// peer is present, as docs/protocol.md says.
func dialStd(t testing.TB, url, room string, layout ...string) *stdPeer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stdPeer{t: t, ws: ws, ctx: ctx, chatIn: make(chan string, 16), chatUp: make(chan struct{}), joined: make(chan struct{}),
		tr: make(chan string, 8), fc: &frameCount{}, cancel: cancel, layout: layout}
	if len(layout) == 0 {
		s.layout = []string{opusFile, vp8File} // audio, then video, as most apps add them
	}
	t.Cleanup(s.close)
	s.send(map[string]any{"type": "join", "v": 1, "room": room})
	s.wg.Go(s.read)
	select { // joined before the next peer dials, so roles follow the order
	case <-s.joined:
	case <-time.After(10 * time.Second):
		t.Fatal("std peer: no joined")
	}
	return s
}

// open makes the peer connection; called with s.mu held.
func (s *stdPeer) open() error {
	var se webrtc.SettingEngine
	se.SetPrflxAcceptanceMinWait(0) // as the SDK does; not part of the pattern
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	s.pc = pc
	// The pattern: negotiationneeded makes the offer. pion calls it on its
	// own operations goroutine; a browser queues it as a task, which a
	// goroutine stands for here.
	pc.OnNegotiationNeeded(func() { go s.negotiationNeeded() })
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		cand := webrtc.ICECandidateInit{Candidate: ""}
		if c != nil {
			cand = c.ToJSON()
		}
		s.send(map[string]any{"type": "candidate", "candidate": cand})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		select {
		case s.tr <- tr.Codec().MimeType:
		default:
		}
		go s.fc.read(tr) // ends when the connection closes
	})
	negotiated, id := true, uint16(0)
	s.dc, err = pc.CreateDataChannel("chat", &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
	if err != nil {
		return err
	}
	s.dc.OnOpen(func() { close(s.chatUp) })
	s.dc.OnMessage(func(m webrtc.DataChannelMessage) {
		var c struct{ Type, Text string }
		if json.Unmarshal(m.Data, &c) == nil && c.Type == "text" {
			select {
			case s.chatIn <- c.Text:
			default:
			}
		}
	})
	for _, path := range s.layout {
		if err := s.addTrack(path); err != nil {
			return err
		}
	}
	return nil
}

// negotiationNeeded is the example's onnegotiationneeded.
func (s *stdPeer) negotiationNeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := s.pc
	if s.closed || pc.SignalingState() != webrtc.SignalingStateStable {
		return // fired again once stable, if still needed
	}
	s.makingOffer = true
	defer func() { s.makingOffer = false }()
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		s.t.Logf("std peer: offer: %v", err)
		return
	}
	s.send(map[string]any{"type": "description", "description": pc.LocalDescription()})
}

// addTrack plays the file at path on a new track; mid-call, that
// renegotiates. Called with s.mu held.
func (s *stdPeer) addTrack(path string) error {
	src, err := media.Open(path, true)
	if err != nil {
		return err
	}
	if _, err := s.pc.AddTrack(src.Track()); err != nil {
		return err
	}
	s.wg.Go(func() { src.Run(s.ctx) })
	return nil
}

// addOpus adds an Opus track mid-call.
func (s *stdPeer) addOpus() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.addTrack(opusFile); err != nil {
		s.t.Error(err)
	}
}

func (s *stdPeer) send(m any) {
	b, err := json.Marshal(m)
	if err != nil {
		s.t.Errorf("std peer: %v", err)
		return
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.ws.WriteMessage(websocket.TextMessage, b)
}

func (s *stdPeer) read() {
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type        string                     `json:"type"`
			Polite      bool                       `json:"polite"`
			PeerPresent bool                       `json:"peerPresent"`
			Description *webrtc.SessionDescription `json:"description"`
			Candidate   *webrtc.ICECandidateInit   `json:"candidate"`
			Code        string                     `json:"code"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			s.t.Errorf("std peer: %v", err)
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		switch m.Type {
		case "joined":
			s.polite = m.Polite
			close(s.joined)
			if m.PeerPresent {
				err = s.open()
			}
		case "peer-joined":
			err = s.open()
		case "description":
			if s.pc != nil && m.Description != nil {
				s.onDescription(*m.Description)
			}
		case "candidate":
			if s.pc == nil {
				break
			}
			if err := s.pc.AddICECandidate(*m.Candidate); err != nil && !s.ignoreOffer {
				s.t.Logf("std peer: candidate: %v", err)
			}
		case "error":
			s.t.Errorf("std peer: server error %s", data)
		}
		s.mu.Unlock()
		if err != nil {
			s.t.Errorf("std peer: %v", err)
			return
		}
	}
}

// onDescription is the example's onmessage for a description.
func (s *stdPeer) onDescription(d webrtc.SessionDescription) {
	offerCollision := d.Type == webrtc.SDPTypeOffer &&
		(s.makingOffer || s.pc.SignalingState() != webrtc.SignalingStateStable)
	s.ignoreOffer = !s.polite && offerCollision
	if s.ignoreOffer {
		return
	}
	if err := s.pc.SetRemoteDescription(d); err != nil {
		s.t.Errorf("std peer: set remote %s: %v", d.Type, err)
		return
	}
	if d.Type == webrtc.SDPTypeOffer {
		answer, err := s.pc.CreateAnswer(nil)
		if err == nil {
			err = s.pc.SetLocalDescription(answer)
		}
		if err != nil {
			s.t.Errorf("std peer: answer: %v", err)
			return
		}
		s.send(map[string]any{"type": "description", "description": s.pc.LocalDescription()})
	}
}

func (s *stdPeer) sendChat(text string) error {
	b, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	return s.dc.SendText(string(b))
}

func (s *stdPeer) close() {
	s.cancel()
	s.ws.Close()
	s.mu.Lock()
	s.closed = true
	pc := s.pc
	s.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
	s.wg.Wait()
}
