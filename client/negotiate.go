package client

import (
	"fmt"
	"strconv"
	"time"

	"github.com/duet-call/duet/protocol"
	"github.com/pion/webrtc/v4"
)

// Perfect negotiation (the W3C example) on pion, which cannot roll back:
// pion refuses both setLocalDescription({type: "rollback"}) and a remote
// offer in have-local-offer (pion/webrtc issue 2133). The polite peer
// therefore never applies its own offer before the answer to it arrives:
// it sends the offer it created and holds it (peer.held), still stable as
// far as pion knows. If the other peer's offer arrives first, the offers
// collided and the polite peer rolls back by dropping the held offer, which
// pion never saw, and answers on the same connection, with the same ICE
// credentials and DTLS certificate the call already has. On the wire this
// is exactly what a browser does with an explicit rollback. The impolite
// peer applies its offers at once, as in the W3C example, and ignores an
// offer that collides with one.
//
// What pion's createOffer leaves behind is handled where it starts: it
// gives every transceiver without a mid one of its own, and a rollback
// would unset those. See nameNewTransceivers and firstOfferConflicts.

// kicked makes an offer for negotiationneeded. The loop runs one event at a
// time, so there is no "making offer" window in which a remote offer can
// arrive: a collision shows up as a held offer (polite) or a non-stable
// signaling state (impolite) instead.
//
// A polite peer lets the impolite peer make the first offer (the impolite
// peer offers as soon as it learns of us, and the web app's polite side
// waits the same way) and makes one itself only after
// politeFirstOfferWait; a collision then is resolved as above.
func (c *Call) kicked(p *peer, force bool) {
	if p != c.peer || p.held != nil || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return // pion fires again when it is back to stable and still needs it
	}
	if p.answerOnly {
		return // what the tool's offer left out (the chat channel) stays out
	}
	if c.sig == nil {
		p.owed = true // no one to send the offer to; peerBack makes it
		return
	}
	polite := c.Polite()
	if polite && !p.remoteSet && !force {
		if p.fallback == nil {
			p.fallback = time.AfterFunc(politeFirstOfferWait, func() {
				c.post(func() { c.kicked(p, true) })
			})
		}
		return
	}
	if polite {
		p.nameNewTransceivers()
	}
	unnamed := p.unnamedTransceivers()
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		c.log.Warn("making offer", "err", err)
		return
	}
	if polite {
		p.held = &offer
		p.heldMids = make(map[string]webrtc.RTPCodecType, len(unnamed))
		for _, t := range unnamed {
			p.heldMids[t.Mid()] = t.Kind()
		}
		c.sendDescription(&offer)
		return
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		c.log.Warn("making offer", "err", err)
		return
	}
	c.sendDescription(p.pc.LocalDescription())
}

// unnamedTransceivers are the transceivers createOffer is about to give a
// mid.
func (p *peer) unnamedTransceivers() []*webrtc.RTPTransceiver {
	var out []*webrtc.RTPTransceiver
	for _, t := range p.pc.GetTransceivers() {
		if t.Mid() == "" {
			out = append(out, t)
		}
	}
	return out
}

// nameNewTransceivers gives the transceivers a polite peer added after the
// first negotiation mids of the form "d<n>" before it offers them. A
// rollback unsets the mids its offer assigned; pion cannot, and a mid pion
// picked ("3", the next number) is the one the other peer picks for a
// section it adds in a colliding offer, of whatever kind, which pion would
// then pair with ours. Browsers and pion number their mids, so "d<n>" is
// never theirs: a dropped offer's sections stay ours and go out in the
// next offer. The first negotiation keeps pion's numbers, so that the
// sections line up with the web app's (see addMedia); a collision there is
// handled by firstOfferConflicts.
func (p *peer) nameNewTransceivers() {
	if p.pc.CurrentLocalDescription() == nil {
		return
	}
	for _, t := range p.unnamedTransceivers() {
		p.midSeq++
		if err := t.SetMid("d" + strconv.Itoa(p.midSeq)); err != nil {
			return // named meanwhile; createOffer keeps that name
		}
	}
}

func (c *Call) sendDescription(d *webrtc.SessionDescription) {
	c.send(&protocol.Description{Description: protocol.SessionDescription{Type: d.Type.String(), SDP: d.SDP}})
}

