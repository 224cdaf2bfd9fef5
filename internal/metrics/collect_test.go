package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/duet-call/duet/internal/turnserver"
)

// WatchTURN exposes every field of turnserver.Stats under its series, with
// the right type, read from one snapshot per scrape.
func TestWatchTURNExposition(t *testing.T) {
	m := New()
	scrapes := 0
	m.WatchTURN(func() turnserver.Stats {
		scrapes++
		return turnserver.Stats{
			Allocations:          3,
			AllocationsCreated:   7,
			Permissions:          4,
			PermissionsCreated:   9,
			RelayedBytesToPeer:   123456,
			RelayedBytesToClient: 654321,
			Refused:              map[string]uint64{turnserver.ReasonLoopback: 2},
		}
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	if scrapes != 1 {
		t.Fatalf("Stats read %d times in one scrape, want 1", scrapes)
	}

	tests := []struct {
		name   string
		typ    string // GAUGE or COUNTER
		labels string // name=value, as in the exposition, or ""
		want   float64
	}{
		{"duet_turn_allocations", "GAUGE", "", 3},
		{"duet_turn_allocations_created_total", "COUNTER", "", 7},
		{"duet_turn_permissions", "GAUGE", "", 4},
		{"duet_turn_permissions_created_total", "COUNTER", "", 9},
		{"duet_turn_relayed_bytes_total", "COUNTER", "direction=to_peer", 123456},
		{"duet_turn_relayed_bytes_total", "COUNTER", "direction=to_client", 654321},
		{"duet_turn_refusals_total", "COUNTER", "reason=loopback", 2},
	}
	for _, tc := range tests {
		f := fams[tc.name]
		if f == nil {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if f.GetType().String() != tc.typ {
			t.Errorf("%s is a %v, want a %v", tc.name, f.GetType(), tc.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", tc.name)
		}
		found := false
		for _, s := range f.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(ls, ",") != tc.labels {
				continue
			}
			found = true
			v := s.GetGauge().GetValue()
			if tc.typ == "COUNTER" {
				v = s.GetCounter().GetValue()
			}
			if v != tc.want {
				t.Errorf("%s{%s} = %v, want %v", tc.name, tc.labels, v, tc.want)
			}
		}
		if !found {
			t.Errorf("%s{%s} missing", tc.name, tc.labels)
		}
	}
	if n := len(fams["duet_turn_relayed_bytes_total"].GetMetric()); n != 2 {
		t.Errorf("duet_turn_relayed_bytes_total has %d series, want to_peer and to_client", n)
	}
}
