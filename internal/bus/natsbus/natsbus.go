// Package natsbus is the bus.Bus of a duet cluster on NATS: nodes reach each
// other's peers over core NATS subjects, and a JetStream key-value bucket is
// the room directory that holds the limit of two places per room across the
// cluster (compare-and-set on the key's revision). Heartbeats on a subject
// tell each node which others are alive; a node silent for NodeTimeout is
// gone and its places are freed.
//
// Subjects, under Prefix (default "duet"):
//
//	<prefix>.node.<id>  envelopes for the peers of node <id> (see codec.go)
//	<prefix>.hb         every node's heartbeat: its id
package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/duet-call/duet/internal/bus"
)

// Config is what a node needs to join the cluster; URL is required.
type Config struct {
	URL string
	// Options add to the connection: credentials, TLS (see cmd/duet).
	Options []nats.Option
	// Prefix starts every subject; clusters sharing one NATS keep apart by it.
	Prefix string
	// Bucket is the JetStream KV bucket of the room directory.
	Bucket string
	// Heartbeat is how often this node says it is alive.
	Heartbeat time.Duration
	// NodeTimeout is how long a node may be silent before its places are
	// freed and its peers' partners told they left. It must exceed Heartbeat.
	NodeTimeout time.Duration
	// OpTimeout bounds one directory operation (a join waits for it).
	OpTimeout time.Duration
	// SendQueue bounds envelopes waiting to be published.
	SendQueue int
	Logger    *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "duet"
	}
	if c.Bucket == "" {
		c.Bucket = "duet_rooms"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.NodeTimeout <= c.Heartbeat {
		c.NodeTimeout = 5 * c.Heartbeat
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 16384
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Stats are the bus's counters, for metrics.
type Stats struct {
	Connected  bool
	Nodes      int    // other nodes heard from and not yet timed out
	Sent       uint64 // envelopes published
	Received   uint64 // envelopes delivered to the hub
	Dropped    uint64 // envelopes lost: send queue full, publish or decode error
	Reconnects uint64
	NodesGone  uint64 // nodes timed out
	Restored   uint64 // places written back into the directory after a reconnect
}

// Bus is one node's connection to the cluster.
type Bus struct {
	cfg  Config
	log  *slog.Logger
	node string
	nc   *nats.Conn
	js   jetstream.JetStream
	recv atomic.Pointer[bus.Receiver]

	kvMu sync.Mutex
	kv   jetstream.KeyValue // nil until made; remade if the bucket vanishes
	// epochSeen is the directory's epoch marker as this node last saw it;
	// a different one after a reconnect means the store was lost. Owned
	// by Connect, then by the directory worker.
	epochSeen string

	out chan outMsg // to the publisher
	dir chan dirOp  // to the directory worker

	alive liveness

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	sent, received, dropped, reconnects, gone, restored atomic.Uint64
}

// queueResync asks the directory worker to write this node's places back,
// in case the server lost them. It runs on nats.go's callback goroutine.
func (b *Bus) queueResync() {
	r := b.receiver()
	if r == nil {
		return
	}
	places := r.Places()
	if len(places) == 0 {
		return
	}
	select {
	case b.dir <- dirOp{resync: places}:
	default:
		b.log.Warn("nats: directory queue full; places not restored", "places", len(places))
	}
}

type outMsg struct {
	subj string
	data []byte
}

// Connect joins the cluster at cfg.URL: it connects, makes the directory
// bucket if missing, subscribes and starts heartbeats. A NATS server that
// cannot be reached at start is an error; once up, outages are ridden out
// with reconnects.
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.URL == "" {
		return nil, errors.New("natsbus: URL is required")
	}
	cfg = cfg.withDefaults()
	id := make([]byte, 6)
	rand.Read(id)
	b := &Bus{
		cfg:  cfg,
		node: hex.EncodeToString(id),
		out:  make(chan outMsg, cfg.SendQueue),
		dir:  make(chan dirOp, 4096),
		stop: make(chan struct{}),
	}
	b.log = cfg.Logger.With("node", b.node)
	b.alive.init(b.node, cfg.NodeTimeout)
	opts := append([]nats.Option{
		nats.Name("duet " + b.node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(32 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.alive.setConnected(false)
			if err != nil { // nil: our own Close
				b.log.Warn("nats: disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.reconnects.Add(1)
			b.alive.setConnected(true)
			b.log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted())
			b.queueResync()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn("nats", "err", err)
		}),
	}, cfg.Options...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect to %s: %w", cfg.URL, err)
	}
	b.nc = nc
	b.alive.setConnected(true)
	if b.js, err = jetstream.New(nc); err == nil {
		b.epochSeen, err = b.epoch(ctx)
	}
	if err == nil {
		err = b.subscribe()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	b.start(b.publisher)
	b.start(b.directory)
	b.start(b.heartbeat)
	b.log.Info("nats: joined the cluster", "server", nc.ConnectedUrlRedacted(), "bucket", cfg.Bucket)
	return b, nil
}

func (b *Bus) start(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

func (b *Bus) subscribe() error {
	sub, err := b.nc.Subscribe(b.nodeSubject(b.node), b.onEnvelope)
	if err == nil {
		// Bounded: a hub that cannot keep up loses envelopes (counted by
		// the error handler) rather than growing without end.
		err = sub.SetPendingLimits(65536, 64<<20)
	}
	if err == nil {
		_, err = b.nc.Subscribe(b.cfg.Prefix+".hb", func(m *nats.Msg) {
			b.alive.seen(string(m.Data))
		})
	}
	if err == nil {
		err = b.nc.Flush() // the subscriptions are in place before we say we are
	}
	if err != nil {
		return fmt.Errorf("natsbus: subscribe: %w", err)
	}
	return nil
}

func (b *Bus) nodeSubject(node string) string { return b.cfg.Prefix + ".node." + node }

// Node is this node's random id, new at every start.
func (b *Bus) Node() string { return b.node }

// Attach sets the hub that receives envelopes and node departures.
func (b *Bus) Attach(r bus.Receiver) { b.recv.Store(&r) }

func (b *Bus) receiver() bus.Receiver {
	if p := b.recv.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *Bus) onEnvelope(m *nats.Msg) {
	e, err := decode(m.Data)
	if err != nil {
		b.dropped.Add(1)
		b.log.Warn("nats: dropped a malformed envelope", "err", err)
		return
	}
	b.alive.seen(e.FromNode)
	if r := b.receiver(); r != nil {
		b.received.Add(1)
		r.Deliver(e)
	}
}

// Send queues e for node without blocking; a full queue drops it (counted).
// One publisher keeps the queue's order, and NATS keeps the order of one
// connection's messages on a subject, so a peer's relays arrive in order.
//
// A Left is published by the directory worker, after the Release queued
// before it is written (bus.Bus's contract): sent straight to the
// publisher, it could arrive before the release, and a join on another node
// at that moment got room-full.
func (b *Bus) Send(node string, e bus.Envelope) {
	m := outMsg{b.nodeSubject(node), encode(e)}
	if e.Kind == bus.Left {
		select {
		case b.dir <- dirOp{then: &m}:
			return
		default: // the directory is backed up: send it now rather than drop it
		}
	}
	b.queueOut(m)
}

// queueOut hands m to the publisher without blocking; a full queue drops
// it (counted).
func (b *Bus) queueOut(m outMsg) {
	select {
	case b.out <- m:
	default:
		b.dropped.Add(1)
	}
}

func (b *Bus) publisher() {
	for {
		select {
		case <-b.stop:
			return
		case m := <-b.out:
			// While disconnected, nats.go buffers (ReconnectBufSize) and
			// sends on reconnect; past that, Publish fails and we count.
			if err := b.nc.Publish(m.subj, m.data); err != nil {
				b.dropped.Add(1)
			} else {
				b.sent.Add(1)
			}
		}
	}
}

func (b *Bus) heartbeat() {
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	hb := []byte(b.node)
	for {
		b.nc.Publish(b.cfg.Prefix+".hb", hb)
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		for _, node := range b.alive.expired(time.Now()) {
			b.gone.Add(1)
			b.log.Warn("nats: node gone; freeing its places", "gone", node, "silent_for", b.cfg.NodeTimeout)
			if r := b.receiver(); r != nil {
				r.NodeGone(node)
			}
		}
	}
}

// Ready is nil while connected to NATS.
func (b *Bus) Ready() error {
	if !b.nc.IsConnected() {
		return errors.New("NATS not connected")
	}
	return nil
}

// Stats returns the counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Connected:  b.nc.IsConnected(),
		Nodes:      b.alive.count(),
		Sent:       b.sent.Load(),
		Received:   b.received.Load(),
		Dropped:    b.dropped.Load(),
		Reconnects: b.reconnects.Load(),
		NodesGone:  b.gone.Load(),
		Restored:   b.restored.Load(),
	}
}

// Close leaves the cluster without a word: heartbeats stop, and other nodes
// free this node's places after NodeTimeout unless its peers resume
// elsewhere first (as after a drain). Call it after the hub has shut down.
// Safe to call twice.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.wg.Wait()
		// What the hub queued before it stopped still goes out (nc.Close
		// flushes); a peer's last relays are not lost to a clean stop.
		for n := len(b.out); n > 0; n-- {
			m := <-b.out
			b.nc.Publish(m.subj, m.data)
		}
		b.nc.Close()
	})
	return nil
}
