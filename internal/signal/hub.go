package signal

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/protocol"
)

// Hub owns every room. Sessions call into it from the wsconn pollers that
// read them, and from their join goroutines.
type Hub struct {
	cfg  Config
	log  *slog.Logger
	bus  bus.Bus
	node string // this node's id on the bus

	mu        sync.Mutex
	rooms     map[string]*room
	sessions  map[*session]struct{}
	places    map[string]*session // peer id → this node's place (live or ghost), for HoldsPlace
	ips       map[string]*ipState
	lastSweep time.Time
	draining  bool
	// early holds what other nodes send to a peer between its claim and
	// its taking the place (see join); the key is present while it joins.
	early map[earlyKey][]bus.Envelope
	// idle holds connections in no room, oldest first, and idleTimer
	// closes them when JoinTimeout is up (idle.go).
	idle      []idleEntry
	idleTimer *time.Timer

	wg sync.WaitGroup // one count per session, until its socket is closed

	slowLog slowLog // rate-limits the log line of a slow client cut off
}

// room holds at most two places. A place belongs to a live session or to a
// ghost: a session whose connection dropped and that may still resume.
// Fields are guarded by Hub.mu.
type room struct {
	id    string
	peers [2]*session
	since time.Time // when the first present peer joined, for Paired
}

func (r *room) other(s *session) *session {
	switch s {
	case r.peers[0]:
		return r.peers[1]
	case r.peers[1]:
		return r.peers[0]
	}
	return nil
}

// empty reports whether no place is held by this node: a room kept only
// for a stub has no one here to tell anything.
func (r *room) empty() bool { return !r.local(0) && !r.local(1) }

func (r *room) local(i int) bool { return r.peers[i] != nil && r.peers[i].remote == "" }

// NewHub makes a hub with cfg (zero fields take their defaults).
func NewHub(cfg Config, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{
		cfg:      cfg.withDefaults(),
		log:      log,
		rooms:    map[string]*room{},
		sessions: map[*session]struct{}{},
		places:   map[string]*session{},
		ips:      map[string]*ipState{},
		early:    map[earlyKey][]bus.Envelope{},
	}
	h.bus, h.node = h.cfg.Bus, h.cfg.Bus.Node()
	h.bus.Attach(h)
	return h
}

// Stats is a snapshot of the hub's size.
type Stats struct {
	Sessions int // open connections
	Rooms    int // rooms with at least one place taken here
	Peers    int // places taken here, ghosts included (not peers on other nodes)
	Ghosts   int // places held for a dropped peer that may resume
}

