package client

import (
	"context"
	"errors"

	"github.com/duet-call/duet/protocol"
)

// The other place of a room may be a media tool that came in through
// duet's WHIP or WHEP endpoint (docs/whip.md) rather than a person: a
// WHIP publisher that sends media and takes none, or a WHEP player that
// takes this call's tracks. Such a tool sent its offer over HTTP and
// cannot take one, so with it the call only answers: it never
// renegotiates and never restarts ICE (the tool restarts ICE itself).
// Anything the tool's offer left out, such as the chat channel, stays out.

// PeerKind is what the other place is: protocol.KindWHIP, protocol.KindWHEP,
// or "" for a person (or when no one is there).
func (c *Call) PeerKind() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerKind
}

func (c *Call) setPeerKind(k string) {
	c.mu.Lock()
	c.peerKind = k
	c.mu.Unlock()
}

// Dismiss sends the WHIP or WHEP client beside this call away: its session
// ends, the call hears peer-left (StatePeerLeft), and the server refuses
// new WHIP/WHEP sessions into the room for a minute. The server refuses a
// dismiss of a person (cannot-dismiss, logged); Dismiss itself only fails
// when the call has ended or signaling is down.
func (c *Call) Dismiss(ctx context.Context) error {
	return c.do(ctx, func() error {
		if c.sig == nil {
			return errors.New("duet: dismiss: signaling is reconnecting; try again")
		}
		c.send(&protocol.Dismiss{})
		return nil
	})
}
