package signalload

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// load sends at cfg.Rate for cfg.Duration. A ticker every millisecond
// releases the messages due (a coarser tick sends bursts, and the latency
// then measures how long a burst takes to drain rather than the relay); each goes from one peer of a pair to the other,
// cycling through the pairs and through a call's mix: offer, four
// candidates, answer, four candidates.
func (r *run) load(ctx context.Context) {
	var pairs [][2]*peer
	for i := 0; i+1 < len(r.peers); i += 2 {
		if r.peers[i] != nil && r.peers[i+1] != nil {
			pairs = append(pairs, [2]*peer{r.peers[i], r.peers[i+1]})
		}
	}
	if len(pairs) == 0 {
		return
	}
	const tick = time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	end := time.Now().Add(r.cfg.Duration)
	start := time.Now()
	var due float64
	var n int64
	mid := "0"
	// One sender goroutine per pair would be unbounded work for the
	// scheduler; a small pool writes instead, each pair by one worker only
	// so its messages keep their order.
	workers := min(8, len(pairs))
	queues := make([]chan func(), workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan func(), 1024)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range queues[i] {
				f()
			}
		}()
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	}()
	for now := range t.C {
		if now.After(end) || ctx.Err() != nil {
			return
		}
		due = r.cfg.Rate * now.Sub(start).Seconds()
		for ; float64(n) < due; n++ {
			pi := int(n) % len(pairs)
			step := int(n/int64(len(pairs))) % 10
			from := pairs[pi][0]
			if step >= 5 {
				from = pairs[pi][1]
			}
			var msg protocol.Message
			switch step {
			case 0:
				msg = &protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: stamp(descSize)}}
			case 5:
				msg = &protocol.Description{Description: protocol.SessionDescription{Type: "answer", SDP: stamp(descSize)}}
			default:
				msg = &protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: stamp(candSize), SDPMid: &mid}}
			}
			select {
			case queues[pi%workers] <- func() { r.send(from, msg) }:
			default:
				r.fail("generator-behind") // the generator cannot keep up
			}
		}
	}
}

func (r *run) send(p *peer, m protocol.Message) {
	b, err := protocol.Encode(m)
	if err != nil {
		return
	}
	p.wmu.Lock()
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err = p.conn.WriteMessage(websocket.TextMessage, b)
	p.wmu.Unlock()
	if err != nil {
		r.fail("write")
		return
	}
	r.sent.Add(1)
}

// hist keeps every latency sample; a bounded run has at most a few million.
type hist struct {
	mu sync.Mutex
	v  []time.Duration
}

func newHist() *hist { return &hist{} }

func (h *hist) add(d time.Duration) {
	h.mu.Lock()
	if len(h.v) < 20_000_000 {
		h.v = append(h.v, d)
	}
	h.mu.Unlock()
}

func (h *hist) percentiles() Percentiles {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.v) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), h.v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1], N: len(s)}
}

// progress calls cfg.Progress once a second until the returned stop.
func (r *run) progress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.cfg.Progress(r.snapshot())
			}
		}
	}()
	return func() { close(done); <-finished }
}
