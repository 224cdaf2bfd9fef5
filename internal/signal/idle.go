package signal

import (
	"time"

	"github.com/duet-call/duet/internal/wsconn"
	"github.com/duet-call/duet/protocol"
)

// A connection that holds no place in a room is closed JoinTimeout after
// it opened or after it last left (a refused join does not restart the
// clock): the per-client
// connection limit is meant for people in calls, and sockets that never
// join would otherwise hold it for as long as their owner likes.
//
// Every connection waits the same time, so the waiting ones form a FIFO
// queue in order of their deadline, and one timer for the whole hub
// serves it: no timer or goroutine per connection. An entry is stale when
// the session has joined since, or left again later (it then has a newer
// entry); a stale entry is dropped when it reaches the front.

type idleEntry struct {
	s     *session
	since time.Time
}

var closeJoinTimeout = closeReason{wsconn.ClosePolicyViolation, "join timeout", true}

// markIdleLocked starts s's wait for a join at now, unless it is waiting
// already. So a session has at most one entry per join and leave, which
// the per-client join limit bounds.
func (h *Hub) markIdleLocked(s *session, now time.Time) {
	if h.draining || s.stopping.Load() || !s.idleSince.IsZero() {
		return
	}
	s.idleSince = now
	h.idle = append(h.idle, idleEntry{s, now})
	if len(h.idle) == 1 {
		h.armIdleLocked(now)
	}
}

// armIdleLocked sets the timer for the front of the queue.
func (h *Hub) armIdleLocked(now time.Time) {
	if len(h.idle) == 0 || h.draining {
		return
	}
	d := max(h.idle[0].since.Add(h.cfg.JoinTimeout).Sub(now), 0)
	if h.idleTimer == nil {
		h.idleTimer = time.AfterFunc(d, h.expireIdle)
	} else {
		h.idleTimer.Reset(d)
	}
}

// expireIdle closes the connections whose wait is over.
func (h *Hub) expireIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	n := 0
	for _, e := range h.idle {
		if now.Before(e.since.Add(h.cfg.JoinTimeout)) {
			break
		}
		n++
		s := e.s
		if _, live := h.sessions[s]; !live || s.room != nil || !s.idleSince.Equal(e.since) {
			continue // gone, joined, or waiting again since later
		}
		if s.joining.Load() {
			// A join is on its way (on a cluster it may wait for the
			// directory): give it the time it needs, and a fresh wait
			// after if it is refused.
			s.idleSince = time.Time{}
			h.markIdleLocked(s, now)
			continue
		}
		h.cfg.Observer.Refused(protocol.CodeJoinTimeout)
		s.sendMsg(protocol.Errorf(protocol.CodeJoinTimeout, "no room joined within %v of connecting; connect again to join", h.cfg.JoinTimeout).Wire())
		s.stop(closeJoinTimeout)
	}
	clear(h.idle[:n]) // let the sessions go
	h.idle = h.idle[n:]
	if len(h.idle) == 0 {
		h.idle = nil // let the array go too
	}
	h.armIdleLocked(now)
}
