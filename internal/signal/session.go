package signal

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/duet-call/duet/protocol"
)

// closeReason is how the server ends a connection on its own initiative.
type closeReason struct {
	code  int
	text  string
	flush bool // write what is queued (such as bye) before the close frame
}

var (
	closeSlow      = closeReason{websocket.ClosePolicyViolation, "slow consumer", false}
	closeGoingAway = closeReason{websocket.CloseGoingAway, "server shutting down", true}
	closeNormal    = closeReason{websocket.CloseNormalClosure, "", true}
	// closeDone: a close frame has already gone out (gorilla echoes the
	// client's, and sends 1009 itself on an oversized frame).
	closeDone     = closeReason{code: 0}
	closeReplaced = closeReason{websocket.ClosePolicyViolation, "replaced by a resumed connection", true}
	closeFlood    = closeReason{websocket.ClosePolicyViolation, "rate limit", true}
	closeRefused  = closeReason{websocket.CloseTryAgainLater, "refused", true}
)

// session is one WebSocket client. Its reader runs on a goroutine of its
// own (see ServeHTTP). Most signaling connections are idle, so there is no
// writer goroutine waiting on each: send starts one when there is something
// to write, and it exits when the queue is empty; pings go out from a timer
// with WriteControl, which gorilla allows beside another writer.
//
// room, polite, peerID, ghost and ghostTimer are guarded by Hub.mu. wmu
// guards the send side (q, flushing, stopping, reason, closed). Lock order:
// Hub.mu, then wmu (send runs under Hub.mu; nothing takes Hub.mu with wmu
// held).
type session struct {
	hub  *Hub
	conn *websocket.Conn // nil only in tests: then messages just queue
	host string          // host the client reached us by, for ICE server URLs
	addr string          // the client's address, for logs

	wmu      sync.Mutex
	q        [][]byte // bounded by Config.SendQueue; see send
	flushing bool     // a flush goroutine is running
	stopping bool     // stop was called: take nothing more
	reason   closeReason
	closed   bool // the close frame is written (or skipped), or the socket failed
	pinger   *time.Timer
	// workers counts flush and ping goroutines. Add happens only under wmu
	// while !stopping, or in stop itself, so run can Wait after stop.
	workers    sync.WaitGroup
	readerDone chan struct{}

	ip      *ipState // set by admit; its fields are guarded by Hub.mu
	limiter msgLimiter

	room       *room
	polite     bool
	peerID     string
	ghost      bool        // the connection has ended; the place waits for a resume
	ghostTimer *time.Timer // frees the place when the grace period ends

	// remote is set on a stub: not a connection, but the place of a peer
	// on that node of the cluster. A stub has only peerID and polite.
	remote string
}

// logger is the hub's logger with this client's address. It is made when
// needed, not kept: an idle session should not hold a logger of its own.
func (s *session) logger() *slog.Logger { return s.hub.log.With("remote", s.addr) }

// send queues data without blocking. A full queue means the client is not
// reading: it is cut off rather than allowed to hold up the sender.
func (s *session) send(data []byte) {
	if s.ghost {
		return
	}
	s.wmu.Lock()
	if s.stopping {
		s.wmu.Unlock()
		return
	}
	if len(s.q) >= s.hub.cfg.SendQueue {
		s.wmu.Unlock()
		s.hub.cfg.Observer.Overflow()
		s.stop(closeSlow)
		return
	}
	s.q = append(s.q, data)
	s.startFlushLocked()
	s.wmu.Unlock()
}

func (s *session) sendMsg(m protocol.Message) {
	b, err := protocol.Encode(m)
	if err != nil {
		s.logger().Error("encode", "err", err)
		return
	}
	s.send(b)
}

func (s *session) sendErr(e *protocol.Error) {
	s.hub.cfg.Observer.Refused(e.Code)
	s.sendMsg(e.Wire())
}

// stop closes the connection with r, after writing what is queued if r
// says so. Only the first call counts.
func (s *session) stop(r closeReason) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.stopping {
		return
	}
	s.stopping, s.reason = true, r
	if !r.flush {
		s.q = nil
		if s.conn != nil {
			// A flush may be stuck writing to a client that does not
			// read: end that write now, not after WriteTimeout.
			s.conn.NetConn().SetWriteDeadline(time.Now())
		}
	}
	s.startFlushLocked()
}

