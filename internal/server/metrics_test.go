package server

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/protocol"
)

// scrape reads /metrics and returns each series' value keyed by its name
// and labels as Prometheus prints them, e.g. `duet_x_total{code="room-full"}`.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func wsDial(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMetricsAfterACall(t *testing.T) {
	s := start(t, Config{Metrics: metrics.New()})
	join := func(c *websocket.Conn) protocol.Message {
		c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: "m"})
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, _ := protocol.DecodeServer(data)
		return m
	}
	a, b, c := wsDial(t, s), wsDial(t, s), wsDial(t, s)
	join(a)
	join(b)
	if e, ok := join(c).(*protocol.ErrorMessage); !ok || e.Code != protocol.CodeRoomFull {
		t.Fatalf("third join: %+v", e)
	}
	a.ReadMessage() // peer-joined
	a.WriteJSON(&protocol.Description{Type: protocol.TypeDescription, Description: protocol.SessionDescription{Type: "offer", SDP: "v=0"}})
	b.ReadMessage()

	for _, body := range []string{`{"outcome":"connected","path":"relay","setupMs":850}`, `{"outcome":"failed","path":"","setupMs":30000}`} {
		resp, err := http.Post(s.URL()+"/api/call-report", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("report %s: %v %v", body, resp.Status, err)
		}
	}
	for _, bad := range []string{`{"outcome":"connected","path":"moon","setupMs":1}`, `{"outcome":"connected","path":"direct","setupMs":-5}`, `{"x":1}`, `nope`} {
		resp, err := http.Post(s.URL()+"/api/call-report", "application/json", strings.NewReader(bad))
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad report %s: got %v, want 400", bad, resp.Status)
		}
	}

	got := scrape(t, s.URL())
	want := map[string]float64{
		"duet_signal_connections":                                    3,
		"duet_signal_rooms":                                          1,
		"duet_signal_peers":                                          2,
		`duet_signal_joins_total{resumed="false"}`:                   2,
		`duet_signal_refusals_total{code="room-full"}`:               1,
		"duet_signal_messages_relayed_total":                         1,
		"duet_signal_relay_seconds_count":                            1,
		"duet_signal_join_to_paired_seconds_count":                   1,
		`duet_call_setup_seconds{path="relay"}_count`:                1,
		`duet_call_outcomes_total{outcome="connected",path="relay"}`: 1,
		`duet_call_outcomes_total{outcome="failed",path=""}`:         1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["process_resident_memory_bytes"] <= 0 {
		t.Error("process metrics missing")
	}
}

func TestReadyz(t *testing.T) {
	var notReady atomic.Pointer[error]
	s := start(t, Config{Ready: func() error {
		if e := notReady.Load(); e != nil {
			return *e
		}
		return nil
	}})
	if resp, _ := get(t, s.URL()+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz = %d, want 200", resp.StatusCode)
	}
	e := errors.New("nats: not connected")
	notReady.Store(&e)
	if resp, body := get(t, s.URL()+"/readyz"); resp.StatusCode != 503 || !strings.Contains(body, "nats") {
		t.Fatalf("readyz = %d %q, want 503 naming the cause", resp.StatusCode, body)
	}
}
