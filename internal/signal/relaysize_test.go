package signal

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/wsconn"
	"github.com/duet-call/duet/protocol"
)

// ltDescription is a description whose frame is exactly size bytes, its
// SDP all "<" (which HTML escaping would turn into six bytes each).
func ltDescription(size int) []byte {
	head := `{"type":"description","description":{"type":"offer","sdp":"`
	tail := `"}}`
	return []byte(head + strings.Repeat("<", size-len(head)-len(tail)) + tail)
}

// A description of the largest size reaches the other peer no larger
// than it was sent (issue 14: 64,069 bytes arrived as 384,069).
func TestRelayKeepsItsSize(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := pair(t, url, "r")
	sent := ltDescription(protocol.MaxMessageSize)
	if err := a.conn.WriteMessage(websocket.TextMessage, sent); err != nil {
		t.Fatal(err)
	}
	b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, got, err := b.conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > protocol.MaxMessageSize || !bytes.Equal(got, sent) {
		t.Fatalf("a %d-byte description arrived as %d bytes", len(sent), len(got))
	}
}

// rssBytes is this process's resident set, from /proc.
func rssBytes(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// 25 clients that never read, each sent the largest descriptions as fast
// as their partners may send, make the server's resident memory grow by
// at most their send queues' bound (25 × 256 KiB) plus the garbage of the
// relays themselves (32 MiB allowed, three times that under -race). Before the byte bound and without
// HTML escaping they held 64 frames of 384 KB each: 702 MB in the issue.
func TestSlowReceiversHoldBoundedMemory(t *testing.T) {
	const pairs = 25
	h, url := startHub(t, Config{MsgRate: 1e5, MsgBurst: 1e5, JoinRate: 1e3, JoinBurst: 1e3})
	type duo struct{ sender, receiver *wsClient }
	duos := make([]duo, pairs)
	for i := range duos {
		s, r := slowPair(t, url, fmt.Sprint("slow-", i))
		duos[i] = duo{s, r}
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes(t)
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the peak, sampled: queued frames stay until their client is cut
		defer close(sampled)
		for {
			peak = max(peak, rssBytes(t))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	msg := ltDescription(protocol.MaxMessageSize)
	var wg sync.WaitGroup
	var cut atomic.Int32 // senders told their partner was cut off
	for _, d := range duos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := make(chan struct{})
			go func() { // the sender hears its partner cut off (or its socket closed at cleanup)
				defer close(left)
				d.sender.conn.SetReadDeadline(time.Time{}) // none: expect's is long past
				for {
					_, data, err := d.sender.conn.ReadMessage()
					if err != nil {
						return
					}
					if bytes.Contains(data, []byte(`"peer-left"`)) {
						cut.Add(1)
						return
					}
				}
			}()
			for range 2000 { // bounded: 125 MB, far past any bound
				select {
				case <-left:
					return
				default:
				}
				if d.sender.conn.WriteMessage(websocket.TextMessage, msg) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	slack := int64(32 << 20) // the relays' own garbage, before the GC takes it
	if raceEnabled {
		slack *= 3 // the race detector's shadow memory and its slower GC
	}
	bound := int64(pairs*wsconn.DefaultSendQueueBytes) + slack
	t.Logf("resident memory %d MB, peak %d MB while relaying to %d clients that do not read", base>>20, peak>>20, pairs)
	if peak-base > bound {
		t.Fatalf("resident memory grew by %d MB; the bound is %d MB", (peak-base)>>20, bound>>20)
	}
	// Each sender stopped when told its partner was cut off (peer-left),
	// or after its bounded number of writes, which no queue bound holds.
	if n := cut.Load(); n != pairs {
		t.Fatalf("%d of %d slow receivers were cut off (%+v)", n, pairs, h.Stats())
	}
}

// A session keeps a short copy of what it needs of its request, not the
// request's Host header (up to MaxHeaderBytes, 1 MB): 90 connections with
// 1 MB Host headers held 149 MB in the issue.
func TestHugeHostHeadersAreNotKept(t *testing.T) {
	const conns = 90
	// These connections never join: the join timeout must not close the
	// first ones while the last are still sending their headers.
	h, url := startHub(t, Config{JoinRate: 1e3, JoinBurst: 1e3, JoinTimeout: time.Minute})
	addr := strings.TrimPrefix(url, "ws://")
	host := strings.Repeat("a", 1000<<10)
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := nc.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade with a 1 MB Host: %s", resp.Status)
		}
	}
	waitFor(t, "the sessions", func() bool { return h.Stats().Sessions == conns })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d connections with 1 MB Host headers: heap %+d KB", conns, grew>>10)
	if grew > 10<<20 {
		t.Fatalf("%d connections hold %d MB of heap; each keeps its Host header", conns, grew>>20)
	}
}

// The slow-client line is logged at most once per slowLogEvery; what
// was not logged is counted in the next line.
func TestSlowClientLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l slowLog
	t0 := time.Unix(1000, 0)
	for _, d := range []time.Duration{0, time.Second, 2 * time.Second, 9 * time.Second, 10 * time.Second, 11 * time.Second, 25 * time.Second} {
		l.disconnected(log, "192.0.2.1:1", t0.Add(d))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"unlogged_since_last=0", "unlogged_since_last=3", "unlogged_since_last=1"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines logged, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "disconnecting slow client") || !strings.Contains(lines[i], w) {
			t.Fatalf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}