// isStopping reports whether stop has been called.
func (s *session) isStopping() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.stopping
}

func (s *session) startFlushLocked() {
	if !s.flushing && s.conn != nil {
		s.flushing = true
		s.workers.Add(1)
		go s.flush()
	}
}

// flush writes the queue in order, then the close frame if stop was
// called, and exits when there is nothing left to do.
func (s *session) flush() {
	defer s.workers.Done()
	wt := s.hub.cfg.WriteTimeout
	for {
		s.wmu.Lock()
		switch {
		case len(s.q) > 0 && !s.closed:
			b := s.q[0]
			s.q[0] = nil
			s.q = s.q[1:]
			if len(s.q) == 0 {
				s.q = nil // let an idle session drop the backing array
			}
			s.wmu.Unlock()
			s.conn.SetWriteDeadline(time.Now().Add(wt))
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				s.logger().Debug("write", "err", err)
				s.wmu.Lock()
				s.closed, s.q = true, nil
				s.wmu.Unlock()
				s.conn.NetConn().SetReadDeadline(time.Now()) // unblocks the reader
			}
		case s.stopping && !s.closed:
			s.closed = true
			r := s.reason
			s.wmu.Unlock()
			s.writeClose(r)
		default:
			s.flushing = false
			s.wmu.Unlock()
			return
		}
	}
}

// writeClose writes the close frame and gives the client a moment to
// answer before unblocking the reader. The socket itself is closed once, by
// run, with a linger.
func (s *session) writeClose(r closeReason) {
	if r.code == closeSlow.code && r.text == closeSlow.text {
		s.logger().Info("disconnecting slow client")
	}
	if r == closeDone {
		return
	}
	// A client that is not reading may never take the close frame: give it
	// one second, not the full write timeout.
	msg := websocket.FormatCloseMessage(r.code, r.text)
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err == nil {
		select {
		case <-s.readerDone:
			return
		case <-time.After(time.Second):
		}
	}
	s.conn.NetConn().SetReadDeadline(time.Now()) // the reader sees stopping and returns
}

// ping runs on the ping timer and re-arms it; a failed ping unblocks the
// reader, which then ends the session.
func (s *session) ping() {
	s.wmu.Lock()
	if s.stopping || s.closed {
		s.wmu.Unlock()
		return
	}
	s.workers.Add(1)
	s.wmu.Unlock()
	defer s.workers.Done()
	if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.hub.cfg.WriteTimeout)); err != nil {
		s.logger().Debug("ping", "err", err)
		s.conn.NetConn().SetReadDeadline(time.Now())
		return
	}
	s.wmu.Lock()
	if !s.stopping { // after stop, run has stopped the timer for good
		s.pinger.Reset(s.hub.cfg.PingInterval)
	}
	s.wmu.Unlock()
}

var upgrader = websocket.Upgrader{
	// Small buffers: signaling messages are small and most connections
	// idle; larger frames are read through it in pieces.
	ReadBufferSize:  512,
	WriteBufferSize: 1024,
	WriteBufferPool: &sync.Pool{},
}

// ServeHTTP upgrades a request to a signaling session and runs it until the
// client goes away or the hub shuts down.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := upgrader
	up.CheckOrigin = h.cfg.CheckOrigin
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already written the HTTP error
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	s := &session{
		hub:        h,
		conn:       conn,
		host:       host,
		addr:       r.RemoteAddr,
		readerDone: make(chan struct{}),
		limiter:    msgLimiter{lim: rate.NewLimiter(rate.Limit(h.cfg.MsgRate), h.cfg.MsgBurst)},
	}
	if e := h.admit(s, ip); e != nil {
		h.cfg.Observer.Refused(e.Code)
		// Refuse with the documented code, then close: 1013 try again later.
		b, _ := protocol.Encode(e.Wire())
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.WriteMessage(websocket.TextMessage, b)
		code := websocket.CloseTryAgainLater
		if e.Code == protocol.CodeShuttingDown {
			code = websocket.CloseGoingAway
		}
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, string(e.Code)), time.Now().Add(time.Second))
		lingerClose(conn.NetConn())
		return
	}
	// Run on a goroutine of our own and return: net/http keeps its
	// per-connection request, response and buffers alive for as long as
	// the handler runs, which roughly doubled the memory of an idle peer.
	go s.run()
}

