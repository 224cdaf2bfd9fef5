package signal

import (
	"context"
	"errors"
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/protocol"
)

// join puts s into room id, or gives it back its place if resume is a valid
// token for this room. The place is claimed from the bus's directory first,
// without the lock (on NATS that is a round trip); then, under the lock, the
// joined reply and the partner's peer-joined are queued, so no relay from
// the partner can overtake them.
func (h *Hub) join(s *session, id, resume string) *protocol.Error {
	now := time.Now()
	h.mu.Lock()
	if e := h.joinCheckLocked(s, now); e != nil {
		h.mu.Unlock()
		return e
	}
	tok, resumed := h.parseToken(resume, now)
	// A superseded or ended token joins afresh, like an invalid one: it
	// cannot evict anyone.
	resumed = resumed && tok.room == id && h.resumableLocked(h.rooms[id], tok)
	me := bus.Place{Peer: newPeerID(), Node: h.node}
	var rs *bus.Resume
	if resumed {
		me.Peer, me.Polite, me.Gen = tok.peerID, tok.polite, tok.gen+1
		rs = &bus.Resume{Gen: tok.gen, Issuer: tok.node}
	}
	// Two places already taken here, neither ours: full, whatever the bus says.
	if r := h.rooms[id]; r != nil && r.peers[0] != nil && r.peers[1] != nil &&
		r.peers[0].peerID != me.Peer && r.peers[1].peerID != me.Peer {
		h.mu.Unlock()
		return errRoomFull()
	}
	// Once claimed, a partner on another node may write to us before we
	// take the place below: keep what arrives and deliver it then.
	ek := earlyKey{id, me.Peer}
	h.early[ek] = nil
	h.mu.Unlock()
	// Minted outside the lock, for the place (not the connection): a
	// resumed peer's credentials share its quota with the ones it had.
	ice := h.cfg.ICEServers(s.host, me.Peer)

	ctx, cancel := context.WithTimeout(context.Background(), joinClaimTimeout)
	c, err := h.bus.Claim(ctx, id, me, rs)
	if errors.Is(err, bus.ErrStale) {
		// The directory knows the token was superseded or its place
		// ended on another node: a fresh join, with a place of its own.
		h.mu.Lock()
		delete(h.early, ek)
		resumed, me = false, bus.Place{Peer: newPeerID(), Node: h.node}
		ek = earlyKey{id, me.Peer}
		h.early[ek] = nil
		h.mu.Unlock()
		ice = h.cfg.ICEServers(s.host, me.Peer)
		c, err = h.bus.Claim(ctx, id, me, nil)
	}
	cancel()
	if err != nil {
		h.mu.Lock()
		delete(h.early, ek)
		h.mu.Unlock()
		if errors.Is(err, bus.ErrRoomFull) {
			return errRoomFull()
		}
		h.log.Warn("join: room directory unavailable", "err", err)
		return protocol.Errorf(protocol.CodeOverCapacity, "the cluster cannot admit anyone right now; try again")
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	early := h.early[ek]
	delete(h.early, ek)
	if h.draining {
		h.bus.Release(id, c.Me)
		return protocol.Errorf(protocol.CodeShuttingDown, "the server is shutting down")
	}
	r := h.rooms[id]
	if r == nil {
		r = &room{id: id}
		h.rooms[id] = r
	}
	if resumed && !h.resumableLocked(r, tok) {
		// Another resume with the same token won while we claimed: it
		// holds the place (the directory's entry is its, the same place
		// of this node), and this one takes nothing.
		if r.empty() {
			delete(h.rooms, id)
		}
		return errRoomFull()
	}
	if resumed {
		// Take back our own place, from a ghost, from a connection of
		// ours that the server has not yet noticed is dead, or from the
		// stub of our place on another node.
		for _, p := range r.peers {
			if p != nil && p.peerID == me.Peer {
				h.evictLocked(p)
			}
		}
	}
	h.mergePartnerLocked(r, c.Partner)
	slot := -1
	for i, p := range r.peers {
		if p == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		h.bus.Release(id, c.Me)
		if r.empty() {
			delete(h.rooms, id)
		}
		return errRoomFull()
	}
	other := r.peers[1-slot]
	// The first peer is impolite; a newcomer takes the opposite of whoever
	// stayed, so a peer who stays keeps its role across the other's reloads.
	// A peer resuming alone (the server restarted) keeps its old role.
	polite := false
	switch {
	case other != nil:
		polite = !other.polite
	case resumed:
		polite = tok.polite
	}
	s.peerID, s.gen = me.Peer, me.Gen
	r.peers[slot] = s
	s.room, s.polite = r, polite
	s.idleSince = time.Time{}
	h.places[s.peerID] = s
	h.cfg.Observer.Joined(resumed)
	switch {
	case other == nil:
		r.since = now
	case !resumed && other.remote == "":
		// With the first peer on another node, that node observes it.
		h.cfg.Observer.Paired(now.Sub(r.since))
	}
	joined := &protocol.Joined{
		V: protocol.Version, Room: id, Polite: polite, PeerPresent: other != nil,
		ICEServers: ice, PeerID: s.peerID, Resumed: resumed,
		Resume: h.mintToken(resumeToken{expiry: now.Add(h.cfg.ResumeTTL), polite: polite, gen: s.gen, peerID: s.peerID, room: id}),
	}
	if other != nil {
		joined.Peer, joined.PeerKind = other.peerID, other.kind()
	}
	s.sendMsg(joined)
	if c.Replaced != nil && c.Replaced.Node != h.node {
		h.bus.Send(c.Replaced.Node, bus.Envelope{Kind: bus.Evict, Room: id, To: s.peerID, FromNode: h.node})
	}
	switch {
	case other == nil:
	case other.remote != "":
		h.bus.Send(other.remote, bus.Envelope{Kind: bus.Joined, Room: id, To: other.peerID, From: s.peerID,
			FromNode: h.node, Polite: polite, Resumed: resumed})
	default:
		other.sendMsg(&protocol.PeerJoined{Peer: s.peerID, Resumed: resumed})
	}
	for _, e := range early {
		h.deliverLocked(e)
	}
	return nil
}

// joinClaimTimeout bounds how long a join waits for the room directory.
const joinClaimTimeout = 5 * time.Second

func errRoomFull() *protocol.Error {
	return protocol.Errorf(protocol.CodeRoomFull, "the room already has two people in it")
}

// joinCheckLocked refuses a join for reasons that need no room.
func (h *Hub) joinCheckLocked(s *session, now time.Time) *protocol.Error {
	if h.draining {
		return protocol.Errorf(protocol.CodeShuttingDown, "the server is shutting down")
	}
	if s.room != nil {
		return protocol.Errorf(protocol.CodeAlreadyIn, "this connection is already in a room; leave it first")
	}
	if !s.ip.joins.AllowN(now, 1) {
		return protocol.Errorf(protocol.CodeRateLimited, "too many joins from this address; wait a moment")
	}
	return nil
}

// evictLocked takes p's place away without telling its partner: p is being
// replaced by a resume of the same peer. A live p is told it was replaced.
func (h *Hub) evictLocked(p *session) {
	r := p.room
	for i, q := range r.peers {
		if q == p {
			r.peers[i] = nil
		}
	}
	p.room = nil
	h.unplaceLocked(p)
	if p.remote != "" {
		return // a stub: its node is told by whoever took the place
	}
	if p.ghostTimer != nil {
		p.ghostTimer.Stop()
	}
	if !p.ghost {
		p.sendMsg(&protocol.Bye{Reason: protocol.ByeReplaced})
		p.stop(closeReplaced)
	}
}
