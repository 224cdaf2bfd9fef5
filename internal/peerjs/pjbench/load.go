// Package pjbench is the PeerJS signaling load generator: the same load
// against duet's PeerJS endpoint and the reference peerjs-server, for
// docs/benchmarks.md. Each load is bounded in connections and in time.
package pjbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Target is a PeerJS server: ws://Host/Path/peerjs.
type Target struct {
	Name string
	Host string // host:port
	Path string // mount path, such as /peerjs
	Pid  int    // server process, for RSS and CPU
}

var dialer = websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   4096,
	WriteBufferSize:  4096,
}

// dial registers id and waits for OPEN.
func dial(ctx context.Context, tg Target, id string) (*websocket.Conn, error) {
	q := url.Values{"key": {"peerjs"}, "id": {id}, "token": {"tok" + id}}
	u := "ws://" + tg.Host + tg.Path + "/peerjs?" + q.Encode()
	ws, _, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", id, err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil || !bytes.Contains(b, []byte(`"OPEN"`)) {
		ws.Close()
		return nil, fmt.Errorf("open %s: %q %v", id, b, err)
	}
	ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// frame builds a relay of about size bytes whose payload starts with the
// send time, so the receiver can take the one-way latency without parsing.
func frame(typ, dst string, size int, sent time.Duration) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":%q,"dst":%q,"payload":{"t":%d,"connectionId":"dc_bench","type":"data","pad":"`, typ, dst, int64(sent))
	for b.Len() < size-3 {
		b.WriteByte('x')
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}

var tKey = []byte(`"t":`)

// sentAt reads the send time back out of a relayed frame.
func sentAt(b []byte) (time.Duration, bool) {
	i := bytes.Index(b, tKey)
	if i < 0 {
		return 0, false
	}
	j := i + len(tKey)
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	n, err := strconv.ParseInt(string(b[j:k]), 10, 64)
	return time.Duration(n), err == nil
}

// Latency is a set of one-way latency samples.
type Latency []time.Duration

// Quantile returns the q-quantile (0..1).
func (l Latency) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// Unloaded sends n offer-sized messages one at a time from one peer to
// another and returns their one-way latencies.
func Unloaded(ctx context.Context, tg Target, n int) (Latency, error) {
	epoch := time.Now()
	a, err := dial(ctx, tg, "lat-a")
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, err := dial(ctx, tg, "lat-b")
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var lat Latency
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if err := a.WriteMessage(websocket.TextMessage, frame("OFFER", "lat-b", 3000, time.Since(epoch))); err != nil {
			return nil, fmt.Errorf("unloaded write: %w", err)
		}
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, m, err := b.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("unloaded read: %w", err)
		}
		if t, ok := sentAt(m); ok {
			lat = append(lat, time.Since(epoch)-t)
		}
	}
	return lat, nil
}

// Throughput is the result of a ping-pong run.
type Throughput struct {
	Messages int           // relayed messages received in the window
	Window   time.Duration // measured time
	Latency  Latency       // one-way, sampled
	CPU      float64       // server CPU in the window, in cores
}

// PingPong connects pairs and has each pair exchange OFFER/ANSWER (3 KB)
// and CANDIDATE (200 B) back and forth, one message in flight per pair, for
// d after a warm-up; it counts what arrived in the window.
func PingPong(ctx context.Context, tg Target, pairs int, warmup, d time.Duration) (Throughput, error) {
	epoch := time.Now()
	conns, err := dialMany(ctx, tg, "pp", pairs*2, 50)
	if err != nil {
		return Throughput{}, err
	}
	defer closeAll(conns)
	var (
		counting atomic.Bool
		count    atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		lat      Latency
		wg       sync.WaitGroup
	)
	sizes := []struct {
		typ  string
		size int
	}{{"OFFER", 3000}, {"ANSWER", 3000}, {"CANDIDATE", 200}, {"CANDIDATE", 200}}
	// side runs one end of a pair: the opener sends first, then each side
	// answers what it receives with the next message of the cycle.
	side := func(me *websocket.Conn, peer string, opener bool) {
		defer wg.Done()
		var mine Latency
		step := 0
		send := func() bool {
			s := sizes[step%len(sizes)]
			step++
			return me.WriteMessage(websocket.TextMessage, frame(s.typ, peer, s.size, time.Since(epoch))) == nil
		}
		if opener && !send() {
			return
		}
		for !stop.Load() {
			me.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, m, err := me.ReadMessage()
			if err != nil {
				break
			}
			step++
			if counting.Load() {
				count.Add(1)
				if t, ok := sentAt(m); ok && len(mine) < 20000 {
					mine = append(mine, time.Since(epoch)-t)
				}
			}
			if !send() {
				break
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	}
	for i := 0; i < pairs; i++ {
		wg.Add(2)
		go side(conns[2*i], fmt.Sprintf("pp-%d", 2*i+1), true)
		go side(conns[2*i+1], fmt.Sprintf("pp-%d", 2*i), false)
	}
	sleepCtx(ctx, warmup)
	cpu0 := cpuTime(tg.Pid)
	start := time.Now()
	counting.Store(true)
	sleepCtx(ctx, d)
	counting.Store(false)
	window := time.Since(start)
	cpu1 := cpuTime(tg.Pid)
	stop.Store(true)
	closeAll(conns) // unblocks readers
	wg.Wait()
	if ctx.Err() != nil {
		return Throughput{}, ctx.Err()
	}
	return Throughput{Messages: int(count.Load()), Window: window, Latency: lat,
		CPU: (cpu1 - cpu0).Seconds() / window.Seconds()}, nil
}

// IdleRamp opens n idle peers (each registered, reading only to answer
// pings) and returns the server's RSS growth per peer, measured after a
// settle time.
func IdleRamp(ctx context.Context, tg Target, n int, settle time.Duration) (perConn float64, rssBefore, rssAfter int64, err error) {
	sleepCtx(ctx, settle)
	rssBefore = rss(tg.Pid)
	conns, err := dialMany(ctx, tg, "idle", n, 100)
	if err != nil {
		return 0, 0, 0, err
	}
	defer closeAll(conns)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() { // answers pings (gorilla does in ReadMessage); ends on close
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	sleepCtx(ctx, settle)
	rssAfter = rss(tg.Pid)
	closeAll(conns)
	wg.Wait()
	if ctx.Err() != nil {
		return 0, 0, 0, ctx.Err()
	}
	return float64(rssAfter-rssBefore) / float64(n), rssBefore, rssAfter, nil
}

// dialMany opens n peers named prefix-0… with at most par dials in flight.
func dialMany(ctx context.Context, tg Target, prefix string, n, par int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = dial(ctx, tg, fmt.Sprintf("%s-%d", prefix, i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
