// Package signalload is the load generator behind `duet bench signal`: it
// ramps peers in pairs into rooms on a duet server, has each pair exchange
// offer-, answer- and candidate-sized messages at a set total rate, and
// measures relay latency, throughput and the refusals it meets.
package signalload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// Config says how much load to make. Everything is bounded: Peers
// connections, Duration of sending, and a deadline for the ramp.
type Config struct {
	URL string // ws://host:port/ws
	// URLs, when set, replace URL: peer i dials URLs[i%len(URLs)], so with
	// two nodes of a cluster the two peers of each pair are on different nodes.
	URLs     []string
	Peers    int           // even; Peers/2 rooms
	Rate     float64       // relayed messages per second, all pairs together; 0 means idle
	Duration time.Duration // how long to send at Rate after the ramp
	Ramp     int           // connections opened at once during the ramp
	Room     string        // room id prefix; a random one when empty
	// Progress, when set, is called about once a second with a snapshot.
	Progress func(Snapshot)
	// Sources, when set, are local addresses to dial from, round-robin, so
	// that a load from one machine meets the per-IP limits as many real
	// clients would. On loopback any 127.x.y.z works.
	Sources []net.IP
	// OnRamped, when set, is called once every peer is connected and
	// joined, before any load: the moment to read idle memory.
	OnRamped func()
}

// Snapshot is the state of a run at one moment.
type Snapshot struct {
	Phase     string // "ramp", "load", "done"
	Connected int
	Sent      int64
	Received  int64
	Errors    int64
}

// Result is what a run measured.
type Result struct {
	Peers, Connected int
	Ramp             time.Duration
	Sent, Received   int64
	Duration         time.Duration // of the load phase
	MsgsPerSec       float64       // received per second in the load phase
	Latency          Percentiles   // one-way relay latency
	Errors           map[string]int64
}

// Percentiles of a latency sample.
type Percentiles struct {
	P50, P90, P99, Max time.Duration
	N                  int
}

// message sizes of a real call: an offer or answer of about 3 KB, and a
// candidate line of about 200 B. Four candidates go with each description.
const (
	descSize = 3000
	candSize = 200
)

type peer struct {
	conn *websocket.Conn
	wmu  sync.Mutex // gorilla allows one writer at a time
}

// Run makes the load and blocks until it is done or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Peers < 2 || cfg.Peers%2 != 0 {
		return nil, errors.New("peers must be an even number of at least 2")
	}
	if cfg.Ramp <= 0 {
		cfg.Ramp = 50
	}
	if cfg.Room == "" {
		cfg.Room = fmt.Sprintf("bench%x", time.Now().UnixNano()&0xffffffff)
	}
	r := &run{cfg: cfg, errs: map[string]int64{}, lat: newHist()}
	return r.do(ctx)
}

type run struct {
	cfg   Config
	peers []*peer

	connected          atomic.Int64
	sent, received     atomic.Int64
	errCount           atomic.Int64
	errMu              sync.Mutex
	errs               map[string]int64
	lat                *hist
	phase              atomic.Value
	readers            sync.WaitGroup
	loadStart, loadEnd atomic.Int64
}

func (r *run) fail(code string) {
	r.errCount.Add(1)
	r.errMu.Lock()
	r.errs[code]++
	r.errMu.Unlock()
}

func (r *run) snapshot() Snapshot {
	ph, _ := r.phase.Load().(string)
	return Snapshot{Phase: ph, Connected: int(r.connected.Load()), Sent: r.sent.Load(), Received: r.received.Load(), Errors: r.errCount.Load()}
}

func (r *run) do(ctx context.Context) (*Result, error) {
	r.phase.Store("ramp")
	stopProgress := r.progress()
	defer stopProgress()
	defer r.closeAll()

	start := time.Now()
	if err := r.ramp(ctx); err != nil {
		return nil, err
	}
	res := &Result{Peers: r.cfg.Peers, Connected: int(r.connected.Load()), Ramp: time.Since(start)}
	if res.Connected == 0 {
		res.Errors = r.errors()
		return res, errors.New("no peer could connect and join")
	}

	if r.cfg.OnRamped != nil {
		r.cfg.OnRamped()
	}
	r.phase.Store("load")
	loadStart := time.Now()
	if r.cfg.Rate > 0 && r.cfg.Duration > 0 {
		r.load(ctx)
		// Let messages in flight arrive, for a moment at most.
		deadline := time.Now().Add(2 * time.Second)
		for r.received.Load() < r.sent.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	} else if r.cfg.Duration > 0 {
		select { // idle: just hold the connections
		case <-ctx.Done():
		case <-time.After(r.cfg.Duration):
		}
	}
	res.Duration = time.Since(loadStart)
	r.phase.Store("done")
	res.Sent, res.Received = r.sent.Load(), r.received.Load()
	if res.Duration > 0 {
		res.MsgsPerSec = float64(res.Received) / res.Duration.Seconds()
	}
	res.Latency = r.lat.percentiles()
	res.Errors = r.errors()
	return res, nil
}

