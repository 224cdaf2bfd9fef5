package turnload

import (
	"fmt"
	"io"
	"sort"
)

// Summarize writes, per target and rate, the median over rounds of the
// received rate, loss and CPU figures. Medians, because on a shared machine
// one round can lose a step to someone else's burst of work.
func Summarize(rows []Row, opts Options, out io.Writer) {
	fmt.Fprintf(out, "| relay | offered/s | relayed/s (median) | Mbit/s | loss (median) | loss (worst) | relay CPU | load-generator CPU | rounds |\n")
	fmt.Fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	size := opts.Size
	if size <= 0 {
		size = 1200
	}
	for _, target := range opts.Targets {
		for _, rate := range opts.Rates {
			var pps, loss, scpu, lcpu []float64
			for _, r := range rows {
				if r.Target == target && r.Result.Rate == rate {
					pps = append(pps, r.Result.PPS())
					loss = append(loss, r.Result.Loss())
					scpu = append(scpu, r.ServerCPU)
					lcpu = append(lcpu, r.LoadCPU)
				}
			}
			if len(pps) == 0 {
				continue
			}
			worst := 0.0
			for _, l := range loss {
				worst = max(worst, l)
			}
			fmt.Fprintf(out, "| %s | %d | %.0f | %.0f | %.2f %% | %.2f %% | %.0f %% | %.0f %% | %d |\n", target, rate,
				median(pps), median(pps)*float64(size)*8/1e6, median(loss)*100, worst*100,
				median(scpu)*100, median(lcpu)*100, len(pps))
		}
	}
}

// MedianClean is the highest rate whose median loss over rounds is under
// limit, or 0.
func MedianClean(rows []Row, target string, limit float64) int {
	byRate := map[int][]float64{}
	for _, r := range rows {
		if r.Target == target {
			byRate[r.Result.Rate] = append(byRate[r.Result.Rate], r.Result.Loss())
		}
	}
	best := 0
	for rate, l := range byRate {
		if median(l) < limit && rate > best {
			best = rate
		}
	}
	return best
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
