package signalload

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Histogram is a Prometheus histogram read from /metrics: cumulative
// counts by upper bound.
type Histogram struct {
	Bounds []float64 // upper bounds, ascending; the last is +Inf
	Counts []float64 // cumulative counts at each bound
}

// ServerHistogram reads the buckets of one histogram series (name without
// _bucket) from a duet server's /metrics.
func ServerHistogram(ctx context.Context, metricsURL, name string) (Histogram, error) {
	type bucket struct{ le, n float64 }
	var bs []bucket
	var perr error
	prefix := name + `_bucket{le="`
	err := scrapeLines(ctx, metricsURL, func(l string) bool {
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok {
			return true
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			return true
		}
		b := bucket{le: math.Inf(1)}
		if le != "+Inf" {
			var err error
			if b.le, err = strconv.ParseFloat(le, 64); err != nil {
				perr = fmt.Errorf("%s: bad bound %q", name, le)
				return false
			}
		}
		var err error
		if b.n, err = strconv.ParseFloat(val, 64); err != nil {
			perr = fmt.Errorf("%s: bad count %q", name, val)
			return false
		}
		bs = append(bs, b)
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return Histogram{}, err
	}
	if len(bs) == 0 {
		return Histogram{}, fmt.Errorf("no %s at %s", name, metricsURL)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	var h Histogram
	for _, b := range bs {
		h.Bounds = append(h.Bounds, b.le)
		h.Counts = append(h.Counts, b.n)
	}
	return h, nil
}

// Sub is what was observed between an earlier reading and h.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i]
		if i < len(earlier.Counts) {
			out.Counts[i] -= earlier.Counts[i]
		}
	}
	return out
}

// Count is the number of observations.
func (h Histogram) Count() float64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// Quantile estimates the q-quantile the way Prometheus' histogram_quantile
// does: linearly within the bucket it falls in. It is as coarse as the
// buckets (a factor of two apart for the relay histogram).
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, le := range h.Bounds {
		if h.Counts[i] >= rank {
			if math.IsInf(le, 1) {
				return time.Duration(lower * float64(time.Second))
			}
			in := h.Counts[i] - below
			frac := 1.0
			if in > 0 {
				frac = (rank - below) / in
			}
			return time.Duration((lower + (le-lower)*frac) * float64(time.Second))
		}
		lower, below = le, h.Counts[i]
	}
	return 0
}
