// Package signal is duet's signaling server: rooms of two, the hub that owns
// them, and one WebSocket session per client.
//
// Locking: Hub.mu guards the room registry and every session's room and role.
// Nothing blocks while it is held: sending to a session is a non-blocking
// push onto that session's bounded queue, and a session whose queue is full is
// cut off instead of waited for, so one slow client cannot stall other rooms.
package signal

import (
	"net/http"
	"time"

	"github.com/duet-call/duet/protocol"
)

// Config tunes the hub. The zero value of every field means its default.
type Config struct {
	// MaxMessageSize caps one incoming frame; larger closes with 1009.
	MaxMessageSize int64
	// SendQueue is how many outgoing messages a session may have waiting
	// before it counts as a slow consumer and is disconnected.
	SendQueue int
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each client.
	PingInterval time.Duration
	// IdleTimeout closes a connection that sent nothing (not even a pong)
	// for this long. It must exceed PingInterval.
	IdleTimeout time.Duration
	// ICEServers returns the RTCIceServers for one joining peer; host is the
	// host name the client used to reach us (no port). Nil means none (LAN).
	ICEServers func(host string) []protocol.ICEServer
	// CheckOrigin accepts or refuses a WebSocket upgrade by its Origin.
	// Nil allows requests without Origin and same-origin browsers only.
	CheckOrigin func(r *http.Request) bool
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = protocol.MaxMessageSize
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.IdleTimeout <= c.PingInterval {
		c.IdleTimeout = c.PingInterval*2 + 5*time.Second
	}
	if c.ICEServers == nil {
		c.ICEServers = func(string) []protocol.ICEServer { return []protocol.ICEServer{} }
	}
	return c
}
