package signal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/wsconn"
	"github.com/duet-call/duet/protocol"
)

// BenchmarkSlowReceivers is the server's memory with 1,000 clients that
// never read, each one's partner sending the largest descriptions (64 KiB
// of "<") as fast as the server lets one client send (a burst of 200 at
// the default limits): the peak growth of resident memory over the run,
// with send queues bounded by frames only (64, as before the byte bound)
// and by bytes as well (256 KiB). The receivers shrink their socket
// buffers to 4 KB, so what is measured is what the server itself holds
// rather than what the kernel buffers. Run with -benchtime=1x.
func BenchmarkSlowReceivers(b *testing.B) {
	const pairs = 1000
	for _, tc := range []struct {
		name  string
		bytes int
	}{
		{"frames-only", 64 * (protocol.MaxMessageSize + 14)},
		{"byte-bound", wsconn.DefaultSendQueueBytes},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				peak, took := slowReceivers(b, pairs, tc.bytes)
				b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
				b.ReportMetric(float64(peak)/pairs/1024, "KB/receiver")
				b.ReportMetric(took.Seconds(), "s/run")
			}
		})
	}
}

func slowReceivers(b *testing.B, pairs, queueBytes int) (int64, time.Duration) {
	h := NewHub(Config{SendQueueBytes: queueBytes, MaxConnsPerIP: 3 * pairs, JoinRate: 1e6, JoinBurst: 1e6}, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(h)
	defer func() { h.Shutdown(context.Background()); ts.Close() }()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	type duo struct{ sender, receiver *websocket.Conn }
	duos := make([]duo, pairs)
	join := func(c *websocket.Conn, room string) {
		m, _ := protocol.Encode(&protocol.Join{V: protocol.Version, Room: room})
		c.WriteMessage(websocket.TextMessage, m)
	}
	for i := range duos {
		r, _, err := smallBufDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		s, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		room := fmt.Sprint("slow-", i)
		join(r, room)
		join(s, room)
		duos[i] = duo{s, r}
		defer r.Close()
		defer s.Close()
	}
	waitUntil(b, func() bool { return h.Stats().Peers == 2*pairs })
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes(b)
	var peak int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, rssBytes(b)-base)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	msg := ltDescription(protocol.MaxMessageSize)
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range duos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := make(chan struct{})
			go func() {
				defer close(left)
				for {
					d.sender.SetReadDeadline(time.Now().Add(60 * time.Second))
					_, data, err := d.sender.ReadMessage()
					if err != nil || bytes.Contains(data, []byte(`"peer-left"`)) {
						return
					}
				}
			}()
			for range 200 { // the burst one client may send
				select {
				case <-left:
					return
				default:
				}
				if d.sender.WriteMessage(websocket.TextMessage, msg) != nil {
					return
				}
			}
			<-left
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-sampled
	return peak, took
}

func waitUntil(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out waiting for the pairs to join")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
