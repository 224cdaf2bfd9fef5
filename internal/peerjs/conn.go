package peerjs

import (
	"errors"
	"net/http"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/wsconn"
)

// closeReason is how the server ends a connection on its own initiative.
type closeReason struct {
	code  int
	text  string
	flush bool // write what is queued before the close frame
}

var (
	closeNormal    = closeReason{wsconn.CloseNormal, "", true}
	closeGoingAway = closeReason{wsconn.CloseGoingAway, "server shutting down", true}
	closePolicy    = closeReason{wsconn.ClosePolicyViolation, "refused", true}
	closeTryLater  = closeReason{wsconn.CloseTryAgainLater, "refused", true}
	closeSlow      = closeReason{wsconn.ClosePolicyViolation, "slow consumer", false}
	closeFlood     = closeReason{wsconn.ClosePolicyViolation, "rate limit", true}
	closeReplaced  = closeReason{wsconn.ClosePolicyViolation, "replaced by a newer connection", true}
)

// conn is one PeerJS client. It has no goroutine of its own: a wsconn
// poller reads it and calls Message and Ended, and writes go out without
// blocking (a goroutine exists only while a client is slow to take them).
// Most PeerJS connections are idle, and then a conn is just these structs.
//
// registered and ip are guarded by Server.mu; lim is used only by Message,
// which wsconn never runs twice at once for one connection. See the package
// comment for the lock order.
type conn struct {
	srv    *Server
	ws     *wsconn.Conn
	remote string
	id     string
	token  string
	lim    *msgLimiter

	ip         *ipState
	registered bool // holds its id in Server.peers
}

// send queues data without blocking and reports whether it fitted. A full
// queue means the client is not reading; the caller cuts it. A connection
// being closed takes nothing more, but that is not a failure. Send copies
// data into its frame, so the caller may reuse it.
func (c *conn) send(data []byte) bool {
	return !errors.Is(c.ws.Send(data), wsconn.ErrQueueFull)
}

// stop closes the connection with r after writing what is queued (if r
// says so). Only the first call counts.
func (c *conn) stop(r closeReason) {
	if r == closeSlow {
		c.srv.log.Info("disconnecting slow PeerJS client", "remote", c.remote, "id", c.id)
	}
	c.ws.Close(r.code, r.text, r.flush)
}

// serveWS upgrades and admits one client and hands it to wsconn. Like the
// reference server it upgrades first and refuses with a PeerJS message, so
// the client can tell the user why (a bad key, a taken id). Returning from
// the handler lets net/http free its buffers and the handler's stack.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	check := s.cfg.CheckOrigin
	if check == nil {
		// Like the reference server, any page may use the endpoint
		// unless the operator lists origins.
		check = func(*http.Request) bool { return true }
	}
	nc, err := wsconn.Upgrade(w, r, check)
	if err != nil {
		return // Upgrade has already written the HTTP error
	}
	client := clientaddr.From(r)
	q := r.URL.Query()
	c := &conn{
		srv:    s,
		remote: client.String(),
		id:     q.Get("id"),
		token:  q.Get("token"),
		lim:    newMsgLimiter(s.cfg),
	}
	cfg := s.cfg
	// Built before admit, which may send to it (OPEN and the queue). Any
	// frame, pongs included, proves the client alive: AliveTimeout is
	// wsconn's idle timeout.
	c.ws = wsconn.New(nc, wsconn.Options{
		ReadLimit:    cfg.MaxMessageSize,
		IdleTimeout:  cfg.AliveTimeout,
		PingInterval: cfg.PingInterval,
		WriteTimeout: cfg.WriteTimeout,
		SendQueue:    cfg.SendQueue,
		// admit counted the connection in s.wg; it is uncounted once the
		// socket is closed, so Shutdown waits for the close frames.
		Done: s.wg.Done,
	}, c)
	if ref := s.admit(c, client.Key(), q.Get("key")); ref != nil {
		wsconn.Refuse(nc, ref.frame, ref.close.code, ref.close.text)
		return
	}
	c.ws.Start()
}

// Ended is called by wsconn once reading is over: the id and the per-IP
// place are freed now, while the socket may still be closing.
func (c *conn) Ended(_ *wsconn.Conn, e wsconn.End) {
	if e.Dropped {
		c.srv.log.Debug("peerjs connection dropped", "remote", c.remote, "id", c.id)
	}
	c.srv.disconnected(c)
}

// Message handles one client message, on the poller: it must not block,
// and data is valid only during the call (route re-encodes what it keeps).
// HEARTBEAT needs no handling: wsconn counts any frame as a sign of life.
func (c *conn) Message(_ *wsconn.Conn, text bool, data []byte) {
	ok, cut := c.lim.allow()
	if cut {
		c.stop(closeFlood)
	}
	if !ok || !text {
		return // the client sends JSON text; binary is ignored
	}
	// m.Payload points into data until route has re-encoded it.
	if m, ok := decode(data); ok {
		switch m.Type {
		case typeOffer, typeAnswer, typeCandidate, typeLeave, typeExpire:
			c.srv.route(c, m)
		}
	} // else ignored, as the reference server ignores what it cannot parse
}
