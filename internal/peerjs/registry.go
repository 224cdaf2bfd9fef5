package peerjs

import (
	"crypto/subtle"
	"time"

	"golang.org/x/time/rate"
)

// ipState is what the server keeps per client IP, under Server.mu.
type ipState struct {
	conns   int
	connect *rate.Limiter
	last    time.Time // last connection opened
}

// queue holds messages for an id that is not connected, until it connects
// or the timer expires them. Guarded by Server.mu.
type queue struct {
	msgs  []queued
	bytes int
	timer *time.Timer
}

type queued struct {
	src  string
	data []byte
}

// refusal is why a connection was not admitted: the frame to send (ERROR or
// ID-TAKEN, as the reference server sends) and the close code.
type refusal struct {
	frame []byte
	close closeReason
}

// admit registers c under its id or says why not. On success it queues OPEN
// and then whatever waited for the id, in the order it was sent, all under
// the lock so no live relay can overtake them.
func (s *Server) admit(c *conn, ip, key string) *refusal {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining:
		return &refusal{errorMsg(typeError, errMsgShutdown), closeGoingAway}
	case c.id == "" || c.token == "" || key == "":
		return &refusal{errorMsg(typeError, errMsgParams), closePolicy}
	case subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.Key)) != 1:
		return &refusal{errorMsg(typeError, errMsgKey), closePolicy}
	case !validID(c.id) || !validToken(c.token):
		return &refusal{errorMsg(typeError, errMsgBadID), closePolicy}
	}
	s.sweepLocked(now)
	st := s.ips[ip]
	if st == nil {
		st = &ipState{connect: rate.NewLimiter(rate.Limit(s.cfg.ConnRate), s.cfg.ConnBurst)}
		s.ips[ip] = st
	}
	if st.conns >= s.cfg.MaxConnsPerIP {
		return &refusal{errorMsg(typeError, errMsgPerIP), closeTryLater}
	}
	// Rate-limit before looking the id up, so ids cannot be probed fast.
	if !st.connect.AllowN(now, 1) {
		return &refusal{errorMsg(typeError, errMsgConnRate), closeTryLater}
	}
	old := s.peers[c.id]
	if old != nil && subtle.ConstantTimeCompare([]byte(old.token), []byte(c.token)) != 1 {
		return &refusal{errorMsg(typeIDTaken, errMsgIDTaken), closePolicy}
	}
	if old == nil && len(s.peers) >= s.cfg.ConcurrentLimit {
		return &refusal{errorMsg(typeError, errMsgLimit), closeTryLater}
	}
	st.conns++
	st.last = now
	c.ip = st
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.peers[c.id] = c
	c.registered = true
	if old != nil {
		// The same client (same id and token) is back on a new socket
		// before we saw the old one die. Like the reference server we do
		// not send OPEN again; unlike it we close the old socket.
		old.registered = false
		old.stop(closeReplaced)
	} else {
		c.send(openFrame)
	}
	if q := s.queues[c.id]; q != nil {
		q.timer.Stop()
		s.dropQueueLocked(c.id, q)
		for _, m := range q.msgs {
			c.send(m.data) // fits: QueueLen < SendQueue
		}
	}
	return nil
}

var openFrame = []byte(`{"type":"OPEN"}`)

// sweepLocked forgets, at most once a minute, addresses with no connection
// for a minute; their limiter has refilled by then.
func (s *Server) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for ip, st := range s.ips {
		if st.conns == 0 && now.Sub(st.last) > time.Minute {
			delete(s.ips, ip)
		}
	}
}

