package signal

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/wsconn"
	"github.com/duet-call/duet/protocol"
)

// closeReason is how the server ends a connection on its own initiative.
type closeReason struct {
	code  int
	text  string
	flush bool // write what is queued (such as bye) before the close frame
}

var (
	closeSlow      = closeReason{wsconn.ClosePolicyViolation, "slow consumer", false}
	closeGoingAway = closeReason{wsconn.CloseGoingAway, "server shutting down", true}
	closeNormal    = closeReason{wsconn.CloseNormal, "", true}
	closeReplaced  = closeReason{wsconn.ClosePolicyViolation, "replaced by a resumed connection", true}
	closeFlood     = closeReason{wsconn.ClosePolicyViolation, "rate limit", true}
)

// session is one WebSocket client. It has no goroutine of its own: its
// connection is read by a wsconn poller, which calls Message and Ended,
// and writes go out without blocking (see wsconn). Most signaling
// connections are idle, and then a session is just these structs.
//
// room, polite, peerID, ghost and ghostTimer are guarded by Hub.mu. The
// lock order is Hub.mu, then the connection's own locks (send runs under
// Hub.mu; wsconn calls no hub code with its write lock held).
type session struct {
	hub  *Hub
	conn *wsconn.Conn // nil only in tests and on stubs: then messages just queue
	host string       // host name the client reached us by, for ICE server URLs
	addr string       // the client's address, for logs (clientaddr.Info.String)

	stopping atomic.Bool // stop was called: take nothing more
	qmu      sync.Mutex
	q        [][]byte // messages sent to a session without a connection (tests)

	ip      *ipState // set by admit; its fields are guarded by Hub.mu
	limiter msgLimiter

	room       *room
	polite     bool
	peerID     string
	gen        uint32      // the generation of the place's latest resume token
	ghost      bool        // the connection has ended; the place waits for a resume
	ghostTimer *time.Timer // frees the place when the grace period ends
	idleSince  time.Time   // in no room since then, waiting for a join (idle.go); zero when in one
	joining    atomic.Bool // a join runs on its own goroutine (joinHeld)

	// remote is set on a stub: not a connection, but the place of a peer
	// on that node of the cluster. A stub has only peerID and polite.
	remote string
	// local is set on a place held in this process, not by a connection
	// (a WHIP or WHEP client; see local.go).
	local *localPlace
}

// logger is the hub's logger with this client's address. It is made when
// needed, not kept: an idle session should not hold a logger of its own.
func (s *session) logger() *slog.Logger { return s.hub.log.With("remote", s.addr) }

// send queues data without blocking. A full queue means the client is not
// reading: it is cut off rather than allowed to hold up the sender.
func (s *session) send(data []byte) {
	if s.ghost || s.stopping.Load() {
		return
	}
	if tap := s.hub.cfg.Tap; tap != nil {
		tap(false, data)
	}
	if s.local != nil {
		s.local.deliver(s, data)
		return
	}
	if s.conn == nil {
		s.qmu.Lock()
		full := len(s.q) >= s.hub.cfg.SendQueue
		if !full {
			s.q = append(s.q, data)
		}
		s.qmu.Unlock()
		if full {
			s.hub.cfg.Observer.Overflow()
			s.stop(closeSlow)
		}
		return
	}
	if err := s.conn.Send(data); errors.Is(err, wsconn.ErrQueueFull) {
		s.hub.cfg.Observer.Overflow()
		s.hub.slowLog.disconnected(s.hub.log, s.addr, time.Now())
		s.stop(closeSlow)
	}
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
	if s.stopping.Swap(true) {
		return
	}
	if !r.flush {
		s.qmu.Lock()
		s.q = nil
		s.qmu.Unlock()
	}
	if s.conn != nil {
		s.conn.Close(r.code, r.text, r.flush)
	}
}

// isStopping reports whether stop has been called.
func (s *session) isStopping() bool { return s.stopping.Load() }

