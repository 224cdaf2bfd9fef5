package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/duet-call/duet/protocol"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// Call is one peer's place in a duet room. Its state is owned by one event
// loop goroutine: WebSocket messages, pion callbacks and the caller's
// requests all arrive there as closures, so no field of the call's
// negotiation state is ever touched by two goroutines.
type Call struct {
	cfg  config
	log  *slog.Logger
	api  *webrtc.API
	ws   *websocket.Conn
	room string

	events chan func()    // to the loop; bounded
	out    chan []byte    // to the writer; bounded, never blocks the loop
	notify chan func()    // to the dispatcher running user handlers; bounded
	done   chan struct{}  // closed when the loop has stopped accepting events
	closeQ chan struct{}  // closed by Close to ask the loop to stop
	wg     sync.WaitGroup // every goroutine of the call
	once   sync.Once

	mu     sync.Mutex // guards the fields below, read by other goroutines
	state  State
	err    error
	chat   *webrtc.DataChannel // the open chat channel, or nil
	chatUp chan struct{}       // closed when chat is open; replaced per peer
	polite bool
	peerID string

	// Loop-owned state (only the loop goroutine touches these).
	ice     []webrtc.ICEServer
	tracks  []webrtc.TrackLocal
	peer    *peer
	closing bool
}

// Dial joins room on the duet server at serverURL (http(s)://host:port,
// a room link, or ws(s)://host/ws) and returns once the server has
// admitted it: the call is then waiting for the other peer, or already
// negotiating with it. ctx bounds only the dial and join, like
// net.Dialer.DialContext; end the call with Close.
//
// Refusals come back as errors that match ErrUnreachable, ErrRoomFull,
// ErrBadRoom, ErrBadVersion or ErrServerBusy with errors.Is.
func Dial(ctx context.Context, serverURL, room string, opts ...Option) (*Call, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	api := newAPI(&cfg)
	ws, joined, err := join(ctx, &cfg, serverURL, room)
	if err != nil {
		return nil, err
	}
	c := &Call{
		cfg:    cfg,
		log:    cfg.log.With("room", room),
		api:    api,
		ws:     ws,
		room:   room,
		events: make(chan func(), 256),
		out:    make(chan []byte, sendQueue),
		notify: make(chan func(), 256),
		done:   make(chan struct{}),
		closeQ: make(chan struct{}),
		chatUp: make(chan struct{}),
		tracks: append([]webrtc.TrackLocal(nil), cfg.tracks...),
		polite: joined.Polite,
	}
	stopWriter := make(chan struct{})
	c.wg.Go(c.reader)
	c.wg.Go(func() { c.writer(stopWriter) })
	c.wg.Go(c.dispatch)
	c.wg.Go(func() { c.loop(joined, stopWriter) })
	return c, nil
}