// handleDescription is the perfect negotiation pattern's receiving half.
func (c *Call) handleDescription(d protocol.SessionDescription) {
	if c.peer == nil {
		// An offer from a peer we have not been told about (a resume
		// race): treat it as that peer's arrival.
		c.newPeer("")
	}
	p := c.peer
	if p == nil {
		return
	}
	desc := webrtc.SessionDescription{Type: webrtc.NewSDPType(d.Type), SDP: d.SDP}
	switch desc.Type {
	case webrtc.SDPTypeOffer:
		c.remoteOffer(p, desc)
	case webrtc.SDPTypeAnswer:
		c.remoteAnswer(p, desc)
	default:
		// rollback: the other peer withdraws an offer of its own. A duet
		// peer answers every offer in the same step it applies it, so there
		// is never a remote offer left to roll back. pranswer is not used.
		c.log.Debug("ignoring description", "type", d.Type)
	}
}

func (c *Call) remoteOffer(p *peer, desc webrtc.SessionDescription) {
	collision := p.held != nil || p.pc.SignalingState() != webrtc.SignalingStateStable
	p.ignoreOffer = !c.Polite() && collision
	if p.ignoreOffer {
		c.log.Debug("ignoring colliding offer (impolite)")
		return
	}
	if p.held != nil {
		c.log.Debug("offer collision: rolling back our offer to answer theirs")
		if c.firstOfferConflicts(p, desc) {
			// Nothing of this connection was ever applied, by either
			// side (a held offer gathers no candidates), so the peer
			// cannot tell a new one from a rolled-back one; it keeps
			// the certificate, and so the verify code.
			c.log.Debug("first offers collided with sections that cannot line up: a new, unused connection answers")
			if !c.reopenPeer(p) {
				return
			}
			p = c.peer
		}
		p.held, p.heldMids = nil, nil
	}
	if !c.applyRemote(p, desc) {
		return
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(answer)
	}
	if err != nil {
		c.log.Warn("answering", "err", err)
		return
	}
	c.sendDescription(p.pc.LocalDescription())
}

func (c *Call) remoteAnswer(p *peer, desc webrtc.SessionDescription) {
	if held := p.held; held != nil {
		p.held, p.heldMids = nil, nil
		// Applied only now that it is answered: see the top of this file.
		if err := p.pc.SetLocalDescription(*held); err != nil {
			c.log.Warn("applying our answered offer", "err", err)
			return
		}
	}
	if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		c.log.Debug("ignoring an answer to no offer of ours", "state", p.pc.SignalingState())
		return
	}
	if !c.applyRemote(p, desc) {
		return
	}
	// Stable again. A restart that had to wait for this negotiation
	// (restartICE needs stable) is made now.
	if p.outage && p.restartPending {
		c.restartICE(p)
	}
}

// applyRemote sets desc and the candidates that waited for it.
func (c *Call) applyRemote(p *peer, desc webrtc.SessionDescription) bool {
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		c.log.Warn("setting remote description", "type", desc.Type, "err", err)
		return false
	}
	p.remoteSet = true
	if p.fallback != nil {
		p.fallback.Stop()
	}
	for _, cand := range p.pending {
		c.addCandidate(p, cand)
	}
	p.pending = nil
	return true
}

// firstOfferConflicts reports whether offer, colliding with our held first
// offer, uses a mid that offer gave one of our transceivers for a section of
// another kind (or for the data channel). pion would pair the two by mid
// alone. Only the first offer can do this: later ones name their new
// sections apart (nameNewTransceivers). Two duet peers, and peers that lay
// out audio then video as most apps do, never conflict.
func (c *Call) firstOfferConflicts(p *peer, offer webrtc.SessionDescription) bool {
	if len(p.heldMids) == 0 || p.pc.CurrentLocalDescription() != nil {
		return false
	}
	parsed, err := offer.Unmarshal()
	if err != nil {
		return false // SetRemoteDescription reports it
	}
	for _, m := range parsed.MediaDescriptions {
		mid, _ := m.Attribute("mid")
		kind, ours := p.heldMids[mid]
		if ours && webrtc.NewRTPCodecType(m.MediaName.Media) != kind {
			return true
		}
	}
	return false
}

// reopenPeer replaces p, which has never had a description applied, with a
// fresh connection that has its certificate. Only firstOfferConflicts
// calls for it.
func (c *Call) reopenPeer(p *peer) bool {
	certs := p.pc.GetConfiguration().Certificates
	id := c.peerID
	c.dropPeer()
	np, err := c.openPeer(certs)
	if err != nil {
		c.log.Error("creating peer connection", "err", fmt.Errorf("reopening: %w", err))
		c.setState(StateFailed)
		return false
	}
	c.peerID = id
	c.peer = np
	return true
}