// ServeHTTP upgrades a request to a signaling session and hands it to
// wsconn, which reads it until the client goes away or the hub shuts down.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nc, err := wsconn.Upgrade(w, r, h.cfg.CheckOrigin)
	if err != nil {
		return // Upgrade has already written the HTTP error
	}
	// Only what the session needs is kept, copied and bounded (see
	// clientaddr): not the request, whose headers can be large.
	client := clientaddr.From(r)
	s := &session{
		hub:     h,
		host:    client.Hostname(),
		addr:    client.String(),
		limiter: msgLimiter{lim: rate.NewLimiter(rate.Limit(h.cfg.MsgRate), h.cfg.MsgBurst)},
	}
	cfg := h.cfg
	s.conn = wsconn.New(nc, wsconn.Options{
		ReadLimit:      cfg.MaxMessageSize,
		IdleTimeout:    cfg.IdleTimeout,
		PingInterval:   cfg.PingInterval,
		WriteTimeout:   cfg.WriteTimeout,
		SendQueue:      cfg.SendQueue,
		SendQueueBytes: cfg.SendQueueBytes,
		Done:           h.wg.Done, // admit counted it
	}, s)
	if e := h.admit(s, client.Key()); e != nil {
		h.cfg.Observer.Refused(e.Code)
		// Refuse with the documented code, then close: 1013 try again later.
		b, _ := protocol.Encode(e.Wire())
		if tap := h.cfg.Tap; tap != nil {
			tap(false, b)
		}
		code := wsconn.CloseTryAgainLater
		if e.Code == protocol.CodeShuttingDown {
			code = wsconn.CloseGoingAway
		}
		wsconn.Refuse(nc, b, code, string(e.Code))
		return
	}
	s.conn.Start()
}

// Ended is called by wsconn once the connection has ended. clean means
// it ended with a close frame (or the server stopped it) rather than
// dropping, so the place is not held for a resume.
func (s *session) Ended(_ *wsconn.Conn, e wsconn.End) {
	s.hub.disconnected(s, !e.Dropped || s.isStopping())
}

// Message is one client frame, on the poller.
func (s *session) Message(_ *wsconn.Conn, text bool, data []byte) {
	if s.isStopping() {
		return // the server has said goodbye
	}
	cfg := s.hub.cfg
	if ok, tell, cut := s.limiter.allow(cfg.MsgBurst); !ok {
		if tell {
			s.sendErr(protocol.Errorf(protocol.CodeRateLimited, "too many messages; this one was dropped"))
		}
		if cut {
			s.stop(closeFlood)
		}
		return
	}
	if !text {
		s.sendErr(protocol.Errorf(protocol.CodeBadMessage, "messages are JSON text frames"))
		return
	}
	if tap := cfg.Tap; tap != nil {
		tap(true, data)
	}
	if e := s.handle(data); e != nil {
		s.sendErr(e)
	}
}

// handle acts on one client frame and returns the refusal to send, if any.
func (s *session) handle(data []byte) *protocol.Error {
	start := time.Now()
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
		if s.conn != nil {
			s.joinHeld(m)
			return nil
		}
		e = h.join(s, m.Room, m.Resume)
	case *protocol.Leave:
		e = h.leave(s, protocol.ReasonLeft)
	case *protocol.Description, *protocol.Candidate:
		// Re-encode rather than forward the client's bytes, so only the
		// documented fields ever reach the other peer. Without HTML
		// escaping the result is no longer than what was read, but for a
		// field the sender left out; the cap keeps every frame the server
		// sends within what clients read.
		b, err := protocol.Encode(m)
		if err != nil {
			return protocol.Errorf(protocol.CodeBadMessage, "cannot re-encode message")
		}
		if len(b) > protocol.MaxMessageSize {
			return protocol.Errorf(protocol.CodeBadMessage, "message larger than %d bytes once re-encoded", protocol.MaxMessageSize)
		}
		e = h.relay(s, b, start)
	case *protocol.Ping:
		s.sendMsg(&protocol.Pong{})
	case *protocol.Dismiss:
		e = h.dismiss(s)
	}
	if e != nil {
		e.Ref = m.MessageType()
	}
	return e
}

// joinHeld joins on a goroutine of its own while the connection holds the
// client's later messages: on a cluster, a join asks the room directory
// (NATS) and may wait for it up to joinClaimTimeout, and the poller that
// called Message serves many other connections meanwhile. The hub counts
// the goroutine, so Shutdown waits for it.
func (s *session) joinHeld(m *protocol.Join) {
	h := s.hub
	s.conn.Hold()
	s.joining.Store(true)
	h.wg.Add(1) // the session's own count is held until its connection ends
	go func() {
		defer h.wg.Done()
		defer s.conn.Release()
		defer s.joining.Store(false)
		if e := h.join(s, m.Room, m.Resume); e != nil {
			e.Ref = m.MessageType()
			s.sendErr(e)
		}
	}()
}
