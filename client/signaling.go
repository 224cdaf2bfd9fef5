package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/duet-call/duet/protocol"
	"github.com/gorilla/websocket"
)

const (
	// sendQueue bounds the messages waiting for the writer. The server's
	// own queue is 64; a call that cannot drain 64 messages is broken.
	sendQueue    = 64
	writeTimeout = 10 * time.Second
)

// wsURL turns what a user types (http://host:8080, https://host, a room
// link https://host/r/abc, or ws://host/ws) into the signaling endpoint.
func wsURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("%w: bad server URL %q: %v", ErrUnreachable, server, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("%w: server URL %q needs http, https, ws or wss", ErrUnreachable, server)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%w: server URL %q has no host", ErrUnreachable, server)
	}
	if !strings.HasSuffix(u.Path, "/ws") {
		u.Path = "/ws"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// join opens the WebSocket and performs join → joined synchronously, so
// Dial (and each reconnect) gets a precise error. resume is the token of
// the last joined, or "". ctx bounds the whole exchange.
func join(ctx context.Context, cfg *config, u, room, resume string) (*websocket.Conn, *protocol.Joined, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, u, cfg.header)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("%w: %s answered HTTP %s", ErrUnreachable, u, resp.Status)
		}
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, u, err)
	}
	// The server sends no frame larger: relays are not escaped, and one whose
	// re-encoding would exceed it is refused (docs/protocol.md, Limits).
	ws.SetReadLimit(protocol.MaxMessageSize)
	// Unblock the reads below when ctx ends; stop() tells whether it did.
	stop := context.AfterFunc(ctx, func() { ws.SetReadDeadline(time.Unix(1, 0)) })
	joined, err := joinExchange(ws, room, resume)
	if !stop() {
		err = fmt.Errorf("duet: joining room %q: %w", room, ctx.Err())
	}
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	ws.SetReadDeadline(time.Time{})
	return ws, joined, nil
}

func joinExchange(ws *websocket.Conn, room, resume string) (*protocol.Joined, error) {
	b, err := protocol.Encode(&protocol.Join{V: protocol.Version, Room: room, Resume: resume})
	if err != nil {
		return nil, err
	}
	ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return nil, fmt.Errorf("%w: sending join: %v", ErrUnreachable, err)
	}
	ws.SetWriteDeadline(time.Time{})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("%w: waiting for joined: %v", ErrUnreachable, err)
		}
		m, err := protocol.DecodeServer(data)
		if err != nil {
			return nil, fmt.Errorf("%w: undecodable answer to join: %v", ErrProtocol, err)
		}
		switch v := m.(type) {
		case *protocol.Joined:
			return v, nil
		case *protocol.ErrorMessage:
			return nil, &ServerError{Code: v.Code, Message: v.Message, Ref: v.Ref}
		case *protocol.Bye:
			return nil, fmt.Errorf("%w: server said bye (%s) before joined", ErrServerBusy, v.Reason)
		}
		// pong or anything else that may precede joined: keep reading.
	}
}

// sigConn is one signaling WebSocket with its reader and writer. A call
// has at most one at a time (Call.sig); after a drop it dials a new one,
// and events of the old one are ignored by identity, as pion events of an
// old peer are.
type sigConn struct {
	ws   *websocket.Conn
	out  chan []byte   // to the writer; bounded, never blocks the loop
	stop chan struct{} // closed by the loop to end the writer
	// leave, set before stop closes, makes the writer send a close frame:
	// the server then frees the place at once and the other peer gets
	// peer-left. Without it the socket just closes and the server keeps
	// the place as a ghost for a resume.
	leave bool
}

// attach makes ws the call's signaling connection and starts its reader
// and writer; called by the loop (or by Dial before the loop starts).
func (c *Call) attach(ws *websocket.Conn) {
	sc := &sigConn{ws: ws, out: make(chan []byte, sendQueue), stop: make(chan struct{})}
	c.sig = sc
	c.wg.Go(func() { c.reader(sc) })
	c.wg.Go(func() { c.writer(sc) })
}

// detach stops the current connection's writer, which closes the socket
// and so ends its reader. leave says whether to send a close frame.
func (c *Call) detach(leave bool) {
	sc := c.sig
	if sc == nil {
		return
	}
	c.sig = nil
	sc.leave = leave
	close(sc.stop)
}

// reader is the only goroutine reading sc.ws. It hands each decoded
// message to the loop and reports the connection's end; it stops when the
// socket closes.
func (c *Call) reader(sc *sigConn) {
	for {
		_, data, err := sc.ws.ReadMessage()
		if err != nil {
			c.post(func() { c.signalingLost(sc, err) })
			return
		}
		m, err := protocol.DecodeServer(data)
		if err != nil {
			c.log.Warn("undecodable message from server", "err", err)
			continue
		}
		c.post(func() { c.handleSignal(sc, m) })
	}
}

// writer is the only goroutine writing data frames to sc.ws. It closes
// the socket when the loop closes sc.stop (which ends the reader), after a
// close frame if the call is leaving.
func (c *Call) writer(sc *sigConn) {
	defer sc.ws.Close()
	for {
		select {
		case b := <-sc.out:
			sc.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := sc.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.post(func() { c.signalingLost(sc, err) })
				return
			}
		case <-sc.stop:
			if sc.leave {
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
				_ = sc.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			}
			return
		}
	}
}

// send queues m for the writer without blocking the loop. While signaling
// is down m is dropped: what matters is re-sent after the resume (see
// peerBack). A full queue means the connection is stuck, so the call drops
// it and reconnects.
func (c *Call) send(m protocol.Message) {
	sc := c.sig
	if sc == nil {
		c.log.Debug("signaling down; not sent", "type", m.MessageType())
		return
	}
	b, err := protocol.Encode(m)
	if err != nil {
		c.log.Error("encode", "err", err)
		return
	}
	select {
	case sc.out <- b:
	default:
		c.signalingLost(sc, errors.New("send queue full"))
	}
}