// Stats returns the current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Sessions: len(h.sessions), Rooms: len(h.rooms)}
	for _, r := range h.rooms {
		for _, p := range r.peers {
			if p != nil && p.remote == "" {
				st.Peers++
				if p.ghost {
					st.Ghosts++
				}
			}
		}
	}
	return st
}

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
	resumed = resumed && tok.room == id
	me := bus.Place{Peer: newPeerID(), Node: h.node}
	if resumed {
		me.Peer, me.Polite = tok.peerID, tok.polite
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
	c, err := h.bus.Claim(ctx, id, me, resumed)
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
	s.peerID = me.Peer
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
		Resume: h.mintToken(resumeToken{expiry: now.Add(h.cfg.ResumeTTL), polite: polite, peerID: s.peerID, room: id}),
	}
	if other != nil {
		joined.Peer = other.peerID
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

// unplaceLocked forgets p's place in the index HoldsPlace reads.
func (h *Hub) unplaceLocked(p *session) {
	if h.places[p.peerID] == p {
		delete(h.places, p.peerID)
	}
}

// HoldsPlace reports whether peerID holds a place in a room on this node,
// live or as a ghost waiting for its resume. The embedded TURN server asks
// it before a new allocation (turnserver.Config.Authorize): relay
// credentials are good for as long as the call that got them goes on, and
// not a moment longer, whatever their expiry says.
func (h *Hub) HoldsPlace(peerID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.places[peerID] != nil
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

// leave takes s out of its room and tells the partner why.
func (h *Hub) leave(s *session, reason string) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.room == nil {
		return protocol.Errorf(protocol.CodeNotJoined, "not in a room")
	}
	h.leaveLocked(s, reason)
	h.markIdleLocked(s, time.Now())
	return nil
}

// leaveLocked is leave with h.mu held; it does nothing if s is in no room.
func (h *Hub) leaveLocked(s *session, reason string) {
	r := s.room
	if r == nil {
		return
	}
	for i, p := range r.peers {
		if p == s {
			r.peers[i] = nil
		}
	}
	s.room = nil
	h.unplaceLocked(s)
	h.cfg.Observer.Left(reason)
	// While draining, bye is the last thing a client hears: its partner is
	// not leaving, the server is, and both will resume elsewhere. On a
	// cluster the place stays in the directory until they do, or until
	// other nodes see this one gone.
	if !h.draining {
		h.bus.Release(r.id, bus.Place{Peer: s.peerID, Node: h.node})
		switch other := r.other(nil); {
		case other == nil:
		case other.remote != "":
			h.bus.Send(other.remote, bus.Envelope{Kind: bus.Left, Room: r.id, To: other.peerID, From: s.peerID, FromNode: h.node, Reason: reason})
		default:
			other.sendMsg(&protocol.PeerLeft{Reason: reason})
		}
	}
	if r.empty() {
		delete(h.rooms, r.id)
	}
}

// relay queues data, already validated and re-encoded, for the partner of s.
// It is queued under the lock so it cannot reach a session that has since
// left for another room. With no partner, or a ghost, it is dropped.
func (h *Hub) relay(s *session, data []byte, start time.Time) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.room == nil {
		return protocol.Errorf(protocol.CodeNotJoined, "join a room before sending to a peer")
	}
	other := s.room.other(s)
	if other == nil || other.ghost {
		h.cfg.Observer.Dropped()
		return nil
	}
	// Counted before it is queued: the message may reach the other peer
	// (through another node's goroutines) before this one runs on, and a
	// scrape after the delivery must see it.
	h.cfg.Observer.Relayed()
	if other.remote != "" {
		h.bus.Send(other.remote, bus.Envelope{Kind: bus.Relay, Room: s.room.id, To: other.peerID, From: s.peerID, FromNode: h.node, Data: data})
	} else {
		other.send(data)
	}
	h.cfg.Observer.RelayTime(time.Since(start))
	return nil
}

// disconnected is called once when s's connection has ended. clean is true
// when the client closed it with a close frame (a tab closed, hang-up):
// then the partner is told at once. Otherwise the place is held as a ghost
// for ResumeGrace in case the client comes back with its resume token.
func (h *Hub) disconnected(s *session, clean bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, s)
	s.ip.conns--
	h.cfg.Observer.Disconnected()
	switch {
	case s.room == nil:
	case clean || h.draining:
		h.leaveLocked(s, protocol.ReasonDisconnected)
	default:
		s.ghost = true
		s.ghostTimer = time.AfterFunc(h.cfg.ResumeGrace, func() { h.expireGhost(s) })
	}
}

func (h *Hub) expireGhost(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.ghost && s.room != nil {
		h.leaveLocked(s, protocol.ReasonDisconnected)
	}
}

// Shutdown refuses new joins, sends every client bye and a going-away close,
// and waits for their sessions to end or ctx to expire, when it cuts the
// remaining connections. Ghost places are dropped. Safe to call twice.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	if h.idleTimer != nil {
		h.idleTimer.Stop()
	}
	h.idle = nil
	for s := range h.sessions {
		s.sendMsg(&protocol.Bye{Reason: protocol.ByeShutdown})
		s.stop(closeGoingAway)
	}
	for _, r := range h.rooms {
		for _, p := range r.peers {
			if p != nil && p.ghost {
				p.ghostTimer.Stop()
				h.leaveLocked(p, protocol.ReasonDisconnected)
			}
		}
	}
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		for s := range h.sessions {
			if s.conn != nil {
				s.conn.Abort()
			}
		}
		h.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
