package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/duet-call/duet/protocol"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// Reconnect is how a call comes back after its signaling WebSocket drops:
// it dials again after Initial, doubling up to Max, each wait randomised by
// ±50 % so that the two peers of a room (and every room of a restarted
// server) do not come back in lockstep, and it resumes its place with the
// token of its last joined. After Total without success the call ends with
// ErrServerGone. docs/protocol.md (## Client reconnect) has the rules.
type Reconnect struct {
	Initial time.Duration // first wait; default 500 ms
	Max     time.Duration // longest wait; default 10 s
	Total   time.Duration // give up after this long; default 30 s
}

// DefaultReconnect is the policy a call uses unless WithReconnect changes it:
// the web app's backoff, and 30 s in all, twice the server's 15 s ghost
// grace, which is long enough for a server process to restart.
var DefaultReconnect = Reconnect{Initial: 500 * time.Millisecond, Max: 10 * time.Second, Total: 30 * time.Second}

// WithReconnect replaces DefaultReconnect; zero fields keep their default.
func WithReconnect(r Reconnect) Option {
	return func(c *config) {
		if r.Initial > 0 {
			c.reconnect.Initial = r.Initial
		}
		if r.Max > 0 {
			c.reconnect.Max = r.Max
		}
		if r.Total > 0 {
			c.reconnect.Total = r.Total
		}
		c.reconnectOff = false
	}
}

// WithoutReconnect makes a dropped signaling connection end the call at
// once with ErrServerGone, as the SDK did before it could resume.
func WithoutReconnect() Option {
	return func(c *config) { c.reconnectOff = true }
}

// WithOnSignalingChange calls f(false) when the signaling connection drops
// and the call starts to reconnect, and f(true) each time it is back in
// its room. Media and chat flow peer to peer meanwhile.
func WithOnSignalingChange(f func(up bool)) Option {
	return func(c *config) { c.onSignaling = f }
}

// SignalingUp reports whether the call is in its room on the server now;
// false while it reconnects.
func (c *Call) SignalingUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sigUp
}

