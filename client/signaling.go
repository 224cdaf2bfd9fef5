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

// join opens the WebSocket and performs join → joined synchronously, before
// any goroutine exists, so Dial can return a precise error. ctx bounds the
// whole exchange.
func join(ctx context.Context, cfg *config, server, room string) (*websocket.Conn, *protocol.Joined, error) {
	u, err := wsURL(server)
	if err != nil {
		return nil, nil, err
	}
	if !protocol.ValidRoom(room) {
		return nil, nil, fmt.Errorf("%w: %q", ErrBadRoom, room)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, u, cfg.header)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("%w: %s answered HTTP %s", ErrUnreachable, u, resp.Status)
		}
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, u, err)
	}
	ws.SetReadLimit(protocol.MaxMessageSize)
	// Unblock the reads below when ctx ends; stop() tells whether it did.
	stop := context.AfterFunc(ctx, func() { ws.SetReadDeadline(time.Unix(1, 0)) })
	joined, err := joinExchange(ws, room)
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

func joinExchange(ws *websocket.Conn, room string) (*protocol.Joined, error) {
	b, err := protocol.Encode(&protocol.Join{V: protocol.Version, Room: room})
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

// reader is the only goroutine reading ws. It hands each decoded message
// to the loop and reports the connection's end; it stops when ws closes.
func (c *Call) reader() {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.post(func() { c.signalingLost(err) })
			return
		}
		m, err := protocol.DecodeServer(data)
		if err != nil {
			c.log.Warn("undecodable message from server", "err", err)
			continue
		}
		c.post(func() { c.handleSignal(m) })
	}
}

// writer is the only goroutine writing data frames to ws. When stop closes
// it sends a close frame (so the server frees the place at once and the
// other peer gets peer-left) and closes the socket, which ends reader.
func (c *Call) writer(stop <-chan struct{}) {
	defer c.ws.Close()
	for {
		select {
		case b := <-c.out:
			c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.post(func() { c.signalingLost(err) })
				return
			}
		case <-stop:
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		}
	}
}

// send queues m for the writer without blocking the loop. A full queue
// means the connection is stuck, so the call ends rather than waits.
func (c *Call) send(m protocol.Message) {
	b, err := protocol.Encode(m)
	if err != nil {
		c.log.Error("encode", "err", err)
		return
	}
	select {
	case c.out <- b:
	default:
		c.signalingLost(errors.New("send queue full"))
	}
}
