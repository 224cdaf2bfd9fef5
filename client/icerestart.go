package client

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// ICERestart is when a call restarts ICE on a media path that broke after
// it had connected: the connection is failed, or has been disconnected
// for Grace. Only the impolite peer restarts (docs/protocol.md, ## ICE
// restart); both report StateReconnecting meanwhile, and StateFailed if the
// path is not back after GiveUp.
type ICERestart struct {
	Grace  time.Duration // default 3 s
	GiveUp time.Duration // default 30 s
}

// DefaultICERestart is the policy a call uses unless WithICERestart
// changes it. pion reports disconnected after 5 s without an answer to
// its checks; 3 s more tells a blip from a broken path, as the web app
// does.
var DefaultICERestart = ICERestart{Grace: 3 * time.Second, GiveUp: 30 * time.Second}

// WithICERestart replaces DefaultICERestart; zero fields keep their default.
func WithICERestart(r ICERestart) Option {
	return func(c *config) {
		if r.Grace > 0 {
			c.iceRestart.Grace = r.Grace
		}
		if r.GiveUp > 0 {
			c.iceRestart.GiveUp = r.GiveUp
		}
	}
}

// connState follows the peer connection's state. A connection that never
// connected and fails is reported as failed: ICE had every candidate, and
// restarting would gather the same ones. One that had connected is in an
// outage until it connects again: the grace timer, then an ICE restart.
func (c *Call) connState(p *peer, s webrtc.PeerConnectionState) {
	if p != c.peer {
		return
	}
	c.log.Debug("peer connection", "state", s)
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.connected = true
		if p.outage {
			c.log.Info("media path back", "iceRestarts", p.restarts)
		}
		p.endOutage()
		c.setState(StateConnected)
	case webrtc.PeerConnectionStateDisconnected:
		if !p.connected {
			return
		}
		c.startOutage(p)
	case webrtc.PeerConnectionStateClosed:
		// Not by us (dropPeer makes it not current first): the other
		// peer closed its end (DTLS close_notify), as when it hangs up
		// while signaling is down and no peer-left can reach us.
		c.log.Info("the peer closed the connection")
		c.peerHere = false
		c.dropPeer()
		c.setState(StatePeerLeft)
	case webrtc.PeerConnectionStateFailed:
		if !p.connected {
			c.log.Warn("peer connection failed")
			c.setState(StateFailed)
			return
		}
		c.startOutage(p)
		c.restartICE(p)
	}
}

// startOutage marks p's path as interrupted (once per outage) and arms the
// grace and give-up timers.
func (c *Call) startOutage(p *peer) {
	if p.outage {
		return
	}
	p.outage = true
	c.setState(StateReconnecting)
	pol := c.cfg.iceRestart
	p.graceTimer = time.AfterFunc(pol.Grace, func() { c.post(func() { c.restartICE(p) }) })
	p.giveUpTimer = time.AfterFunc(pol.GiveUp, func() {
		c.post(func() {
			if p != c.peer || !p.outage {
				return
			}
			p.endOutage()
			if !c.peerHere && c.sig != nil {
				// Back in the room, and the peer is not: it left while
				// we could not hear peer-left.
				c.log.Info("media path not back and the peer is not in the room: it left", "after", pol.GiveUp)
				c.dropPeer()
				c.setState(StatePeerLeft)
				return
			}
			c.log.Warn("media path not back; giving up", "after", pol.GiveUp, "iceRestarts", p.restarts)
			c.setState(StateFailed)
		})
	})
}

func (p *peer) endOutage() {
	p.outage = false
	if p.graceTimer != nil {
		p.graceTimer.Stop()
	}
	if p.giveUpTimer != nil {
		p.giveUpTimer.Stop()
	}
}

// restartICE makes an offer with fresh ICE credentials, if this peer is
// the one to do it: impolite, with signaling up (else peerBack does it on
// the resume) and no offer in flight (its answer, or the resend on resume,
// settles that first). Restarts are at least Grace apart: a restart that
// fails again is retried, not stormed.
func (c *Call) restartICE(p *peer) {
	if p != c.peer || !p.outage || c.Polite() || p.answerOnly {
		return
	}
	if c.sig == nil || p.held != nil || p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.restartPending = true
		return
	}
	if wait := c.cfg.iceRestart.Grace - time.Since(p.lastRestart); !p.lastRestart.IsZero() && wait > 0 {
		p.graceTimer.Stop()
		p.graceTimer = time.AfterFunc(wait, func() { c.post(func() { c.restartICE(p) }) })
		return
	}
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.log.Warn("ICE restart offer", "err", err)
		return
	}
	p.restarts++
	p.lastRestart = time.Now()
	p.restartPending = false
	c.log.Info("restarting ICE", "restart", p.restarts)
	c.sendDescription(p.pc.LocalDescription())
}

// ICERestarts counts the ICE restarts this call has made with its current
// peer (the impolite side makes them; the polite side's stays 0).
func (c *Call) ICERestarts() int {
	n := 0
	_ = c.do(c.ctx, func() error {
		if c.peer != nil {
			n = c.peer.restarts
		}
		return nil
	})
	return n
}