// route delivers m, re-encoded with src set to the sender's id, following
// the reference server: to dst if it is connected; else queued for dst,
// except LEAVE and EXPIRE, which are dropped. LEAVE with no dst unregisters
// the sender.
func (s *Server) route(c *conn, m message) {
	m.Src = c.id
	data, err := encode(m)
	if err != nil {
		s.log.Debug("peerjs re-encode", "remote", c.remote, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.registered {
		return // replaced, cut or left: it speaks for no id any more
	}
	if dst := s.peers[m.Dst]; dst != nil && m.Dst != "" {
		if !dst.send(data) {
			// dst is not reading: the reference server's "peer dead" path.
			// Cut it and tell the sender as if dst had left.
			s.unregisterLocked(dst)
			dst.stop(closeSlow)
			s.sendLocked(c.id, message{Type: typeLeave, Src: m.Dst, Dst: c.id})
		}
		return
	}
	switch {
	case m.Type == typeLeave && m.Dst == "":
		s.unregisterLocked(c)
		c.stop(closeNormal)
	case m.Type == typeLeave || m.Type == typeExpire || m.Dst == "":
		// Nobody to tell; the reference server drops these too.
	default:
		s.enqueueLocked(c, m.Dst, data)
	}
}

// sendLocked sends m to id if it is connected.
func (s *Server) sendLocked(id string, m message) {
	if c := s.peers[id]; c != nil {
		if data, err := encode(m); err == nil {
			c.send(data)
		}
	}
}

// enqueueLocked holds data for dst until it connects or the queue expires.
// A full queue answers the sender with EXPIRE at once: the bound is what
// keeps a client from parking memory under ids nobody will ever claim.
func (s *Server) enqueueLocked(c *conn, dst string, data []byte) {
	q := s.queues[dst]
	full := s.queued >= s.cfg.QueueTotal || s.queuedBytes+len(data) > s.cfg.QueueBytes ||
		(q != nil && len(q.msgs) >= s.cfg.QueueLen)
	if full || !validID(dst) {
		s.sendLocked(c.id, message{Type: typeExpire, Src: dst, Dst: c.id})
		return
	}
	if q == nil {
		q = &queue{}
		q.timer = time.AfterFunc(s.cfg.ExpireTimeout, func() { s.expire(dst, q) })
		s.queues[dst] = q
	}
	q.msgs = append(q.msgs, queued{src: c.id, data: data})
	q.bytes += len(data)
	s.queued++
	s.queuedBytes += len(data)
}

// dropQueueLocked forgets dst's queue and its share of the totals.
func (s *Server) dropQueueLocked(dst string, q *queue) {
	delete(s.queues, dst)
	s.queued -= len(q.msgs)
	s.queuedBytes -= q.bytes
}

// expire drops q's messages and tells each sender once that dst never came.
func (s *Server) expire(dst string, q *queue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[dst] != q {
		return // delivered, or replaced by shutdown
	}
	s.dropQueueLocked(dst, q)
	told := map[string]bool{}
	for _, m := range q.msgs {
		if !told[m.src] {
			told[m.src] = true
			s.sendLocked(m.src, message{Type: typeExpire, Src: dst, Dst: m.src})
		}
	}
}

// unregisterLocked frees c's id if c still holds it.
func (s *Server) unregisterLocked(c *conn) {
	if c.registered {
		c.registered = false
		if s.peers[c.id] == c {
			delete(s.peers, c.id)
		}
	}
}

// disconnected is called once when an admitted connection has stopped
// reading. Its s.wg count is dropped later, by wsconn's Done, once the
// socket is closed.
func (s *Server) disconnected(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unregisterLocked(c)
	delete(s.conns, c)
	c.ip.conns--
}

// msgLimiter is a connection's message rate limit, used only by Message.
// PeerJS has no message for "slow down" that a client would not take as
// fatal, so messages over the rate are dropped silently, and a client that
// keeps flooding for another burst is cut off.
type msgLimiter struct {
	lim     *rate.Limiter
	burst   int
	dropped int // consecutive dropped messages
}

func newMsgLimiter(cfg Config) *msgLimiter {
	return &msgLimiter{lim: rate.NewLimiter(rate.Limit(cfg.MsgRate), cfg.MsgBurst), burst: cfg.MsgBurst}
}

// allow reports whether to handle the next message and whether to cut.
func (m *msgLimiter) allow() (ok, cut bool) {
	if m.lim.Allow() {
		m.dropped = 0
		return true, false
	}
	m.dropped++
	return false, m.dropped > m.burst
}
