// Package peerjs speaks the PeerJS server protocol (what the npm `peerjs`
// 1.x client expects of `peerjs-server`), so a PeerJS app can use duet as its
// signaling server: the HTTP id endpoint, the WebSocket with OPEN, ID-TAKEN,
// ERROR, HEARTBEAT, OFFER, ANSWER, CANDIDATE, LEAVE and EXPIRE, and queued
// messages for peers that have not connected yet.
//
// It keeps its own registry of PeerJS ids with the discipline of duet's hub
// (internal/signal): one lock, non-blocking pushes onto bounded per-connection
// queues, slow consumers cut off, and the same per-IP caps and rate limits.
//
// Locking: Server.mu guards the registry (ids, connections, queued messages,
// per-IP state) and every conn's registration fields. Nothing blocks while it
// is held. A connection's send queue is its wsconn.Conn's. wsconn runs
// Message and Ended (which take Server.mu) under the connection's read lock
// and not its write lock, and Send, Close and Abort take only write locks,
// so the order is: read lock, Server.mu, write locks.
package peerjs

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Config tunes the PeerJS endpoint. The zero value of every field means its
// default; the PeerJS-specific defaults are those of the reference server's
// `peerjs` command (peer 1.0.2), the limits those of signal.Config.
type Config struct {
	// Key is the API key clients must pass (PeerJS option `key`).
	Key string
	// AllowDiscovery serves the list of connected ids at GET /{key}/peers.
	AllowDiscovery bool
	// AliveTimeout closes a connection that sent nothing (no HEARTBEAT,
	// message or pong) for this long, freeing its id.
	AliveTimeout time.Duration
	// ExpireTimeout is how long messages for an id that is not connected
	// are held before their senders get EXPIRE.
	ExpireTimeout time.Duration
	// ConcurrentLimit caps the ids registered at once (concurrent_limit).
	ConcurrentLimit int

	// CheckOrigin decides which browser origins may open the WebSocket and
	// read the HTTP endpoints (CORS). Nil allows every origin, as the
	// reference server does: PeerJS apps are served from elsewhere.
	CheckOrigin func(r *http.Request) bool

	// MaxMessageSize caps one incoming frame; larger closes with 1009.
	MaxMessageSize int64
	// SendQueue is how many outgoing messages a connection may have waiting
	// before it counts as a slow consumer and is disconnected.
	SendQueue int
	// QueueLen caps the messages held for one id that is not connected;
	// QueueTotal and QueueBytes cap them over all ids, in number and in
	// bytes. Over any, the sender gets EXPIRE at once: queues are the one
	// place a client can park memory without anyone reading it.
	QueueLen   int
	QueueTotal int
	QueueBytes int
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each client, so that a
	// dead TCP connection is found even between HEARTBEATs.
	PingInterval time.Duration

	// MsgRate and MsgBurst limit the messages one connection may send per
	// second; over it messages are dropped, and a flood is disconnected.
	MsgRate  float64
	MsgBurst int
	// ConnRate and ConnBurst limit new connections per client IP (id
	// guessing and squatting), like signal's join limit.
	ConnRate  float64
	ConnBurst int
	// MaxConnsPerIP caps open connections per client IP.
	MaxConnsPerIP int

	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Key == "" {
		c.Key = "peerjs"
	}
	if c.AliveTimeout <= 0 {
		c.AliveTimeout = 60 * time.Second
	}
	if c.ExpireTimeout <= 0 {
		c.ExpireTimeout = 5 * time.Second
	}
	if c.ConcurrentLimit <= 0 {
		c.ConcurrentLimit = 5000
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 64 << 10
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 32
	}
	if c.QueueTotal <= 0 {
		c.QueueTotal = 20000
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 16 << 20 // a connecting peer's offer and candidates are ~5 KB
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = min(15*time.Second, c.AliveTimeout/3)
	}
	if c.MsgRate <= 0 {
		c.MsgRate = 50
	}
	if c.MsgBurst <= 0 {
		c.MsgBurst = 200
	}
	if c.ConnRate <= 0 {
		c.ConnRate = 2
	}
	if c.ConnBurst <= 0 {
		c.ConnBurst = 20
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = 100
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.PingInterval >= c.AliveTimeout {
		errs = append(errs, errors.New("peerjs: PingInterval must be shorter than AliveTimeout"))
	}
	// A connecting client gets OPEN and then its whole queue in one go, so
	// the queue must fit in the connection's send queue.
	if c.QueueLen >= c.SendQueue {
		errs = append(errs, errors.New("peerjs: QueueLen must be smaller than SendQueue"))
	}
	if len(c.Key) > maxIDLen {
		errs = append(errs, errors.New("peerjs: Key is too long"))
	}
	return errors.Join(errs...)
}
