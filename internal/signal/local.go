package signal

import (
	"errors"
	"fmt"
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/protocol"
)

// This file is the hub's side of places that are not WebSockets: a WHIP
// publisher or WHEP player (internal/whip) takes the room's other place
// through JoinLocal and talks to the peer there through the same relay as
// a WebSocket client. Such a place is a session without a connection
// whose messages go to a LocalHandler instead of a socket (session.send),
// so rooms, limits, metrics and shutdown treat it like any other.
//
// Its rules (docs/protocol.md, "WHIP and WHEP places"):
//   - it joins only beside a person who is there to answer, never alone;
//   - it never outlives that person: when the partner leaves, the place
//     ends too, since a WHIP or WHEP client cannot negotiate with anyone
//     new (see localPlace.deliver);
//   - offers to it are refused (it cannot take one), and the person may
//     send it away with dismiss.

// LocalHandler hears what the hub has for a Local place. Its methods are
// called with the hub's lock held: they must be quick, must not block and
// must not call back into the hub.
type LocalHandler interface {
	// Relay is a description (an answer) or a candidate from the partner.
	Relay(m protocol.Message)
	// Ended says the place is gone without its holder asking (Leave):
	// reason is the partner's peer-left reason (it left or dropped),
	// protocol.ReasonDismissed, or protocol.ByeShutdown.
	Ended(reason string)
}

// Reasons JoinLocal refuses besides the protocol's own codes (bad-room,
// room-full, rate-limited, too-many-connections, over-capacity,
// shutting-down).
var (
	// ErrNoPeer: no one is in the room to answer the offer.
	ErrNoPeer = errors.New("signal: no one in the room to answer")
	// ErrPeerAway: the person in the room has lost its connection and may
	// come back; it cannot answer now.
	ErrPeerAway = errors.New("signal: the person in the room is reconnecting")
	// ErrClustered: the hub runs on a cluster bus; local places need the
	// partner and every later request on this node, which a cluster
	// cannot promise (docs/architecture.md, "WHIP and WHEP").
	ErrClustered = errors.New("signal: WHIP and WHEP need a single node")
)

// localPlace is what a local session has instead of a connection. Its
// fields are guarded by Hub.mu.
type localPlace struct {
	kind    string
	handler LocalHandler
	ended   bool // unregistered: nothing more reaches the handler
}

// Local is a place in a room held in this process. Its methods are safe
// to call from any goroutine, but not from a LocalHandler method.
type Local struct {
	h *Hub
	s *session
}

// kind is what s is for its partner's joined and peer-joined.
func (s *session) kind() string {
	if s.local == nil {
		return ""
	}
	return s.local.kind
}

