// Package metrics exports what duet does in the Prometheus format, under
// duet_* names: the signaling hub (through signal.Observer), the TURN
// server's counters, and call outcomes that clients report.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duet-call/duet/protocol"
)

// Metrics owns duet's collectors on its own registry (not the global one,
// so tests and several servers in one process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	connections prometheus.Gauge
	joins       *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	leaves      *prometheus.CounterVec
	relayed     prometheus.Counter
	dropped     prometheus.Counter
	overflows   prometheus.Counter
	paired      prometheus.Histogram

	relayTime    prometheus.Histogram
	callSetup    *prometheus.HistogramVec
	callOutcomes *prometheus.CounterVec
}

// New makes the collectors and registers them with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "duet_signal_connections", Help: "Open signaling WebSocket connections."})
	m.joins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "duet_signal_joins_total", Help: "Peers that took a place in a room, by whether a resume token gave back an earlier place."}, []string{"resumed"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "duet_signal_refusals_total", Help: "Requests and connections refused, by protocol error code."}, []string{"code"})
	m.leaves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "duet_signal_leaves_total", Help: "Places freed, by reason (left, disconnected)."}, []string{"reason"})
	m.relayed = prometheus.NewCounter(prometheus.CounterOpts{Name: "duet_signal_messages_relayed_total", Help: "Descriptions and candidates queued for the other peer."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "duet_signal_messages_dropped_total", Help: "Relays dropped because the other peer was absent or reconnecting."})
	m.overflows = prometheus.NewCounter(prometheus.CounterOpts{Name: "duet_signal_queue_overflows_total", Help: "Clients cut off because their send queue was full (slow consumers)."})
	// 5 µs to 164 ms: the server's own share of a relay is tens of
	// microseconds, so the default buckets (5 ms and up) would say nothing.
	m.relayTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "duet_signal_relay_seconds", Help: "Time a relay spends inside the server: from the client's frame reaching its session to the copy being written to the partner's socket (or queued).",
		Buckets: prometheus.ExponentialBuckets(5e-6, 2, 16)})
	m.paired = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "duet_signal_join_to_paired_seconds", Help: "Time from the first peer joining a room to the second joining.",
		Buckets: prometheus.ExponentialBuckets(0.05, 4, 10)})
	m.callSetup = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "duet_call_setup_seconds", Help: "Client-reported time from both peers being in the room to the peer connection being connected, by path (direct, relay).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30}}, []string{"path"})
	m.callOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "duet_call_outcomes_total", Help: "Client-reported call outcomes: connected (direct or relay) or failed (ICE failure)."}, []string{"outcome", "path"})
	for _, c := range []prometheus.Collector{m.connections, m.joins, m.refusals, m.leaves, m.relayed, m.relayTime, m.dropped, m.overflows, m.paired, m.callSetup, m.callOutcomes} {
		f(c)
	}
	return m
}

// Register adds another collector, such as the hub's or TURN's gauges.
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// The signal.Observer methods. Each is one atomic add.

func (m *Metrics) Connected()                 { m.connections.Inc() }
func (m *Metrics) Disconnected()              { m.connections.Dec() }
func (m *Metrics) Refused(code protocol.Code) { m.refusals.WithLabelValues(string(code)).Inc() }
func (m *Metrics) Paired(wait time.Duration)  { m.paired.Observe(wait.Seconds()) }
func (m *Metrics) Left(reason string)         { m.leaves.WithLabelValues(reason).Inc() }
func (m *Metrics) Relayed()                   { m.relayed.Inc() }
func (m *Metrics) RelayTime(d time.Duration)  { m.relayTime.Observe(d.Seconds()) }
func (m *Metrics) Dropped()                   { m.dropped.Inc() }
func (m *Metrics) Overflow()                  { m.overflows.Inc() }
func (m *Metrics) Joined(resumed bool) {
	if resumed {
		m.joins.WithLabelValues("true").Inc()
	} else {
		m.joins.WithLabelValues("false").Inc()
	}
}

// GaugeFunc is a shorthand for a gauge read at scrape time.
func GaugeFunc(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}
