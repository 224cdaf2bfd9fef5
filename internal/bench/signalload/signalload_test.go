package signalload

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/server"
)

// TestSmallRun drives a real in-process server with a small load and checks
// that what was sent arrived, in a plausible time, with no refusals.
func TestSmallRun(t *testing.T) {
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/ws"

	var snaps []Snapshot
	res, err := Run(t.Context(), Config{URL: url, Peers: 20, Rate: 200, Duration: 1500 * time.Millisecond,
		Progress: func(s Snapshot) { snaps = append(snaps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 20 || len(res.Errors) != 0 {
		t.Fatalf("connected %d, errors %v", res.Connected, res.Errors)
	}
	if res.Sent < 200 || res.Received != res.Sent {
		t.Fatalf("sent %d, received %d", res.Sent, res.Received)
	}
	if res.Latency.N != int(res.Received) || res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
		t.Fatalf("latency %+v", res.Latency)
	}
	if len(snaps) == 0 {
		t.Fatal("no progress reported")
	}
	rss, err := ServerRSS(t.Context(), srv.URL()+"/metrics")
	if err != nil || rss <= 0 {
		t.Fatalf("server RSS %d: %v", rss, err)
	}
}

func TestRefusalsAreCounted(t *testing.T) {
	srv, _ := server.New(server.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/ws"
	// A first run holds two full rooms; a second with the same room names
	// finds them full and must report that by code.
	held := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Config{URL: url, Peers: 4, Room: "same", Duration: 3 * time.Second})
		held <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Hub().Stats().Peers < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res, err := Run(t.Context(), Config{URL: url, Peers: 4, Room: "same"})
	if err == nil || res == nil || res.Errors["room-full"] != 4 {
		t.Fatalf("second run: %+v, %v; want 4 room-full refusals and an error", res, err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}
