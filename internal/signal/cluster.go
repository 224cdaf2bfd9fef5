package signal

import (
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/protocol"
)

// This file is the hub's side of the bus: what it does when the directory
// names a partner on another node, when another node sends an envelope, and
// when a node is gone. On bus.Local none of it is reached.

// stub makes the place of a peer that lives on another node.
func (h *Hub) stub(r *room, p bus.Place) *session {
	return &session{hub: h, room: r, peerID: p.Peer, polite: p.Polite, remote: p.Node}
}

// mergePartnerLocked brings r in line with the partner the directory named:
// the directory is the truth about other nodes' places, this hub about its
// own sessions.
func (h *Hub) mergePartnerLocked(r *room, partner *bus.Place) {
	for i, p := range r.peers {
		if p != nil && p.remote != "" && (partner == nil || p.peerID != partner.Peer) {
			r.peers[i] = nil // a stale stub: that peer has left or its node died
		}
	}
	if partner == nil || partner.Node == h.node {
		return
	}
	for _, p := range r.peers {
		if p != nil && p.peerID == partner.Peer {
			p.remote, p.polite = partner.Node, partner.Polite
			return
		}
	}
	for i, p := range r.peers {
		if p == nil {
			r.peers[i] = h.stub(r, *partner)
			return
		}
	}
}

// localPeer finds this node's session (live or ghost) for peer id in room.
func (h *Hub) localPeer(roomID, peer string) (*room, *session) {
	r := h.rooms[roomID]
	if r == nil {
		return nil, nil
	}
	for _, p := range r.peers {
		if p != nil && p.remote == "" && p.peerID == peer {
			return r, p
		}
	}
	return r, nil
}

// Deliver acts on an envelope from another node (bus.Receiver). Anything
// that does not match this node's view of the room is dropped: an envelope
// can only reach a peer whose partner is the sender.
func (h *Hub) Deliver(e bus.Envelope) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(e)
}

// maxEarly bounds the envelopes kept for one peer whose join is between
// its claim and taking its place: about what a partner sends at once.
const maxEarly = 64

// earlyKey names a join in flight: its place is claimed in the directory,
// so a partner on another node may already be writing to it.
type earlyKey struct{ room, peer string }

func (h *Hub) deliverLocked(e bus.Envelope) {
	r, to := h.localPeer(e.Room, e.To)
	if to == nil {
		if q, ok := h.early[earlyKey{e.Room, e.To}]; ok {
			if len(q) < maxEarly {
				h.early[earlyKey{e.Room, e.To}] = append(q, e)
				return
			}
		}
		if e.Kind == bus.Relay {
			h.cfg.Observer.Dropped()
		}
		return
	}
	other := r.other(to)
	fromPartner := other != nil && other.remote != "" && other.peerID == e.From
	switch e.Kind {
	case bus.Relay:
		if !fromPartner || to.ghost {
			h.cfg.Observer.Dropped()
			return
		}
		to.send(e.Data) // counted as relayed by the sending node, once

	case bus.Joined:
		if other != nil && other.remote == "" {
			if other.peerID != e.From {
				h.log.Warn("cluster: a peer joined beside a full room", "room", e.Room)
				return
			}
			h.evictLocked(other) // our peer resumed on e.FromNode
		}
		for i, p := range r.peers {
			if p == nil || p.remote != "" {
				r.peers[i] = h.stub(r, bus.Place{Peer: e.From, Node: e.FromNode, Polite: e.Polite})
				break
			}
		}
		if !e.Resumed && other == nil {
			// Paired is observed where the first peer waited.
			h.cfg.Observer.Paired(time.Since(r.since))
		}
		to.sendMsg(&protocol.PeerJoined{Peer: e.From, Resumed: e.Resumed})
	case bus.Left:
		if !fromPartner {
			return
		}
		h.dropStubLocked(r, other)
		to.sendMsg(&protocol.PeerLeft{Reason: e.Reason})
	case bus.Evict:
		h.evictLocked(to)
		if r.empty() {
			delete(h.rooms, r.id)
		}
	}
}

func (h *Hub) dropStubLocked(r *room, stub *session) {
	for i, p := range r.peers {
		if p == stub {
			r.peers[i] = nil
		}
	}
	stub.room = nil
}

// NodeGone frees the places this hub knew on a node that stopped answering
// (bus.Receiver): each partner here is told its peer left, and the place is
// released in the directory.
func (h *Hub) NodeGone(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rooms {
		for _, p := range r.peers {
			if p == nil || p.remote != node {
				continue
			}
			h.dropStubLocked(r, p)
			h.cfg.Observer.Left(protocol.ReasonDisconnected)
			h.bus.Release(r.id, bus.Place{Peer: p.peerID, Node: node})
			if other := r.other(nil); other != nil && !h.draining {
				other.sendMsg(&protocol.PeerLeft{Reason: protocol.ReasonDisconnected})
			}
		}
	}
}

// Places lists this node's own places (bus.Receiver), for the bus to write
// back after NATS lost its store.
func (h *Hub) Places() []bus.RoomPlace {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []bus.RoomPlace
	for _, r := range h.rooms {
		for _, p := range r.peers {
			if p != nil && p.remote == "" {
				out = append(out, bus.RoomPlace{Room: r.id, Place: bus.Place{Peer: p.peerID, Node: h.node, Polite: p.polite, Gen: p.gen}})
			}
		}
	}
	return out
}
