package client

import (
	"fmt"
	"slices"
	"time"

	"github.com/duet-call/duet/protocol"
	"github.com/pion/webrtc/v4"
)

// maxPendingCandidates bounds candidates held until the remote description
// is set; a real peer sends a few dozen at most.
const maxPendingCandidates = 256

// peer is one RTCPeerConnection with the current other peer. Every pion
// callback posts to the loop tagged with its peer, and the loop ignores
// events of a peer that is no longer current, so a closing connection can
// never disturb its successor.
type peer struct {
	pc          *webrtc.PeerConnection
	chat        *webrtc.DataChannel
	pending     []webrtc.ICECandidateInit
	ignoreOffer bool
	// negotiate is kicked by pion's negotiationneeded, which pion calls
	// synchronously on its operations goroutine: a non-blocking send to a
	// one-slot channel the loop selects on can never stall pion, even when
	// the loop is itself waiting inside a pion call.
	negotiate chan struct{}
	// remoteSet: a remote description has been applied once. Until then a
	// polite peer lets the impolite one make the first offer (see kicked).
	remoteSet bool
	fallback  *time.Timer // offers anyway if the impolite peer never does
	// owed: pion asked for a negotiation while signaling was down; the
	// offer is made once the peer is back (peerBack).
	owed bool
	// answerOnly: the other place is a WHIP or WHEP client, which cannot
	// take an offer; this peer answers its offers and makes none (no
	// renegotiation, no ICE restart: the tool restarts ICE itself).
	answerOnly bool
	// held is the polite peer's offer in flight: sent, but applied only
	// when its answer comes, so that a colliding offer can roll it back
	// (negotiate.go). heldMids are the mids creating it assigned.
	held     *webrtc.SessionDescription
	heldMids map[string]webrtc.RTPCodecType
	midSeq   int // the last "d<n>" mid nameNewTransceivers gave

	// The media path after it first connected (icerestart.go).
	connected   bool        // has been connected at least once
	outage      bool        // disconnected or failed since; not yet back
	graceTimer  *time.Timer // restarts ICE when the grace runs out
	giveUpTimer *time.Timer // reports StateFailed if the outage lasts
	lastRestart time.Time
	restarts    int // ICE restarts made with this peer
	// restartPending: a restart was due but had to wait for signaling or
	// for an offer in flight; the resume or the answer makes it.
	restartPending bool
}

// politeFirstOfferWait is how long a polite peer waits for the impolite
// peer's first offer before offering itself. The impolite peer offers as
// soon as it learns of us, so this only matters with a peer that has
// nothing to negotiate.
const politeFirstOfferWait = 3 * time.Second

// newPeer replaces any current peer connection with a fresh one, as the
// browser app does on peer-joined: both sides then create the chat
// channel, add their tracks and offer from negotiationneeded.
func (c *Call) newPeer(id string) {
	c.dropPeer()
	c.peerID = id
	c.peerHere = true
	c.setState(StateConnecting)
	p, err := c.openPeer(nil)
	if err != nil {
		c.log.Error("creating peer connection", "err", err)
		c.setState(StateFailed)
		return
	}
	c.peer = p
}

// openPeer makes a peer connection with the call's ICE servers and certs,
// or a new certificate when certs is nil.
func (c *Call) openPeer(certs []webrtc.Certificate) (*peer, error) {
	conf := webrtc.Configuration{ICEServers: c.ice, Certificates: certs}
	if c.cfg.relayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := c.api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	p := &peer{pc: pc, negotiate: make(chan struct{}, 1), answerOnly: c.PeerKind() != ""}
	// Registered before anything is added: pion fires negotiationneeded
	// from its own goroutine once, and a flag already raised before the
	// handler was set would never fire again (the call then hung in
	// connecting, about one run in six).
	pc.OnNegotiationNeeded(func() {
		select {
		case p.negotiate <- struct{}{}:
		default: // a kick is already waiting for the loop
		}
	})
	negotiated, id := true, chatID
	p.chat, err = pc.CreateDataChannel(chatLabel, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("chat channel: %w", err)
	}
	if err := p.addMedia(c, c.tracks); err != nil {
		pc.Close()
		return nil, err
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		c.post(func() { c.localCandidate(p, cand) })
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.post(func() { c.connState(p, s) })
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		c.post(func() { c.remoteTrack(p, t, r) })
	})
	p.chat.OnOpen(func() { c.post(func() { c.chatOpen(p) }) })
	p.chat.OnClose(func() { c.post(func() { c.chatClosed(p) }) })
	p.chat.OnMessage(func(m webrtc.DataChannelMessage) {
		if !m.IsString {
			return
		}
		if text, ok := decodeChat(m.Data); ok {
			c.post(func() { c.chatMessage(p, text) })
		}
	})
	return p, nil
}

