package proxy

import (
	"testing"
	"time"

	"github.com/duet-call/duet/internal/bench/signalload"
	"github.com/duet-call/duet/internal/proxytest"
)

// BenchmarkRelayLatency is the cost of a proxy hop for signaling: one
// pair relaying 100 messages a second (offer-, answer- and
// candidate-sized, as in a call) for 5 s per run, straight to duet and
// through nginx and Caddy (plain HTTP in front, so the figure is the
// proxy's hop and not TLS). It reports the one-way relay latency's p50
// and p99 (docs/benchmarks.md):
//
//	go test -run '^$' -bench RelayLatency -benchtime 3x ./e2e/proxy
func BenchmarkRelayLatency(b *testing.B) {
	for _, target := range []string{"direct", "nginx", "caddy"} {
		b.Run(target, func(b *testing.B) {
			duet := startDuet(b, 100)
			addr := duet.Addr().String()
			switch target {
			case "nginx":
				addr = proxytest.StartNginx(b, proxytest.Options{Upstream: addr}).Addr
			case "caddy":
				addr = proxytest.StartCaddy(b, proxytest.Options{Upstream: addr}).Addr
			}
			var p50, p99 time.Duration
			n := 0
			for b.Loop() {
				res, err := signalload.Run(b.Context(), signalload.Config{
					URL: "ws://" + addr + "/ws", Peers: 2, Rate: 100, Duration: 5 * time.Second,
				})
				if err != nil {
					b.Fatal(err)
				}
				if res.Received == 0 {
					b.Fatalf("nothing relayed: %+v", res.Errors)
				}
				p50 += res.Latency.P50
				p99 += res.Latency.P99
				n++
			}
			b.ReportMetric(float64(p50.Microseconds())/float64(n), "p50-µs")
			b.ReportMetric(float64(p99.Microseconds())/float64(n), "p99-µs")
		})
	}
}
