// Package bus is how the signaling hub reaches peers it does not hold: the
// room directory that enforces two places per room across every node, and
// the delivery of envelopes to other nodes. The hub is written against the
// Bus interface only; `duet serve` picks the implementation once at wiring:
// Local (the default, one node, nothing started) or natsbus (--nats).
//
// A hub always keeps its own connections' places itself. The bus adds what
// one node cannot know: who holds the other place when that peer is on
// another node, and a way to tell that node.
package bus

import (
	"context"
	"errors"
)

// Place is one taken place in a room: which peer, on which node, in which role.
type Place struct {
	Peer   string `json:"p"`
	Node   string `json:"n"`
	Polite bool   `json:"r,omitempty"`
	// Gen counts the resumes of this place: the generation of the resume
	// token issued for it. A token of an older generation cannot take the
	// place back (it was superseded when this one was issued).
	Gen uint32 `json:"g,omitempty"`
}

// Resume is a join's claim to take back an earlier place of me.Peer with a
// resume token.
type Resume struct {
	// Gen is the token's generation: a place held with a newer one is not
	// given back (ErrStale).
	Gen uint32
	// Issuer is the node that issued the token. When the directory holds
	// no place for the peer and the issuer is alive, the place was ended
	// there (a leave, or its grace ran out) and is not rebuilt (ErrStale);
	// when the issuer is gone, the place is taken anew, which is how the
	// peers of a node that died rebuild their rooms elsewhere.
	Issuer string
}

// Claim is the directory's answer to a join.
type Claim struct {
	// Me is the place taken; Polite is settled against the partner's role.
	Me Place
	// Partner holds the other place, if anyone does (on any node).
	Partner *Place
	// Replaced is this peer's earlier place that a resume took back; its
	// node should forget it (see Evict).
	Replaced *Place
}

// Kind says what an Envelope carries.
type Kind uint8

const (
	Relay  Kind = iota + 1 // Data is a description or candidate for To, from its partner From
	Joined                 // From (on FromNode, role Polite) took the place beside To
	Left                   // From left the room; Reason is the protocol reason
	Evict                  // To's place was taken back by a resume on FromNode; drop it silently
)

// Envelope is one message between nodes about one room.
type Envelope struct {
	Kind     Kind
	Room     string
	To, From string // peer ids
	FromNode string
	Polite   bool // Joined: the newcomer's role
	Resumed  bool // Joined: the newcomer came back with a resume token
	Reason   string
	Data     []byte // Relay: the re-encoded message, as the partner will read it
}

// Receiver is the side of the hub the bus calls. Its methods must not block.
type Receiver interface {
	// Deliver hands the hub an envelope another node sent to it.
	Deliver(e Envelope)
	// NodeGone says a node has stopped answering for longer than the
	// bus's bound: its places are free and their partners must be told.
	NodeGone(node string)
	// Places lists the places this node's own peers hold, ghosts included,
	// so the bus can write them back into a directory that lost them.
	Places() []RoomPlace
}

// RoomPlace is a place and its room.
type RoomPlace struct {
	Room  string
	Place Place
}

// Bus is the cluster side of the hub. Send and Release are called with the
// hub's lock held, so they must not block: they queue, in order.
type Bus interface {
	// Node is this node's id in the cluster.
	Node() string
	// Attach gives the bus the hub that receives its envelopes.
	Attach(r Receiver)
	// Claim takes a place in room for me (replacing me.Peer's own earlier
	// place when resume is set), or fails with ErrRoomFull, ErrStale (the
	// resume cannot be honoured; join afresh) or ErrUnavailable.
	Claim(ctx context.Context, room string, me Place, resume *Resume) (Claim, error)
	// Release frees p's place in room, if p still holds it.
	Release(room string, p Place)
	// Send queues e for node, after everything queued before it. A Left
	// reaches node only once a Release queued before it has freed the
	// place, so whoever hears that a peer left finds the place free.
	Send(node string, e Envelope)
	// Ready is nil when the bus can take joins (for /readyz).
	Ready() error
}

var (
	// ErrRoomFull: the room already has two places taken, on any nodes.
	ErrRoomFull = errors.New("bus: room full")
	// ErrStale: a resume token that was superseded or whose place was
	// ended; the join goes on as a fresh one.
	ErrStale = errors.New("bus: resume token superseded or ended")
	// ErrUnavailable: the directory cannot be reached now; try again.
	ErrUnavailable = errors.New("bus: directory unavailable")
)

// Local is the single-node bus: the hub's own rooms are the whole world, so
// every claim is granted as asked (the hub enforces two places itself) and
// nothing is ever sent. It starts nothing and holds no state.
type Local struct{}

func (Local) Node() string          { return "local" }
func (Local) Attach(Receiver)       {}
func (Local) Ready() error          { return nil }
func (Local) Release(string, Place) {}
func (Local) Send(string, Envelope) {}
func (Local) Claim(_ context.Context, _ string, me Place, _ *Resume) (Claim, error) {
	return Claim{Me: me}, nil
}