// JoinLocal takes the other place of room for a local client of kind
// (protocol.KindWHIP or KindWHEP) coming from clientKey (its address, for
// the per-address limits every WebSocket client has too). The person
// already there is told with peer-joined carrying peerKind. Refusals are
// a *protocol.Error or one of the Err values above.
func (h *Hub) JoinLocal(roomID, kind, clientKey string, lh LocalHandler) (*Local, error) {
	if kind != protocol.KindWHIP && kind != protocol.KindWHEP {
		return nil, fmt.Errorf("signal: unknown local kind %q", kind)
	}
	if !protocol.ValidRoom(roomID) {
		return nil, protocol.Errorf(protocol.CodeBadRoom, "a room id is 1 to %d characters from A-Z a-z 0-9 _ -", protocol.MaxRoomLen)
	}
	if _, ok := h.bus.(bus.Local); !ok {
		return nil, ErrClustered
	}
	s := &session{hub: h, addr: kind + " " + clientKey, local: &localPlace{kind: kind, handler: lh}}
	if e := h.admit(s, clientKey); e != nil {
		h.cfg.Observer.Refused(e.Code)
		return nil, e
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.joinLocalLocked(s, roomID, now); err != nil {
		var e *protocol.Error
		if errors.As(err, &e) {
			h.cfg.Observer.Refused(e.Code)
		}
		h.unregisterLocked(s)
		return nil, err
	}
	return &Local{h: h, s: s}, nil
}

func (h *Hub) joinLocalLocked(s *session, roomID string, now time.Time) error {
	if e := h.joinCheckLocked(s, now); e != nil {
		return e
	}
	r := h.rooms[roomID]
	if r == nil {
		return ErrNoPeer
	}
	slot, other := -1, (*session)(nil)
	for i, p := range r.peers {
		if p == nil {
			slot = i
		} else {
			other = p
		}
	}
	switch {
	case slot < 0:
		return errRoomFull()
	case other == nil || other.local != nil:
		return ErrNoPeer // a WHIP client cannot answer a WHEP one, nor the reverse
	case other.ghost:
		return ErrPeerAway
	}
	s.peerID = newPeerID()
	s.room, s.polite = r, !other.polite
	r.peers[slot] = s
	h.places[s.peerID] = s // its TURN credentials are good while it holds the place
	s.idleSince = time.Time{}
	h.cfg.Observer.Joined(false)
	h.cfg.Observer.Paired(now.Sub(r.since))
	other.sendMsg(&protocol.PeerJoined{Peer: s.peerID, PeerKind: s.local.kind})
	return nil
}

// PeerID is the place's peer id, as the partner knows it.
func (l *Local) PeerID() string { return l.s.peerID }

// Polite is the place's role. A local place never offers after its first
// offer, so the role matters only for what the partner was told.
func (l *Local) Polite() bool {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	return l.s.polite
}

// Send relays m, a *protocol.Description or *protocol.Candidate, to the
// partner, checked as a WebSocket client's message would be. A message
// with no one to take it (the partner is reconnecting) is dropped, as
// for any client; once the place has ended it is refused with not-joined.
func (l *Local) Send(m protocol.Message) error {
	switch m.(type) {
	case *protocol.Description, *protocol.Candidate:
	default:
		return fmt.Errorf("signal: a local place sends descriptions and candidates, not %T", m)
	}
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	if _, err := protocol.DecodeClient(b); err != nil {
		return err // the same checks as a client's frame
	}
	if e := l.h.relay(l.s, b, time.Now()); e != nil {
		return e
	}
	return nil
}

// Leave frees the place: its client is done (WHIP or WHEP DELETE). The
// partner hears peer-left with reason left. It reports false, doing
// nothing, when the place had ended already (or Leave was called before).
func (l *Local) Leave() bool {
	h := l.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if l.s.local.ended {
		return false
	}
	h.leaveLocked(l.s, protocol.ReasonLeft)
	h.unregisterLocked(l.s)
	return true
}

// unregisterLocked undoes admit for a local session, once.
func (h *Hub) unregisterLocked(s *session) {
	if s.local.ended {
		return
	}
	s.local.ended = true
	s.stopping.Store(true)
	delete(h.sessions, s)
	s.ip.conns--
	h.cfg.Observer.Disconnected()
	h.wg.Done() // admit counted it
}

// endLocalLocked ends a local place the hub decided to end, and tells its
// handler why — first, so that the holder has forgotten the place by the
// time the partner hears peer-left and can act on it (a DELETE right after
// a dismiss must find no session). It may run inside leaveLocked of the
// partner (through deliver): the partner is out of the room by then, so
// leaving here tells no one, and both leave the same room.
func (h *Hub) endLocalLocked(s *session, why, reason string) {
	if s.local.ended {
		return
	}
	s.local.handler.Ended(why)
	h.leaveLocked(s, reason)
	h.unregisterLocked(s)
}

// deliver is session.send for a local session, with Hub.mu held: what
// the hub would write to a socket is decoded and handed to the handler.
func (p *localPlace) deliver(s *session, data []byte) {
	if p.ended {
		return
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		s.hub.log.Error("local place: undecodable message from the hub", "err", err)
		return
	}
	h := s.hub
	switch v := m.(type) {
	case *protocol.Description:
		if v.Description.Type == "offer" {
			// The tool cannot take an offer: tell the sender, so it rolls
			// back rather than wait for an answer that never comes.
			if r := s.room; r != nil {
				if from := r.other(s); from != nil {
					from.sendErr(&protocol.Error{Code: protocol.CodeOfferRefused, Ref: protocol.TypeDescription,
						Message: fmt.Sprintf("the other place is a %s client, which cannot take an offer: answer its offers and send none", p.kind)})
				}
			}
			return
		}
		p.handler.Relay(v)
	case *protocol.Candidate:
		p.handler.Relay(v)
	case *protocol.PeerLeft:
		// The person left or dropped for good: the tool's connection was
		// to that person's app and cannot go on with anyone else.
		h.endLocalLocked(s, v.Reason, protocol.ReasonDisconnected)
	case *protocol.Bye:
		h.endLocalLocked(s, v.Reason, protocol.ReasonDisconnected)
	}
	// joined is never sent to a local place; peer-joined means the person
	// resumed after a signaling outage, which changes nothing here.
}

// dismiss is the dismiss message: s sends away the WHIP or WHEP place
// beside it, and hears peer-left with reason dismissed.
func (h *Hub) dismiss(s *session) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.room == nil {
		return protocol.Errorf(protocol.CodeNotJoined, "join a room first")
	}
	o := s.room.other(s)
	if o == nil || o.local == nil {
		return protocol.Errorf(protocol.CodeCannotDismiss, "the other place is not a WHIP or WHEP client; people cannot be sent away")
	}
	h.endLocalLocked(o, protocol.ReasonDismissed, protocol.ReasonDismissed)
	return nil
}
