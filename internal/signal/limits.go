package signal

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/duet-call/duet/protocol"
)

// ipState is what the hub keeps per client IP, under Hub.mu.
type ipState struct {
	conns int
	joins *rate.Limiter
	last  time.Time // last connection opened
}

// admit registers a new session or says why not. It runs before any frame
// is read, so a refused client costs one upgrade, an error and a close.
func (h *Hub) admit(s *session, ip string) *protocol.Error {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return protocol.Errorf(protocol.CodeShuttingDown, "the server is shutting down")
	}
	if len(h.sessions) >= h.cfg.MaxConns {
		return protocol.Errorf(protocol.CodeOverCapacity, "the server is full; try again later")
	}
	h.sweepLocked(now)
	st := h.ips[ip]
	if st == nil {
		st = &ipState{joins: rate.NewLimiter(rate.Limit(h.cfg.JoinRate), h.cfg.JoinBurst)}
		h.ips[ip] = st
	}
	if st.conns >= h.cfg.MaxConnsPerIP {
		return protocol.Errorf(protocol.CodeTooManyConns, "too many connections from this address")
	}
	st.conns++
	st.last = now
	s.ip = st
	h.sessions[s] = struct{}{}
	h.markIdleLocked(s, now)
	h.wg.Add(1)
	h.cfg.Observer.Connected()
	return nil
}

// sweepLocked forgets, at most once a minute, addresses with no connection
// for a minute. Their join limiter has refilled by then, so nothing is lost
// by forgetting it, and the map stays bounded by recent clients.
func (h *Hub) sweepLocked(now time.Time) {
	if now.Sub(h.lastSweep) < time.Minute {
		return
	}
	h.lastSweep = now
	for ip, st := range h.ips {
		if st.conns == 0 && now.Sub(st.last) > time.Minute {
			delete(h.ips, ip)
		}
	}
}

// msgLimiter is a session's message rate limit, used only by its reader.
type msgLimiter struct {
	lim     *rate.Limiter
	dropped int // consecutive dropped messages
}

// allow reports whether to handle the next message, whether to tell the
// client it was dropped (once per run of drops, so a flood is not echoed),
// and whether the client has flooded long enough to be cut off.
func (m *msgLimiter) allow(burst int) (ok, tell, cut bool) {
	if m.lim.Allow() {
		m.dropped = 0
		return true, false, false
	}
	m.dropped++
	return false, m.dropped == 1, m.dropped > burst
}