// addMedia lays the connection out as the web app does: an audio, then a
// video transceiver, then the chat channel's section. Each carries the first
// local track of its kind, or a placeholder that sends nothing. The same layout matters when
// a polite browser rolls back its own offer to take ours: Chromium then
// fails to start SCTP if the chat section moved to another mid (seen as
// "Failed to start SCTP transport"). It also means a Go peer receives a
// browser's camera and microphone in the first negotiation. Further tracks
// get sections of their own after these.
func (p *peer) addMedia(c *Call, tracks []webrtc.TrackLocal) error {
	rest := append([]webrtc.TrackLocal(nil), tracks...)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		i := slices.IndexFunc(rest, func(t webrtc.TrackLocal) bool { return t.Kind() == kind })
		if i < 0 {
			// sendrecv with a silent placeholder track, as a browser
			// without that device would offer it: two recvonly sides
			// would answer inactive, and pion would then ask to
			// renegotiate after every round.
			tr, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
			if err != nil {
				return fmt.Errorf("adding a %s transceiver: %w", kind, err)
			}
			readRTCP(c, tr.Sender())
			continue
		}
		tr, err := p.pc.AddTransceiverFromTrack(rest[i], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
		if err != nil {
			return fmt.Errorf("adding track %s: %w", rest[i].ID(), err)
		}
		readRTCP(c, tr.Sender())
		rest = slices.Delete(rest, i, i+1)
	}
	for _, t := range rest {
		if err := p.addTrack(c, t); err != nil {
			return err
		}
	}
	return nil
}

// addTrack adds t and reads the sender's RTCP, which pion needs read for
// its interceptors (NACK, reports) to work; the reader ends with the
// connection.
func (p *peer) addTrack(c *Call, t webrtc.TrackLocal) error {
	sender, err := p.pc.AddTrack(t)
	if err != nil {
		return fmt.Errorf("adding track %s: %w", t.ID(), err)
	}
	readRTCP(c, sender)
	return nil
}

func readRTCP(c *Call, sender *webrtc.RTPSender) {
	c.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	})
}

// dropPeer closes the current peer connection off the loop: GracefulClose
// waits for pion's goroutines, which may be posting to this very loop.
func (c *Call) dropPeer() {
	p := c.peer
	if p == nil {
		return
	}
	c.peer = nil
	if p.fallback != nil {
		p.fallback.Stop()
	}
	p.endOutage()
	c.mu.Lock()
	if c.chat == p.chat {
		c.chat = nil
	}
	c.mu.Unlock()
	c.wg.Go(func() {
		if err := p.pc.GracefulClose(); err != nil {
			c.log.Debug("closing peer connection", "err", err)
		}
	})
}

func (c *Call) handleCandidate(ci protocol.ICECandidate) {
	p := c.peer
	if p == nil {
		return
	}
	cand := webrtc.ICECandidateInit{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment}
	if p.pc.RemoteDescription() == nil {
		if len(p.pending) < maxPendingCandidates {
			p.pending = append(p.pending, cand)
		}
		return
	}
	c.addCandidate(p, cand)
}

func (c *Call) addCandidate(p *peer, cand webrtc.ICECandidateInit) {
	if err := p.pc.AddICECandidate(cand); err != nil && !p.ignoreOffer {
		c.log.Debug("adding remote candidate", "err", err)
	}
}

func (c *Call) localCandidate(p *peer, cand *webrtc.ICECandidate) {
	if p != c.peer {
		return
	}
	if cand == nil {
		c.send(&protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: ""}})
		return
	}
	j := cand.ToJSON()
	c.send(&protocol.Candidate{Candidate: protocol.ICECandidate{
		Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment,
	}})
}

func (c *Call) remoteTrack(p *peer, t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if p != c.peer {
		return
	}
	c.log.Debug("remote track", "kind", t.Kind(), "codec", t.Codec().MimeType)
	h := c.cfg.onTrack
	c.wg.Go(func() {
		if h != nil {
			h(t, r)
			return
		}
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
		}
	})
}

func (c *Call) chatOpen(p *peer) {
	if p != c.peer {
		return
	}
	c.mu.Lock()
	c.chat = p.chat
	close(c.chatUp)
	c.chatUp = make(chan struct{})
	c.mu.Unlock()
}

func (c *Call) chatClosed(p *peer) {
	c.mu.Lock()
	if c.chat == p.chat {
		c.chat = nil
	}
	c.mu.Unlock()
}

func (c *Call) chatMessage(p *peer, text string) {
	if p != c.peer {
		return
	}
	if h := c.cfg.onChat; h != nil {
		c.emit(func() { h(text) })
	}
}
