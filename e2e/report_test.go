package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/server"
)

// TestCallReports: each page of a call that connects reports it once, as a
// direct call, and the server's /metrics counts both reports.
func TestCallReports(t *testing.T) {
	srv := startServerWith(t, server.Config{Addr: "127.0.0.1:0", Metrics: metrics.New()})
	b := browsertest.New(t)
	connectPair(t, b, srv.URL()+"/r/report-room")

	want := map[string]float64{
		`duet_call_outcomes_total{outcome="connected",path="direct"}`: 2,
		`duet_call_setup_seconds_count{path="direct"}`:                2,
	}
	var got map[string]float64
	// The reports are sent after the pages see "connected"; poll briefly.
	for deadline := time.Now().Add(stepTimeout); ; {
		got = scrapeCallMetrics(t, srv.URL())
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all call series: %v)", k, got[k], v, got)
		}
	}
}

// scrapeCallMetrics parses /metrics and returns the duet_call_* series by
// name and labels, histograms as their _count.
func scrapeCallMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	must(t, err)
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "duet_call_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			labels := "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+labels] = m.Counter.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+labels] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}
