package signal

import (
	"context"
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
	node string        // this node's id on the bus
	life [lifeLen]byte // this hub's random id, in the tokens it issues

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
		life:     newLife(),
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
