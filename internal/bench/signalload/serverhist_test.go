package signalload

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantile(t *testing.T) {
	// 100 observations: 50 at or under 10 µs, 40 more under 20 µs, 10
	// more under 40 µs; an earlier reading had 10 under 10 µs.
	h := Histogram{Bounds: []float64{10e-6, 20e-6, 40e-6, math.Inf(1)}, Counts: []float64{60, 100, 110, 110}}
	d := h.Sub(Histogram{Bounds: h.Bounds, Counts: []float64{10, 10, 10, 10}})
	if d.Count() != 100 {
		t.Fatalf("count %v, want 100", d.Count())
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.25, 5 * time.Microsecond},  // halfway through the first bucket
		{0.5, 10 * time.Microsecond},  // its top
		{0.7, 15 * time.Microsecond},  // halfway through the second
		{0.99, 38 * time.Microsecond}, // nine tenths into the third
	}
	for _, tt := range tests {
		if got := d.Quantile(tt.q); (got - tt.want).Abs() > 100*time.Nanosecond {
			t.Errorf("q%.2f = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (Histogram{}).Quantile(0.5); got != 0 {
		t.Errorf("empty histogram: %v", got)
	}
}
