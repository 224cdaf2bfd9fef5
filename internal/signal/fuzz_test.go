package signal

import (
	"bytes"
	"log/slog"
	"testing"

	"golang.org/x/time/rate"

	"github.com/duet-call/duet/protocol"
)

// FuzzHubHandle feeds frames from three connections into one hub, without
// sockets, and checks after every frame that the rooms are consistent and
// that a relay reached only the sender's partner of that moment. Each line
// of the input is one frame; its first byte picks the connection.
func FuzzHubHandle(f *testing.F) {
	f.Add([]byte("0{\"type\":\"join\",\"v\":1,\"room\":\"r\"}\n1{\"type\":\"join\",\"v\":1,\"room\":\"r\"}\n" +
		"0{\"type\":\"description\",\"description\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}\n" +
		"2{\"type\":\"join\",\"v\":1,\"room\":\"r\"}\n1{\"type\":\"leave\"}\n2{\"type\":\"join\",\"v\":1,\"room\":\"r\"}\n" +
		"2{\"type\":\"candidate\",\"candidate\":{\"candidate\":\"\",\"sdpMid\":\"0\"}}"))
	f.Add([]byte("0{\"type\":\"leave\"}\n1{\"type\":\"ping\"}\n2not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := NewHub(Config{}, slog.New(slog.DiscardHandler))
		var ss [3]*session
		for i := range ss {
			ss[i] = fakeSession(h)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			from := ss[int(line[0])%3]
			h.mu.Lock()
			var partner *session
			if from.room != nil {
				partner = from.room.other(from)
			}
			h.mu.Unlock()
			if e := from.handle(line[1:]); e != nil {
				from.sendErr(e)
			}
			for _, s := range ss {
				s.qmu.Lock()
				queued := s.q
				s.q = nil
				s.qmu.Unlock()
				for _, msg := range queued {
					m, err := protocol.DecodeServer(msg)
					if err != nil {
						t.Fatalf("server queued an undecodable message %s: %v", msg, err)
					}
					switch m.(type) {
					case *protocol.Description, *protocol.Candidate:
						if s != partner {
							t.Fatalf("a relay reached a session that was not the sender's partner")
						}
					}
				}
			}
			checkRooms(t, h)
		}
	})
}

func fakeSession(h *Hub) *session {
	s := &session{
		hub:     h,
		limiter: msgLimiter{lim: rate.NewLimiter(rate.Inf, 1)},
		ip:      &ipState{joins: rate.NewLimiter(rate.Inf, 1)},
	}
	h.sessions[s] = struct{}{}
	return s
}

func checkRooms(t *testing.T, h *Hub) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, r := range h.rooms {
		if r.id != id || r.empty() {
			t.Fatalf("room %q: id %q, empty %v", id, r.id, r.empty())
		}
		for _, p := range r.peers {
			if p != nil && p.room != r {
				t.Fatalf("room %q holds a session that thinks it is elsewhere", id)
			}
		}
		if a, b := r.peers[0], r.peers[1]; a != nil && b != nil && (a.polite == b.polite || a == b) {
			t.Fatalf("room %q: two peers with the same role or one session twice", id)
		}
	}
	for s := range h.sessions {
		if s.room != nil && s.room.peers[0] != s && s.room.peers[1] != s {
			t.Fatalf("session points at room %q that does not hold it", s.room.id)
		}
	}
}