// run is the session's reader; when it ends, the session stops, waits for
// its flush and ping goroutines and closes the socket. Hub.wg counts it.
func (s *session) run() {
	defer s.hub.wg.Done()
	s.wmu.Lock()
	s.pinger = time.AfterFunc(s.hub.cfg.PingInterval, s.ping)
	s.wmu.Unlock()
	clean, closeSent := s.readLoop()
	close(s.readerDone)
	s.hub.disconnected(s, clean)
	if closeSent {
		s.stop(closeDone)
	} else {
		s.stop(closeNormal)
	}
	s.pinger.Stop()
	s.workers.Wait()
	lingerClose(s.conn.NetConn())
}

// lingerClose half-closes the socket and reads what the client is still
// sending until it goes quiet for a second (at most 5 s and 1 MiB) before
// closing. Closing with unread input makes the kernel send a reset, which
// can destroy our close frame (say, 1009 after an oversized message, or
// 1008 for a flood) before the client has read it.
func lingerClose(c net.Conn) {
	defer c.Close()
	tc, ok := c.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	buf := make([]byte, 4096)
	end := time.Now().Add(5 * time.Second)
	for total := 0; total < 1<<20; {
		d := time.Now().Add(time.Second)
		if d.After(end) {
			d = end
		}
		c.SetReadDeadline(d)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		total += n
	}
}

// readLoop reads until the connection ends. It reports whether it ended
// cleanly (a close frame, or a stop by the server) rather than dropping,
// and whether a close frame has already been sent on it.
func (s *session) readLoop() (clean, closeSent bool) {
	cfg := s.hub.cfg
	s.conn.SetReadLimit(cfg.MaxMessageSize)
	s.conn.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
	})
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code != websocket.CloseAbnormalClosure, true
			}
			if errors.Is(err, websocket.ErrReadLimit) {
				return true, true // closed by us with 1009: not a dropped connection
			}
			if !errors.Is(err, net.ErrClosed) {
				s.logger().Debug("read", "err", err)
			}
			// A server-side stop (slow consumer, replaced) is as final as
			// a close frame; only a dropped connection may resume.
			return s.isStopping(), false
		}
		if s.isStopping() {
			return true, false // the server has said goodbye; stop reading
		}
		s.conn.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		if ok, tell, cut := s.limiter.allow(cfg.MsgBurst); !ok {
			if tell {
				s.sendErr(protocol.Errorf(protocol.CodeRateLimited, "too many messages; this one was dropped"))
			}
			if cut {
				s.stop(closeFlood)
			}
			continue
		}
		if typ != websocket.TextMessage {
			s.sendErr(protocol.Errorf(protocol.CodeBadMessage, "messages are JSON text frames"))
			continue
		}
		if e := s.handle(data); e != nil {
			s.sendErr(e)
		}
	}
}

// handle acts on one client frame and returns the refusal to send, if any.
func (s *session) handle(data []byte) *protocol.Error {
	m, err := protocol.DecodeClient(data)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return pe
		}
		return protocol.Errorf(protocol.CodeBadJSON, "unreadable message")
	}
	h := s.hub
	var e *protocol.Error
	switch m := m.(type) {
	case *protocol.Join:
		// Mint credentials outside the hub lock.
		e = h.join(s, m.Room, m.Resume, h.cfg.ICEServers(s.host))
	case *protocol.Leave:
		e = h.leave(s, protocol.ReasonLeft)
	case *protocol.Description, *protocol.Candidate:
		// Re-encode rather than forward the client's bytes, so only the
		// documented fields ever reach the other peer.
		b, err := json.Marshal(m)
		if err != nil {
			return protocol.Errorf(protocol.CodeBadMessage, "cannot re-encode message")
		}
		e = h.relay(s, b)
	case *protocol.Ping:
		s.sendMsg(&protocol.Pong{})
	}
	if e != nil {
		e.Ref = m.MessageType()
	}
	return e
}
