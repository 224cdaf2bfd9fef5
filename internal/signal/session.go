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

// session is one WebSocket client. Its reader runs on the HTTP handler's
// goroutine and its writer on one goroutine of its own; the writer is the
// only one that writes to conn. room, polite, peerID, ghost and ghostTimer
// are guarded by Hub.mu.
type session struct {
	hub  *Hub
	conn *websocket.Conn
	host string // host the client reached us by, for ICE server URLs
	log  *slog.Logger

	out      chan []byte // bounded; see send
	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	reason   closeReason   // set once, before stopped is closed

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

// send queues data without blocking. A full queue means the client is not
// reading: it is cut off rather than allowed to hold up the sender.
func (s *session) send(data []byte) {
	if s.ghost {
		return
	}
	select {
	case s.out <- data:
	default:
		s.hub.cfg.Observer.Overflow()
		s.stop(closeSlow)
	}
}

func (s *session) sendMsg(m protocol.Message) {
	b, err := protocol.Encode(m)
	if err != nil {
		s.log.Error("encode", "err", err)
		return
	}
	s.send(b)
}

func (s *session) sendErr(e *protocol.Error) {
	s.hub.cfg.Observer.Refused(e.Code)
	s.sendMsg(e.Wire())
}

// stop asks the writer to close the connection with r. Only the first call counts.
func (s *session) stop(r closeReason) {
	s.stopOnce.Do(func() {
		s.reason = r
		close(s.stopped)
	})
}

var upgrader = websocket.Upgrader{
	// Small buffers: signaling messages are small and most connections idle.
	ReadBufferSize:  1024,
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
		hub:     h,
		conn:    conn,
		host:    host,
		log:     h.log.With("remote", r.RemoteAddr),
		out:     make(chan []byte, h.cfg.SendQueue),
		stopped: make(chan struct{}),
		limiter: msgLimiter{lim: rate.NewLimiter(rate.Limit(h.cfg.MsgRate), h.cfg.MsgBurst)},
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

// run is the session's reader; it starts the writer and, when the reader
// ends, waits for it and closes the socket. Hub.wg counts it.
func (s *session) run() {
	defer s.hub.wg.Done()
	readerDone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(readerDone)
	}()
	clean, closeSent := s.readLoop()
	close(readerDone)
	s.hub.disconnected(s, clean)
	if closeSent {
		s.stop(closeDone)
	} else {
		s.stop(closeNormal)
	}
	<-writerDone
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
				s.log.Debug("read", "err", err)
			}
			// A server-side stop (slow consumer, replaced) is as final as
			// a close frame; only a dropped connection may resume.
			select {
			case <-s.stopped:
				return true, false
			default:
				return false, false
			}
		}
		select {
		case <-s.stopped:
			return true, false // the writer has said goodbye; stop reading
		default:
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

// writeLoop is the only writer to conn. It exits after writing a close
// frame when stop is called, or when a write fails.
func (s *session) writeLoop(readerDone <-chan struct{}) {
	cfg := s.hub.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	write := func(typ int, b []byte) bool {
		s.conn.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
		if err := s.conn.WriteMessage(typ, b); err != nil {
			s.log.Debug("write", "err", err)
			s.conn.NetConn().SetReadDeadline(time.Now()) // unblocks the reader
			return false
		}
		return true
	}
	for {
		select {
		case b := <-s.out:
			if !write(websocket.TextMessage, b) {
				return
			}
		case <-ping.C:
			if !write(websocket.PingMessage, nil) {
				return
			}
		case <-s.stopped:
			s.closeConn(write, readerDone)
			return
		}
	}
}

// closeConn writes what is queued if the reason asks for it, then the close
// frame, and gives the client a moment to answer before unblocking the
// reader. The socket itself is closed once, by ServeHTTP, with a linger.
func (s *session) closeConn(write func(int, []byte) bool, readerDone <-chan struct{}) {
	r := s.reason
	if r.flush {
		for n := len(s.out); n > 0; n-- {
			if !write(websocket.TextMessage, <-s.out) {
				return
			}
		}
	}
	if r.code == closeSlow.code {
		s.log.Info("disconnecting slow client")
	}
	if r == closeDone {
		return
	}
	// A client that is not reading may never take the close frame: give it
	// one second, not the full write timeout.
	msg := websocket.FormatCloseMessage(r.code, r.text)
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err == nil {
		select {
		case <-readerDone:
			return
		case <-time.After(time.Second):
		}
	}
	s.conn.NetConn().SetReadDeadline(time.Now()) // the reader sees stopped and returns
}