func (r *run) errors() map[string]int64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	out := make(map[string]int64, len(r.errs))
	for k, v := range r.errs {
		out[k] = v
	}
	return out
}

// ramp connects every peer and joins pairs into rooms, Ramp at a time.
func (r *run) ramp(ctx context.Context) error {
	r.peers = make([]*peer, r.cfg.Peers)
	sem := make(chan struct{}, r.cfg.Ramp)
	var wg sync.WaitGroup
	for i := range r.peers {
		dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
		if n := len(r.cfg.Sources); n > 0 {
			nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: r.cfg.Sources[i%n]}}
			dialer.NetDialContext = nd.DialContext
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			url := r.cfg.URL
			if n := len(r.cfg.URLs); n > 0 {
				url = r.cfg.URLs[i%n]
			}
			c, resp, err := dialer.DialContext(ctx, url, http.Header{})
			if err != nil {
				code := "dial"
				if resp != nil {
					code = fmt.Sprintf("http-%d", resp.StatusCode)
				}
				r.fail(code)
				return
			}
			p := &peer{conn: c}
			room := fmt.Sprintf("%s-%d", r.cfg.Room, i/2)
			if err := r.join(p, room); err != nil {
				r.fail(err.Error())
				c.Close()
				return
			}
			r.peers[i] = p
			r.connected.Add(1)
			r.readers.Add(1)
			go r.read(p)
		}()
	}
	wg.Wait()
	return nil
}

func (r *run) join(p *peer, room string) error {
	b, _ := protocol.Encode(&protocol.Join{V: protocol.Version, Room: room})
	p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return errors.New("write")
	}
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := p.conn.ReadMessage()
	if err != nil {
		return errors.New("read")
	}
	p.conn.SetReadDeadline(time.Time{})
	switch m := mustDecode(data).(type) {
	case *protocol.Joined:
		return nil
	case *protocol.ErrorMessage:
		return errors.New(string(m.Code))
	}
	return errors.New("unexpected-reply")
}

func mustDecode(b []byte) protocol.Message {
	m, err := protocol.DecodeServer(b)
	if err != nil {
		return nil
	}
	return m
}

// read counts relayed messages and their latency: each carries its send
// time in its first 8 bytes after a fixed prefix (see stamp).
func (r *run) read(p *peer) {
	defer r.readers.Done()
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		switch m := mustDecode(data).(type) {
		case *protocol.Description:
			r.arrived(m.Description.SDP, now)
		case *protocol.Candidate:
			r.arrived(m.Candidate.Candidate, now)
		case *protocol.ErrorMessage:
			r.fail(string(m.Code))
		}
	}
}

func (r *run) arrived(payload string, now int64) {
	if ts, ok := unstamp(payload); ok {
		r.lat.add(time.Duration(now - ts))
		r.received.Add(1)
	}
}

func (r *run) closeAll() {
	for _, p := range r.peers {
		if p != nil {
			p.wmu.Lock()
			p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			p.wmu.Unlock()
			p.conn.Close()
		}
	}
	r.readers.Wait()
}

// stamp makes a payload of size bytes that starts with the send time as
// 16 hex digits, which the receiver reads back for the latency.
func stamp(size int) string {
	var sb strings.Builder
	sb.Grow(size)
	fmt.Fprintf(&sb, "bench:%016x", time.Now().UnixNano())
	for sb.Len() < size {
		sb.WriteByte('x')
	}
	return sb.String()
}

func unstamp(s string) (int64, bool) {
	if len(s) < 22 || s[:6] != "bench:" {
		return 0, false
	}
	var v uint64
	for i := 6; i < 22; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return int64(v), true
}

// LoopbackSources returns n addresses in 127.1.0.0/16 to use as Sources.
func LoopbackSources(n int) []net.IP {
	out := make([]net.IP, n)
	for i := range out {
		out[i] = net.IPv4(127, 1, byte(1+i/250), byte(1+i%250))
	}
	return out
}
