package peerjs

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// closeReason is how the server ends a connection on its own initiative.
type closeReason struct {
	code  int
	text  string
	flush bool // write what is queued before the close frame
}

var (
	closeNormal    = closeReason{websocket.CloseNormalClosure, "", true}
	closeGoingAway = closeReason{websocket.CloseGoingAway, "server shutting down", true}
	closePolicy    = closeReason{websocket.ClosePolicyViolation, "refused", true}
	closeTryLater  = closeReason{websocket.CloseTryAgainLater, "refused", true}
	closeSlow      = closeReason{websocket.ClosePolicyViolation, "slow consumer", false}
	closeFlood     = closeReason{websocket.ClosePolicyViolation, "rate limit", true}
	closeReplaced  = closeReason{websocket.ClosePolicyViolation, "replaced by a newer connection", true}
)

// conn is one PeerJS client. Its reader runs on the HTTP handler's
// goroutine and its writer on one goroutine of its own, the only one that
// writes to ws. registered and ip are guarded by Server.mu.
type conn struct {
	srv   *Server
	ws    *websocket.Conn
	log   *slog.Logger
	id    string
	token string

	out      chan []byte // bounded; see send
	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	reason   closeReason   // set once, before stopped is closed

	ip         *ipState
	registered bool // holds its id in Server.peers
}

// send queues data without blocking and reports whether it fitted. A
// connection being stopped takes nothing more, but that is not a failure.
func (c *conn) send(data []byte) bool {
	select {
	case <-c.stopped:
		return true
	default:
	}
	select {
	case c.out <- data:
		return true
	default:
		return false
	}
}

// stop asks the writer to close the connection with r. Only the first call counts.
func (c *conn) stop(r closeReason) {
	c.stopOnce.Do(func() {
		c.reason = r
		close(c.stopped)
		if !r.flush {
			// The writer may be stuck in a write to a client that does not
			// read: end that write now rather than after WriteTimeout.
			c.ws.NetConn().SetWriteDeadline(time.Now())
		}
	})
}

var upgrader = websocket.Upgrader{
	// Small buffers: signaling messages are small and most connections idle.
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	WriteBufferPool: &sync.Pool{},
}

// serveWS upgrades, admits and runs one client until it goes away. Like the
// reference server it upgrades first and refuses with a PeerJS message, so
// the client can tell the user why (a bad key, a taken id).
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	up := upgrader
	up.CheckOrigin = s.cfg.CheckOrigin
	if up.CheckOrigin == nil {
		up.CheckOrigin = func(*http.Request) bool { return true }
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already written the HTTP error
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	q := r.URL.Query()
	c := &conn{
		srv:     s,
		ws:      ws,
		log:     s.log.With("remote", r.RemoteAddr),
		id:      q.Get("id"),
		token:   q.Get("token"),
		out:     make(chan []byte, s.cfg.SendQueue),
		stopped: make(chan struct{}),
	}
	if ref := s.admit(c, ip, q.Get("key")); ref != nil {
		refuse(ws, ref)
		return
	}
	c.log = c.log.With("id", c.id)
	readerDone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(readerDone)
	}()
	c.readLoop()
	close(readerDone)
	s.disconnected(c)
	c.stop(closeNormal)
	<-writerDone
	lingerClose(ws.NetConn())
}

// refuse writes the refusal frame and the close, and drops the socket.
func refuse(ws *websocket.Conn, ref *refusal) {
	deadline := time.Now().Add(time.Second)
	ws.SetWriteDeadline(deadline)
	ws.WriteMessage(websocket.TextMessage, ref.frame)
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ref.close.code, ref.close.text), deadline)
	lingerClose(ws.NetConn())
}

// lingerClose half-closes the socket and reads what the client still sends
// for a moment before closing, so the kernel does not answer unread input
// with a reset that could destroy our close frame before the client reads it.
func lingerClose(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
	c.Close()
}

// readLoop reads until the connection ends. Any frame, pongs included,
// proves the client alive; AliveTimeout without one closes the connection.
func (c *conn) readLoop() {
	cfg := c.srv.cfg
	lim := rate.NewLimiter(rate.Limit(cfg.MsgRate), cfg.MsgBurst)
	dropped := 0
	c.ws.SetReadLimit(cfg.MaxMessageSize)
	c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
	})
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, websocket.ErrReadLimit) {
				c.log.Debug("read", "err", err)
			}
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
		// PeerJS has no message for "slow down" that a client would not
		// take as fatal, so a message over the rate is dropped silently and
		// a client that keeps flooding for another burst is cut off.
		if !lim.Allow() {
			if dropped++; dropped > cfg.MsgBurst {
				c.stop(closeFlood)
			}
			continue
		}
		dropped = 0
		if typ != websocket.TextMessage {
			continue // the client sends JSON text; binary is ignored
		}
		m, ok := decode(data)
		if !ok {
			continue // the reference server ignores what it cannot parse
		}
		switch m.Type {
		case typeHeartbeat:
			// Liveness only: the read deadline moved above.
		case typeOffer, typeAnswer, typeCandidate, typeLeave, typeExpire:
			c.srv.route(c, m)
		}
	}
}

// writeLoop is the only writer to ws. It exits after writing a close frame
// when stop is called, or when a write fails.
func (c *conn) writeLoop(readerDone <-chan struct{}) {
	cfg := c.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	write := func(typ int, b []byte) bool {
		c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
		if err := c.ws.WriteMessage(typ, b); err != nil {
			c.log.Debug("write", "err", err)
			c.ws.Close() // unblocks the reader
			return false
		}
		return true
	}
	for {
		select {
		case b := <-c.out:
			if !write(websocket.TextMessage, b) {
				return
			}
		case <-ping.C:
			if !write(websocket.PingMessage, nil) {
				return
			}
		case <-c.stopped:
			c.closeConn(write, readerDone)
			return
		}
	}
}

// closeConn writes what is queued if the reason asks for it, then the close
// frame, and gives the client a moment to answer before dropping the socket.
func (c *conn) closeConn(write func(int, []byte) bool, readerDone <-chan struct{}) {
	r := c.reason
	if r.flush {
		for n := len(c.out); n > 0; n-- {
			if !write(websocket.TextMessage, <-c.out) {
				return
			}
		}
	}
	if r == closeSlow {
		c.log.Info("disconnecting slow PeerJS client")
	}
	// A client that is not reading may never take the close frame: give it
	// one second, not the full write timeout.
	msg := websocket.FormatCloseMessage(r.code, r.text)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		c.ws.Close()
		return
	}
	select {
	case <-readerDone:
	case <-time.After(time.Second):
	}
	c.ws.Close()
}