func newAPI(cfg *config) *webrtc.API {
	se := DefaultSettingEngine()
	if cfg.setting != nil {
		se = *cfg.setting
	}
	if se.LoggerFactory == nil {
		se.LoggerFactory = slogFactory{cfg.log}
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// post hands f to the loop; it gives up once the loop has stopped, so a
// pion callback never blocks forever on a finished call.
func (c *Call) post(f func()) {
	select {
	case c.events <- f:
	case <-c.done:
	}
}

// do runs f on the loop and waits for its result.
func (c *Call) do(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	select {
	case c.events <- func() { res <- f() }:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-res:
		return err
	case <-c.done:
		return ErrClosed
	}
}

// AddTrack adds a local track to the current peer connection (which
// renegotiates) and to every later one.
func (c *Call) AddTrack(t webrtc.TrackLocal) error {
	return c.do(context.Background(), func() error {
		c.tracks = append(c.tracks, t)
		if c.peer != nil {
			return c.peer.addTrack(c, t)
		}
		return nil
	})
}

// SendChat sends one chat line to the peer over the chat data channel.
// It fails with ErrNotConnected when no channel is open.
func (c *Call) SendChat(text string) error {
	b, err := encodeChat(text)
	if err != nil {
		return err
	}
	c.mu.Lock()
	dc := c.chat
	c.mu.Unlock()
	if dc == nil {
		return ErrNotConnected
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("duet: sending chat: %w", err)
	}
	return nil
}

// WaitChat blocks until the chat channel with the current peer is open,
// the call ends (ErrClosed or the call's error) or ctx ends.
func (c *Call) WaitChat(ctx context.Context) error {
	for {
		c.mu.Lock()
		up, open := c.chatUp, c.chat != nil
		c.mu.Unlock()
		if open {
			return nil
		}
		select {
		case <-up:
		case <-c.done:
			return c.endErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// State is the call's current state.
func (c *Call) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Polite is this peer's perfect-negotiation role, as the server gave it.
func (c *Call) Polite() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polite
}

// Done is closed when the call has ended, by Close or by itself (the
// signaling connection was lost). Err then says why.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err is why the call ended: nil while it runs, ErrClosed after Close, or
// an error matching ErrServerGone.
func (c *Call) Err() error {
	select {
	case <-c.done:
		return c.endErr()
	default:
		return nil
	}
}

func (c *Call) endErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ErrClosed
	}
	return c.err
}

// Close leaves the room (the other peer sees peer-left at once), closes
// the peer connection and waits for every goroutine of the call, track
// handlers included. Do not call it from a handler passed in an Option:
// the handlers run on a goroutine Close waits for. Safe to call twice.
func (c *Call) Close() error {
	c.once.Do(func() { close(c.closeQ) })
	c.wg.Wait()
	if err := c.endErr(); !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// dispatch runs the caller's handlers one at a time, in order, off the
// loop, so a handler may call SendChat or AddTrack. It ends when the loop
// closes notify.
func (c *Call) dispatch() {
	for f := range c.notify {
		f()
	}
}

// emit queues a handler call; called only by the loop. A full queue makes
// the loop wait: handlers that never return stall the call, not lose events.
func (c *Call) emit(f func()) { c.notify <- f }

func (c *Call) setState(s State) {
	c.mu.Lock()
	changed := c.state != s
	c.state = s
	c.mu.Unlock()
	if changed {
		c.log.Debug("state", "state", s)
		if h := c.cfg.onState; h != nil {
			c.emit(func() { h(s) })
		}
	}
}

// signalingLost ends the call: without resume support the SDK cannot
// renegotiate or learn that the peer left, so it reports the loss.
func (c *Call) signalingLost(err error) {
	if c.closing {
		return
	}
	c.log.Warn("signaling lost", "err", err)
	c.finish(fmt.Errorf("%w: %v", ErrServerGone, err))
}

// finish marks the call as ending with err; the loop stops after the
// current event.
func (c *Call) finish(err error) {
	if c.closing {
		return
	}
	c.closing = true
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *Call) handleSignal(m protocol.Message) {
	switch v := m.(type) {
	case *protocol.PeerJoined:
		c.log.Debug("peer joined", "peer", v.Peer, "resumed", v.Resumed)
		if c.peer != nil && v.Resumed && v.Peer == c.peerID {
			return // the same peer back from a signaling outage: keep the connection
		}
		c.newPeer(v.Peer)
	case *protocol.PeerLeft:
		c.log.Debug("peer left", "reason", v.Reason)
		c.dropPeer()
		c.setState(StatePeerLeft)
	case *protocol.Description:
		c.handleDescription(v.Description)
	case *protocol.Candidate:
		c.handleCandidate(v.Candidate)
	case *protocol.ErrorMessage:
		c.log.Warn("server error", "code", v.Code, "message", v.Message, "ref", v.Ref)
	case *protocol.Bye:
		c.signalingLost(fmt.Errorf("server said bye: %s", v.Reason))
	}
}

// loop is the call's owner. It stops on Close or when an event calls
// finish, then tears everything down in an order that cannot deadlock:
// done first (so pion callbacks blocked in post return), then the peer
// connection, then the writer (close frame), then the handler queue.
func (c *Call) loop(joined *protocol.Joined, stopWriter chan struct{}) {
	c.ice = iceServers(joined.ICEServers)
	if c.cfg.iceOverride {
		c.ice = c.cfg.iceServers
	}
	c.log.Debug("joined", "polite", joined.Polite, "peerPresent", joined.PeerPresent, "iceServers", len(c.ice))
	// The state starts as Waiting; report it, as setState reports changes.
	if h := c.cfg.onState; h != nil {
		c.emit(func() { h(StateWaiting) })
	}
	if joined.PeerPresent {
		c.newPeer(joined.Peer)
	}
	for !c.closing {
		var kick chan struct{} // nil (never ready) while there is no peer
		p := c.peer
		if p != nil {
			kick = p.negotiate
		}
		select {
		case f := <-c.events:
			f()
		case <-kick:
			c.kicked(p, false)
		case <-c.closeQ:
			c.finish(ErrClosed)
		}
	}
	close(c.done)
	c.dropPeer()
	close(stopWriter)
	c.setState(StateClosed)
	close(c.notify)
}

func iceServers(in []protocol.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
