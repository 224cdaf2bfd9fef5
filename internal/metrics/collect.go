package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/duet-call/duet/internal/bus/natsbus"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/turnserver"
)

// WatchHub exports the hub's room counts, read once per scrape.
func (m *Metrics) WatchHub(stats func() signal.Stats) {
	m.Register(&scrapeCollector{
		descs: []*prometheus.Desc{
			prometheus.NewDesc("duet_signal_rooms", "Rooms with at least one place taken.", nil, nil),
			prometheus.NewDesc("duet_signal_peers", "Places taken in rooms, reconnecting peers included.", nil, nil),
			prometheus.NewDesc("duet_signal_reconnecting_peers", "Places held for a peer whose connection dropped, waiting for its resume.", nil, nil),
		},
		collect: func(ch chan<- prometheus.Metric, d []*prometheus.Desc) {
			st := stats()
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.GaugeValue, float64(st.Rooms))
			ch <- prometheus.MustNewConstMetric(d[1], prometheus.GaugeValue, float64(st.Peers))
			ch <- prometheus.MustNewConstMetric(d[2], prometheus.GaugeValue, float64(st.Ghosts))
		},
	})
}

// WatchTURN exports the embedded TURN server's counters, read per scrape.
func (m *Metrics) WatchTURN(stats func() turnserver.Stats) {
	m.Register(&scrapeCollector{
		descs: []*prometheus.Desc{
			prometheus.NewDesc("duet_turn_allocations", "Live TURN allocations.", nil, nil),
			prometheus.NewDesc("duet_turn_allocations_created_total", "TURN allocations created since start.", nil, nil),
			prometheus.NewDesc("duet_turn_refusals_total", "TURN requests (or, for bandwidth, datagrams) refused, by reason.", []string{"reason"}, nil),
			prometheus.NewDesc("duet_turn_permissions", "Live TURN permissions (allocation, peer IP), those installed by ChannelBind included.", nil, nil),
			prometheus.NewDesc("duet_turn_permissions_created_total", "TURN permissions installed since start by CreatePermission or ChannelBind, one per peer IP new to its allocation; refreshes of a live permission are not counted.", nil, nil),
			prometheus.NewDesc("duet_turn_relayed_bytes_total", "Payload bytes relayed through TURN allocations since start, by direction: to_peer (Send indications and ChannelData from clients) or to_client (datagrams from peers); headers, and datagrams the relay dropped (bandwidth cap, self-port rule), excluded.", []string{"direction"}, nil),
		},
		collect: func(ch chan<- prometheus.Metric, d []*prometheus.Desc) {
			st := stats()
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.GaugeValue, float64(st.Allocations))
			ch <- prometheus.MustNewConstMetric(d[1], prometheus.CounterValue, float64(st.AllocationsCreated))
			for reason, n := range st.Refused {
				ch <- prometheus.MustNewConstMetric(d[2], prometheus.CounterValue, float64(n), reason)
			}
			ch <- prometheus.MustNewConstMetric(d[3], prometheus.GaugeValue, float64(st.Permissions))
			ch <- prometheus.MustNewConstMetric(d[4], prometheus.CounterValue, float64(st.PermissionsCreated))
			ch <- prometheus.MustNewConstMetric(d[5], prometheus.CounterValue, float64(st.RelayedBytesToPeer), "to_peer")
			ch <- prometheus.MustNewConstMetric(d[5], prometheus.CounterValue, float64(st.RelayedBytesToClient), "to_client")
		},
	})
}

// scrapeCollector reads a snapshot once per scrape and emits several series
// from it, so a hub lock is taken once, not once per series.
type scrapeCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric, []*prometheus.Desc)
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch, c.descs) }

// WatchNATS exports the cluster bus's state and counters, read per scrape.
func (m *Metrics) WatchNATS(stats func() natsbus.Stats) {
	m.Register(&scrapeCollector{
		descs: []*prometheus.Desc{
			prometheus.NewDesc("duet_nats_connected", "1 while this node is connected to NATS.", nil, nil),
			prometheus.NewDesc("duet_nats_nodes", "Other duet nodes heard from recently.", nil, nil),
			prometheus.NewDesc("duet_nats_envelopes_sent_total", "Messages published to peers on other nodes (relays, joins, leaves).", nil, nil),
			prometheus.NewDesc("duet_nats_envelopes_received_total", "Messages from other nodes delivered to this node's peers.", nil, nil),
			prometheus.NewDesc("duet_nats_envelopes_dropped_total", "Messages lost between nodes: send queue full, publish failed, or malformed.", nil, nil),
			prometheus.NewDesc("duet_nats_reconnects_total", "Reconnections to NATS after an outage.", nil, nil),
			prometheus.NewDesc("duet_nats_nodes_gone_total", "Nodes declared gone after missing heartbeats; their places were freed.", nil, nil),
			prometheus.NewDesc("duet_nats_places_restored_total", "Places written back into a room directory that NATS lost with its store.", nil, nil),
		},
		collect: func(ch chan<- prometheus.Metric, d []*prometheus.Desc) {
			st := stats()
			connected := 0.0
			if st.Connected {
				connected = 1
			}
			ch <- prometheus.MustNewConstMetric(d[0], prometheus.GaugeValue, connected)
			ch <- prometheus.MustNewConstMetric(d[1], prometheus.GaugeValue, float64(st.Nodes))
			ch <- prometheus.MustNewConstMetric(d[2], prometheus.CounterValue, float64(st.Sent))
			ch <- prometheus.MustNewConstMetric(d[3], prometheus.CounterValue, float64(st.Received))
			ch <- prometheus.MustNewConstMetric(d[4], prometheus.CounterValue, float64(st.Dropped))
			ch <- prometheus.MustNewConstMetric(d[5], prometheus.CounterValue, float64(st.Reconnects))
			ch <- prometheus.MustNewConstMetric(d[6], prometheus.CounterValue, float64(st.NodesGone))
			ch <- prometheus.MustNewConstMetric(d[7], prometheus.CounterValue, float64(st.Restored))
		},
	})
}
