package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/duet-call/duet/protocol"
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
	url  string // the signaling endpoint, ws(s)://host/ws
	room string

	events   chan func()       // to the loop; bounded
	notify   chan func()       // to the dispatcher running user handlers; bounded
	redialed chan redialResult // from the redialer to the loop; unbuffered
	done     chan struct{}     // closed when the loop has stopped accepting events
	closeQ   chan struct{}     // closed by Close to ask the loop to stop
	ctx      context.Context   // ends with the loop; stops the redialer
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine of the call
	once     sync.Once

	mu     sync.Mutex // guards the fields below, read by other goroutines
	state  State
	err    error
	chat   *webrtc.DataChannel // the open chat channel, or nil
	chatUp chan struct{}       // closed when chat is open; replaced per peer
	polite bool
	peerID string
	sigUp  bool // in the room on the server (false while reconnecting)
	// peerKind is the other place's kind (whip.go): "" for a person.
	peerKind string

	// Loop-owned state (only the loop goroutine touches these).
	sig    *sigConn // the signaling connection, nil while reconnecting
	resume string   // the token of the last joined
	lostAt time.Time
	ice    []webrtc.ICEServer
	tracks []webrtc.TrackLocal
	peer   *peer
	// peerHere: the server says the other peer is in the room (joined,
	// peer-joined); false after peer-left and after a resume that found
	// the room without it. A connection kept across a resume may belong to
	// a peer that left meanwhile; this tells the two apart.
	peerHere bool
	closing  bool
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
	u, err := wsURL(serverURL)
	if err != nil {
		return nil, err
	}
	if !protocol.ValidRoom(room) {
		return nil, fmt.Errorf("%w: %q", ErrBadRoom, room)
	}
	api := newAPI(&cfg)
	ws, joined, err := join(ctx, &cfg, u, room, "")
	if err != nil {
		return nil, err
	}
	c := &Call{
		cfg:      cfg,
		log:      cfg.log.With("room", room),
		api:      api,
		url:      u,
		room:     room,
		events:   make(chan func(), 256),
		notify:   make(chan func(), 256),
		redialed: make(chan redialResult),
		done:     make(chan struct{}),
		closeQ:   make(chan struct{}),
		chatUp:   make(chan struct{}),
		tracks:   append([]webrtc.TrackLocal(nil), cfg.tracks...),
		polite:   joined.Polite,
		sigUp:    true,
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.attach(ws)
	c.wg.Go(c.dispatch)
	c.wg.Go(func() { c.loop(joined) })
	return c, nil
}

func newAPI(cfg *config) *webrtc.API {
	se := DefaultSettingEngine()
	if cfg.setting != nil {
		se = *cfg.setting
	} else if cfg.relayOnly {
		// Every pair is relayed from this end: no better pair can exist to
		// wait for (DefaultSettingEngine).
		se.SetRelayAcceptanceMinWait(0)
		se.SetSrflxAcceptanceMinWait(0)
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
// signaling connection was lost and could not be resumed). Err then says
// why.
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

func (c *Call) handleSignal(sc *sigConn, m protocol.Message) {
	if sc != c.sig {
		return // left over from a connection the call has given up on
	}
	switch v := m.(type) {
	case *protocol.PeerJoined:
		c.log.Debug("peer joined", "peer", v.Peer, "resumed", v.Resumed)
		if c.peer != nil && v.Resumed && v.Peer == c.peerID {
			c.peerBack() // the same peer back from a signaling outage: keep the connection
			return
		}
		c.setPeerKind(v.PeerKind)
		c.newPeer(v.Peer)
	case *protocol.PeerLeft:
		c.log.Debug("peer left", "reason", v.Reason)
		c.peerHere = false
		c.dropPeer()
		c.setState(StatePeerLeft)
	case *protocol.Description:
		c.handleDescription(v.Description)
	case *protocol.Candidate:
		c.handleCandidate(v.Candidate)
	case *protocol.ErrorMessage:
		c.log.Warn("server error", "code", v.Code, "message", v.Message, "ref", v.Ref)
	case *protocol.Bye:
		if v.Reason == protocol.ByeReplaced {
			// Another connection holds our resume token now: coming
			// back would only push it out in turn.
			c.log.Warn("replaced by a newer connection of this peer")
			c.detach(false)
			c.finish(fmt.Errorf("%w: replaced by a newer connection of this peer", ErrServerGone))
			return
		}
		// shutdown (or anything else): the server is going; come back,
		// to it or to whichever node now answers its address.
		c.signalingLost(sc, fmt.Errorf("server said bye: %s", v.Reason))
	}
}

// loop is the call's owner. It stops on Close or when an event calls
// finish, then tears everything down in an order that cannot deadlock:
// done first (so pion callbacks blocked in post return), then the
// redialer, the peer connection, the writer (close frame), and last the
// handler queue.
func (c *Call) loop(joined *protocol.Joined) {
	c.resume = joined.Resume
	c.setICE(joined)
	c.log.Debug("joined", "polite", joined.Polite, "peerPresent", joined.PeerPresent, "iceServers", len(c.ice))
	// The state starts as Waiting; report it, as setState reports changes.
	if h := c.cfg.onState; h != nil {
		c.emit(func() { h(StateWaiting) })
	}
	if joined.PeerPresent {
		c.setPeerKind(joined.PeerKind)
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
		case r := <-c.redialed:
			c.rejoined(r)
		case <-kick:
			c.kicked(p, false)
		case <-c.closeQ:
			c.finish(ErrClosed)
		}
	}
	close(c.done)
	c.cancel() // stops a redialer; it closes a socket it could not hand over
	c.dropPeer()
	c.detach(true)
	c.setState(StateClosed)
	close(c.notify)
}

// setICE takes the ICE servers of a joined (fresh TURN credentials after a
// resume), unless the caller fixed them with WithICEServers.
func (c *Call) setICE(joined *protocol.Joined) {
	c.ice = iceServers(joined.ICEServers)
	if c.cfg.iceOverride {
		c.ice = c.cfg.iceServers
	}
}

func iceServers(in []protocol.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
