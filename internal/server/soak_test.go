package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// dialFrom opens a signaling WebSocket from a chosen loopback source
// address, so abusers count as other clients than the legitimate call.
func dialFrom(ctx context.Context, src, wsURL string) (*websocket.Conn, error) {
	d := websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
		HandshakeTimeout: 5 * time.Second,
	}
	c, _, err := d.DialContext(ctx, wsURL, nil)
	return c, err
}

// readUntil reads frames until one satisfies match, or the connection closes.
// It returns the close code (0 if none) and whether match was satisfied.
func readUntil(c *websocket.Conn, d time.Duration, match func(protocol.Message) bool) (closeCode int, matched bool) {
	c.SetReadDeadline(time.Now().Add(d))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, matched
			}
			return 0, matched
		}
		if m, err := protocol.DecodeServer(data); err == nil && match != nil && match(m) {
			matched = true
			if closeCode == 0 {
				return 0, true
			}
		}
	}
}

func isErr(code protocol.Code) func(protocol.Message) bool {
	return func(m protocol.Message) bool {
		e, ok := m.(*protocol.ErrorMessage)
		return ok && e.Code == code
	}
}

type abuse struct {
	name string
	n    int
	run  func(ctx context.Context, src, wsURL string) error // nil when refused as documented
}

// TestAbuseSoak runs waves of a bounded crowd of hostile clients (about
// 300 a wave, for about 25 s) against one server while a legitimate pair keeps relaying,
// then checks that the pair never missed a message, every abuser got its
// documented refusal, and goroutines and heap come back near the baseline.
func TestAbuseSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	sigCfg := signal.Config{
		IdleTimeout: 5 * time.Second, PingInterval: time.Second, ResumeGrace: 500 * time.Millisecond,
		MsgRate: 25, MsgBurst: 40, JoinRate: 1, JoinBurst: 5, MaxConnsPerIP: 10, MaxMessageSize: 8 << 10,
	}
	s := start(t, Config{Signal: sigCfg})
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws"
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// The legitimate call: two peers relaying candidates back and forth.
	a, err := dialFrom(ctx, "127.0.0.1", wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := dialFrom(ctx, "127.0.0.1", wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []*websocket.Conn{a, b} {
		c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: "legit-call"})
		if _, ok := readUntil(c, 5*time.Second, func(m protocol.Message) bool { _, ok := m.(*protocol.Joined); return ok }); !ok {
			t.Fatal("legit peer not joined")
		}
	}
	readUntil(a, 5*time.Second, func(m protocol.Message) bool { _, ok := m.(*protocol.PeerJoined); return ok })

	runtime.GC()
	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	// The legit call relays a candidate every 50 ms (under its rate limit)
	// for the whole soak; b checks each arrives, in order.
	stop := make(chan struct{})
	legitErr := make(chan error, 1)
	var relayed atomic.Int64
	go func() {
		legitErr <- legitCall(a, b, stop, &relayed)
	}()

	abuses := []abuse{
		{"malformed JSON", 60, abuseMalformed},
		{"oversized frame", 60, abuseOversized},
		{"message flood", 40, abuseFlood},
		{"room-id guessing", 40, abuseGuess},
		{"half-open after upgrade", 60, abuseSilent},
		{"half-open TCP", 40, abuseHalfOpenTCP},
	}
	var mu sync.Mutex
	failures := map[string][]string{}
	fail := func(name, msg string) {
		mu.Lock()
		failures[name] = append(failures[name], msg)
		mu.Unlock()
	}
	// Waves of the whole crowd for soakFor: what one wave leaks, the next
	// ones would pile up.
	const soakFor = 25 * time.Second
	began := time.Now()
	waves := 0
	for time.Since(began) < soakFor && ctx.Err() == nil {
		waves++
		var wg sync.WaitGroup
		ip := 0
		for _, ab := range abuses {
			for i := range ab.n {
				ip++
				// Up to 3 abusers per source address, well under the cap of 10.
				src := fmt.Sprintf("127.0.%d.%d", 1+ip/3/250, 1+(ip/3)%250)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := ab.run(ctx, src, wsURL); err != nil {
						fail(ab.name, fmt.Sprintf("wave %d #%d: %v", waves, i, err))
					}
				}()
			}
		}
		// One address opens more connections than the per-IP cap allows.
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := abuseHoard(ctx, "127.0.9.9", wsURL, sigCfg.MaxConnsPerIP); err != nil {
				fail("connection hoarding", err.Error())
			}
		}()
		wg.Wait()
	}
	t.Logf("%d waves of %d abusers in %v", waves, abusers(abuses)+1, time.Since(began).Round(time.Second))
	close(stop)
	if err := <-legitErr; err != nil {
		t.Errorf("legitimate call disturbed: %v", err)
	}
	if relayed.Load() < 50 {
		t.Errorf("legitimate call relayed only %d messages", relayed.Load())
	}
	for name, f := range failures {
		t.Errorf("%s: %d abusers not refused as documented, e.g. %s", name, len(f), f[0])
	}

	// Everything the abusers opened must be gone: goroutines back to the
	// baseline (small slack for the runtime), heap near it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		g := runtime.NumGoroutine()
		runtime.ReadMemStats(&ms)
		if g <= baseG+3 && ms.HeapInuse <= baseHeap+16<<20 {
			t.Logf("after soak: %d goroutines (baseline %d), heap %d KiB (baseline %d KiB), legit relays %d",
				g, baseG, ms.HeapInuse>>10, baseHeap>>10, relayed.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not return to baseline: %d goroutines (baseline %d), heap %d KiB (baseline %d KiB)",
				g, baseG, ms.HeapInuse>>10, baseHeap>>10)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := s.Hub().Stats(); st.Sessions != 2 || st.Peers != 2 {
		t.Fatalf("hub after soak: %+v, want only the legit pair", st)
	}
}

func abusers(list []abuse) (n int) {
	for _, a := range list {
		n += a.n
	}
	return n
}
