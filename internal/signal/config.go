// Package signal is duet's signaling server: rooms of two, the hub that owns
// them, and one WebSocket session per client.
//
// The hub runs on a bus.Bus chosen at wiring (bus.Local by default, NATS
// with --nats) and does not know which: a place in a room is either one of
// this node's sessions or a stub standing for a peer on another node.
//
// Locking: Hub.mu guards the room registry and every session's room and role.
// Nothing blocks while it is held: sending to a session writes what its
// socket takes at once and queues the rest (bounded), and a session whose
// queue is full is cut off instead of waited for, so one slow client cannot
// stall other rooms. Sessions are read by wsconn's shared pollers, so their
// handlers must not block either; the one step that may wait (a cluster
// join) runs on a goroutine of its own.
package signal

import (
	"crypto/rand"
	"net/http"
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/internal/wsconn"
	"github.com/duet-call/duet/protocol"
)

// Config tunes the hub. The zero value of every field means its default.
type Config struct {
	// MaxMessageSize caps one incoming frame; larger closes with 1009.
	MaxMessageSize int64
	// SendQueue is how many outgoing messages a session may have waiting
	// before it counts as a slow consumer and is disconnected.
	SendQueue int
	// SendQueueBytes bounds the bytes of those messages (default
	// wsconn.DefaultSendQueueBytes, 256 KiB, four of the largest): what a
	// client that does not read can make the server hold.
	SendQueueBytes int
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each client.
	PingInterval time.Duration
	// IdleTimeout closes a connection that sent nothing (not even a pong)
	// for this long. It must exceed PingInterval.
	IdleTimeout time.Duration
	// ICEServers returns the RTCIceServers for one joining peer; host is the
	// host name the client used to reach us (no port), user names the place
	// the peer holds (its peer id, kept across resumes), so that TURN
	// credentials minted for it count against one per-user quota and can be
	// checked with HoldsPlace. Nil means none (LAN).
	ICEServers func(host, user string) []protocol.ICEServer
	// CheckOrigin accepts or refuses a WebSocket upgrade by its Origin.
	// Nil allows requests without Origin and same-origin browsers only.
	CheckOrigin func(r *http.Request) bool

	// ResumeSecret signs resume tokens. Give every node, and every restart
	// of one, the same secret so tokens stay valid; nil means a random one.
	ResumeSecret []byte
	// ResumeTTL is how long a resume token is valid after it is issued.
	ResumeTTL time.Duration
	// ResumeGrace is how long the place of a peer whose connection dropped
	// without a close frame is held for it before the other peer is told it
	// left. A close frame (tab closed) or leave frees the place at once.
	ResumeGrace time.Duration

	// MsgRate and MsgBurst limit the messages one connection may send per
	// second; over it, messages are dropped with rate-limited, and a client
	// that keeps flooding is disconnected.
	MsgRate  float64
	MsgBurst int
	// JoinRate and JoinBurst limit joins per client IP (room-id guessing).
	JoinRate  float64
	JoinBurst int
	// MaxConnsPerIP and MaxConns cap open connections per client address
	// (clientaddr.Info.Key: an IPv4 address or an IPv6 /64) and in all.
	MaxConnsPerIP int
	MaxConns      int
	// JoinTimeout closes a connection that is in no room this long after
	// it opened or left one, so idle sockets cannot hold MaxConnsPerIP.
	JoinTimeout time.Duration

	// Observer hears joins, relays, refusals and the like, for metrics.
	Observer Observer

	// Tap, when set, is called with every text frame a client sends (in)
	// and every message the server writes to one (!in), on the session's
	// path: it must be quick and must not keep data. Tests use it to check
	// real traffic against protocol/schema; nil (the default) costs nothing.
	Tap func(in bool, data []byte)

	// Bus reaches peers on other nodes and holds the cluster-wide room
	// directory. Nil means bus.Local: one node, nothing started.
	Bus bus.Bus
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = protocol.MaxMessageSize
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = wsconn.DefaultSendQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.IdleTimeout <= c.PingInterval {
		c.IdleTimeout = c.PingInterval*2 + 5*time.Second
	}
	if len(c.ResumeSecret) == 0 {
		c.ResumeSecret = make([]byte, 32)
		rand.Read(c.ResumeSecret)
	}
	if c.ResumeTTL <= 0 {
		c.ResumeTTL = 12 * time.Hour
	}
	if c.ResumeGrace <= 0 {
		c.ResumeGrace = 15 * time.Second
	}
	if c.MsgRate <= 0 {
		c.MsgRate = 50
	}
	if c.MsgBurst <= 0 {
		c.MsgBurst = 200 // a burst of trickled candidates is well under this
	}
	if c.JoinRate <= 0 {
		c.JoinRate = 2
	}
	if c.JoinBurst <= 0 {
		c.JoinBurst = 20
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = 100
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 50000
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Bus == nil {
		c.Bus = bus.Local{}
	}
	if c.ICEServers == nil {
		c.ICEServers = func(string, string) []protocol.ICEServer { return []protocol.ICEServer{} }
	}
	return c
}