// wait is the backoff before attempt n (0-based): Initial·2ⁿ capped at
// Max, times a random factor in [0.5, 1.5).
func (r Reconnect) wait(n int) time.Duration {
	d := r.Initial
	for i := 0; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

type redialResult struct {
	ws     *websocket.Conn
	joined *protocol.Joined
	err    error // set when the redialer gave up; ws is nil then
}

// signalingLost handles the end of connection sc: the call drops it
// without a close frame (so the server keeps our place as a ghost) and
// redials, or ends if reconnecting is off. Events of a connection the call
// already left are ignored.
func (c *Call) signalingLost(sc *sigConn, err error) {
	if c.closing || sc != c.sig {
		return
	}
	c.detach(false)
	if c.cfg.reconnectOff {
		c.log.Warn("signaling lost", "err", err)
		c.finish(fmt.Errorf("%w: %v", ErrServerGone, err))
		return
	}
	c.log.Warn("signaling lost; reconnecting", "err", err)
	c.lostAt = time.Now()
	c.setSignaling(false)
	if c.peer == nil || c.State() != StateConnected {
		// A connected call stays connected: its media does not pass
		// through the server. Anything else waits for the server.
		c.setState(StateReconnecting)
	}
	token := c.resume
	c.wg.Go(func() { c.redial(token) })
}

// redial runs in its own goroutine, owned by the call through c.ctx: it
// dials with backoff until it joins, the policy's total runs out, or the
// call ends. It hands its result to the loop on c.redialed; a socket the
// loop did not take (the call ended first) it closes itself.
func (c *Call) redial(token string) {
	pol := c.cfg.reconnect
	giveUp := time.Now().Add(pol.Total)
	var last error
	for n := 0; ; n++ {
		t := time.NewTimer(pol.wait(n))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		left := time.Until(giveUp)
		if left <= 0 {
			c.handOver(redialResult{err: fmt.Errorf("%w: no server for %v; last error: %v", ErrServerGone, pol.Total, last)})
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, left)
		ws, joined, err := join(ctx, &c.cfg, c.url, c.room, token)
		cancel()
		if err == nil {
			c.handOver(redialResult{ws: ws, joined: joined})
			return
		}
		if c.ctx.Err() != nil {
			return
		}
		last = err
		c.log.Info("reconnect attempt failed", "attempt", n+1, "err", err)
		if errors.Is(err, ErrRoomFull) || errors.Is(err, ErrBadVersion) || errors.Is(err, ErrBadRoom) {
			// Our place is gone to someone else, or the server we came
			// back to cannot take us: more attempts will not change it.
			c.handOver(redialResult{err: fmt.Errorf("%w: rejoining: %w", ErrServerGone, err)})
			return
		}
	}
}

func (c *Call) handOver(r redialResult) {
	select {
	case c.redialed <- r:
	case <-c.ctx.Done():
		if r.ws != nil {
			r.ws.Close()
		}
	}
}

// rejoined takes the redialer's result. The call resumed its place (same
// peer id and role) or, when the server did not honour the token (expired,
// another secret), starts afresh in the room as a new peer.
func (c *Call) rejoined(r redialResult) {
	if r.err != nil {
		c.log.Warn("giving up reconnecting", "err", r.err)
		c.finish(r.err)
		return
	}
	j := r.joined
	c.attach(r.ws)
	c.resume = j.Resume
	c.setICE(j)
	c.setSignaling(true)
	if j.PeerPresent {
		c.setPeerKind(j.PeerKind)
	}
	c.log.Info("rejoined", "resumed", j.Resumed, "peerPresent", j.PeerPresent, "after", time.Since(c.lostAt).Round(time.Millisecond))
	if !j.Resumed {
		// A new place: our old peer connection belongs to an identity the
		// other peer will not see again, and our role may have changed.
		c.dropPeer()
		c.mu.Lock()
		c.polite = j.Polite
		c.mu.Unlock()
		if j.PeerPresent {
			c.newPeer(j.Peer)
		} else {
			c.setState(StateWaiting)
		}
		return
	}
	switch {
	case j.PeerPresent && c.peer != nil && j.Peer == c.peerID:
		c.peerBack()
	case j.PeerPresent:
		c.newPeer(j.Peer)
	case c.peer != nil:
		// We are back before the other peer (a restarted server has not
		// heard from it yet). Keep the connection: the peer resumes too
		// (peer-joined, same id), or it left while we were away, the
		// connection breaks, and the outage ends as peer-left.
		c.peerHere = false
		c.setState(c.peerState())
	default:
		c.setState(c.lastAloneState())
	}
}

// peerBack: the peer we have a connection with is in the room again after
// an outage of either side. Whatever negotiation the outage cut is picked
// up again: an unanswered offer of ours is sent again (the server may have
// lost it, or its answer), a renegotiation pion asked for meanwhile is
// made now, and an interrupted media path gets its ICE restart.
func (c *Call) peerBack() {
	p := c.peer
	c.peerHere = true
	c.setState(c.peerState())
	if p.held != nil {
		c.log.Debug("sending our unanswered offer again")
		c.sendDescription(p.held)
		return
	}
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		c.log.Debug("sending our unanswered offer again")
		c.sendDescription(p.pc.LocalDescription())
		return
	}
	if p.owed {
		p.owed = false
		c.kicked(p, false)
		return
	}
	if p.outage {
		c.restartICE(p)
	}
}

// peerState is the call state the current peer connection stands for.
func (c *Call) peerState() State {
	p := c.peer
	switch {
	case p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected:
		return StateConnected
	case p.outage:
		return StateReconnecting
	default:
		return StateConnecting
	}
}

// lastAloneState is Waiting, or PeerLeft when a peer has been here.
func (c *Call) lastAloneState() State {
	if c.peerID != "" {
		return StatePeerLeft
	}
	return StateWaiting
}

func (c *Call) setSignaling(up bool) {
	c.mu.Lock()
	c.sigUp = up
	c.mu.Unlock()
	if h := c.cfg.onSignaling; h != nil {
		c.emit(func() { h(up) })
	}
}
