package peerjs

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
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
// goroutine. Most PeerJS connections are idle, so there is no writer
// goroutine waiting on each: send starts one when there is something to
// write and it exits when the queue is empty, and pings go out from a timer
// with WriteControl, which gorilla allows beside another writer.
//
// wmu guards the send side (q, flushing, stopping, reason, closed). The lock
// order is Server.mu, then wmu: send runs under Server.mu, and nothing takes
// Server.mu with wmu held. registered and ip are guarded by Server.mu.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	remote string
	id     string
	token  string

	wmu      sync.Mutex
	q        [][]byte // bounded by SendQueue; see send
	flushing bool     // a flush goroutine is running
	stopping bool     // stop was called: take nothing more
	reason   closeReason
	closed   bool // the close frame was written, or the socket failed
	pinger   *time.Timer
	// workers counts flush and ping goroutines. Add happens only under wmu
	// while !stopping, or in stop itself, so serveWS can Wait after stop.
	workers    sync.WaitGroup
	readerDone chan struct{}

	ip         *ipState
	registered bool // holds its id in Server.peers
}

// send queues data without blocking and reports whether it fitted. A full
// queue means the client is not reading; the caller cuts it. A connection
// being stopped takes nothing more, but that is not a failure.
func (c *conn) send(data []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stopping {
		return true
	}
	if len(c.q) >= c.srv.cfg.SendQueue {
		return false
	}
	c.q = append(c.q, data)
	c.startFlushLocked()
	return true
}

// stop closes the connection with r after writing what is queued (if r
// says so). Only the first call counts.
func (c *conn) stop(r closeReason) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stopping {
		return
	}
	c.stopping, c.reason = true, r
	if !r.flush {
		c.q = nil
		// A flush may be stuck writing to a client that does not read:
		// end that write now rather than after WriteTimeout.
		c.ws.NetConn().SetWriteDeadline(time.Now())
	}
	c.startFlushLocked()
}

func (c *conn) startFlushLocked() {
	if !c.flushing {
		c.flushing = true
		c.workers.Add(1)
		go c.flush()
	}
}

// flush writes the queue in order, then the close frame if stop was
// called, and exits when there is nothing left to do.
func (c *conn) flush() {
	defer c.workers.Done()
	wt := c.srv.cfg.WriteTimeout
	for {
		c.wmu.Lock()
		switch {
		case len(c.q) > 0 && !c.closed:
			b := c.q[0]
			c.q[0] = nil
			c.q = c.q[1:]
			c.wmu.Unlock()
			c.ws.SetWriteDeadline(time.Now().Add(wt))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.srv.log.Debug("peerjs write", "remote", c.remote, "err", err)
				c.wmu.Lock()
				c.closed, c.q = true, nil
				c.wmu.Unlock()
				c.ws.Close() // unblocks the reader
			}
		case c.stopping && !c.closed:
			c.closed = true
			r := c.reason
			c.wmu.Unlock()
			c.writeClose(r)
		default:
			c.flushing = false
			c.wmu.Unlock()
			return
		}
	}
}

// writeClose writes the close frame and gives the client a moment to
// answer before dropping the socket. A client that is not reading may never
// take the frame: it gets one second, not the full write timeout.
func (c *conn) writeClose(r closeReason) {
	if r == closeSlow {
		c.srv.log.Info("disconnecting slow PeerJS client", "remote", c.remote, "id", c.id)
	}
	msg := websocket.FormatCloseMessage(r.code, r.text)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err == nil {
		select {
		case <-c.readerDone:
		case <-time.After(time.Second):
		}
	}
	c.ws.Close()
}

// ping runs on the ping timer: it checks that the client is still there
// between its HEARTBEATs, and re-arms itself.
func (c *conn) ping() {
	c.wmu.Lock()
	if c.stopping || c.closed {
		c.wmu.Unlock()
		return
	}
	c.workers.Add(1)
	c.wmu.Unlock()
	defer c.workers.Done()
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		c.ws.Close()
		return
	}
	c.wmu.Lock()
	if !c.stopping { // after stop, serveWS has stopped the timer for good
		c.pinger.Reset(c.srv.cfg.PingInterval)
	}
	c.wmu.Unlock()
}

var upgrader = websocket.Upgrader{
	// A small read buffer of our own, not the HTTP server's (ReadBufferSize
	// 0 would reuse it): that would keep net/http's whole per-connection
	// state alive. Frames larger than it are read straight through. Writes
	// borrow from a pool, so an idle connection holds no write buffer.
	ReadBufferSize:  512,
	WriteBufferSize: 1024,
	WriteBufferPool: &sync.Pool{},
}

// serveWS upgrades and admits one client, and hands it to a goroutine of
// its own. Like the reference server it upgrades first and refuses with a
// PeerJS message, so the client can tell the user why (a bad key, a taken
// id). Returning from the handler lets net/http free its buffers and the
// handler's grown stack: an idle PeerJS connection then costs one small
// goroutine, a 1 KiB read buffer and a few structs.
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
		srv:        s,
		ws:         ws,
		remote:     r.RemoteAddr,
		id:         q.Get("id"),
		token:      q.Get("token"),
		readerDone: make(chan struct{}),
	}
	if ref := s.admit(c, ip, q.Get("key")); ref != nil {
		refuse(ws, ref)
		return
	}
	c.wmu.Lock()
	c.pinger = time.AfterFunc(s.cfg.PingInterval, c.ping)
	c.wmu.Unlock()
	// Owned by the Server: admit counted it in s.wg, disconnected
	// uncounts it, and Shutdown stops it by closing the socket.
	go c.run()
}

// run reads until the client goes away, then unregisters and closes.
func (c *conn) run() {
	s, ws := c.srv, c.ws
	c.readLoop()
	close(c.readerDone)
	s.disconnected(c)
	c.stop(closeNormal)
	c.pinger.Stop()
	c.workers.Wait()
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
	lim := newMsgLimiter(cfg)
	c.ws.SetReadLimit(cfg.MaxMessageSize)
	c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
	})
	for {
		typ, data, err := c.readFrame()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, websocket.ErrReadLimit) {
				c.srv.log.Debug("peerjs read", "remote", c.remote, "err", err)
			}
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(cfg.AliveTimeout))
		ok, cut := lim.allow()
		if cut {
			c.stop(closeFlood)
		}
		if !ok || typ != websocket.TextMessage {
			readBufs.Put(data)
			continue // the client sends JSON text; binary is ignored
		}
		// m.Payload points into data until route has re-encoded it.
		if m, ok := decode(data.Bytes()); ok {
			switch m.Type {
			case typeHeartbeat:
				// Liveness only: the read deadline moved above.
			case typeOffer, typeAnswer, typeCandidate, typeLeave, typeExpire:
				c.srv.route(c, m)
			}
		} // else ignored, as the reference server ignores what it cannot parse
		readBufs.Put(data)
	}
}

// readBufs holds frame buffers between messages, so that idle connections
// hold none and busy ones do not grow a new one for every offer.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readFrame reads one whole message into a pooled buffer; the caller puts
// it back.
func (c *conn) readFrame() (int, *bytes.Buffer, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		readBufs.Put(buf)
		return 0, nil, err
	}
	return typ, buf, nil
}
