package signal

import (
	"context"
	"log/slog"
	"sync"

	"github.com/duet-call/duet/protocol"
)

// Hub owns every room. Sessions call into it from their reader goroutines.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	rooms    map[string]*room
	sessions map[*session]struct{}
	draining bool

	wg sync.WaitGroup // one count per live session, released when its goroutines end
}

// room holds at most two sessions. Fields are guarded by Hub.mu.
type room struct {
	id    string
	peers [2]*session
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

func (r *room) empty() bool { return r.peers[0] == nil && r.peers[1] == nil }

// NewHub makes a hub with cfg (zero fields take their defaults).
func NewHub(cfg Config, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{
		cfg:      cfg.withDefaults(),
		log:      log,
		rooms:    map[string]*room{},
		sessions: map[*session]struct{}{},
	}
}

// Stats is a snapshot of the hub's size.
type Stats struct {
	Sessions int // open connections
	Rooms    int // rooms with at least one peer
	Peers    int // sessions in a room
}

// Stats returns the current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Sessions: len(h.sessions), Rooms: len(h.rooms)}
	for _, r := range h.rooms {
		for _, p := range r.peers {
			if p != nil {
				st.Peers++
			}
		}
	}
	return st
}

// add registers a new session; it fails when the hub is draining.
func (h *Hub) add(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(1)
	return true
}

// remove takes a finished session out of its room and the registry.
func (h *Hub) remove(s *session) {
	h.mu.Lock()
	h.leaveLocked(s, protocol.ReasonDisconnected)
	delete(h.sessions, s)
	h.mu.Unlock()
	h.wg.Done()
}

// join puts s into room id. The joined reply and the partner's peer-joined
// are queued under the lock, so no relay from the partner can overtake them.
func (h *Hub) join(s *session, id string, ice []protocol.ICEServer) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return protocol.Errorf(protocol.CodeShuttingDown, "the server is shutting down")
	}
	if s.room != nil {
		return protocol.Errorf(protocol.CodeAlreadyIn, "this connection is already in a room; leave it first")
	}
	r := h.rooms[id]
	if r == nil {
		r = &room{id: id}
		h.rooms[id] = r
	}
	slot := -1
	for i, p := range r.peers {
		if p == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		return protocol.Errorf(protocol.CodeRoomFull, "the room already has two people in it")
	}
	other := r.peers[1-slot]
	// The first peer is impolite; a newcomer takes the opposite of whoever
	// stayed, so a peer who stays keeps its role across the other's reloads.
	polite := other != nil && !other.polite
	r.peers[slot] = s
	s.room, s.polite = r, polite
	s.sendMsg(&protocol.Joined{V: protocol.Version, Room: id, Polite: polite, PeerPresent: other != nil, ICEServers: ice})
	if other != nil {
		other.send(msgPeerJoined)
	}
	return nil
}

// leave takes s out of its room and tells the partner why.
func (h *Hub) leave(s *session, reason string) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.room == nil {
		return protocol.Errorf(protocol.CodeNotJoined, "not in a room")
	}
	h.leaveLocked(s, reason)
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
	if other := r.other(nil); other != nil {
		other.sendMsg(&protocol.PeerLeft{Reason: reason})
	}
	if r.empty() {
		delete(h.rooms, r.id)
	}
}

// relay queues data, already validated and re-encoded, for the partner of s.
// It is queued under the lock so it cannot reach a session that has since
// left for another room. With no partner it is dropped.
func (h *Hub) relay(s *session, data []byte) *protocol.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.room == nil {
		return protocol.Errorf(protocol.CodeNotJoined, "join a room before sending to a peer")
	}
	if other := s.room.other(s); other != nil {
		other.send(data)
	}
	return nil
}

// Shutdown refuses new joins, sends every client bye and a going-away close,
// and waits for their sessions to end or ctx to expire, when it cuts the
// remaining connections. It is safe to call more than once.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	for s := range h.sessions {
		s.sendMsg(&protocol.Bye{Reason: "shutdown"})
		s.stop(closeGoingAway)
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
			s.conn.Close()
		}
		h.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

var msgPeerJoined = mustEncode(&protocol.PeerJoined{})

func mustEncode(m protocol.Message) []byte {
	b, err := protocol.Encode(m)
	if err != nil {
		panic(err)
	}
	return b
}
