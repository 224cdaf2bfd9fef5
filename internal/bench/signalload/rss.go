package signalload

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeLines reads a duet server's /metrics and calls line for each line
// until it returns false.
func scrapeLines(ctx context.Context, metricsURL string, line func(string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && line(sc.Text()) {
	}
	return sc.Err()
}

// ServerRSS reads process_resident_memory_bytes from a duet server's
// /metrics, so memory per idle peer can be measured from outside.
func ServerRSS(ctx context.Context, metricsURL string) (int64, error) {
	var rss int64
	var perr error
	found := false
	err := scrapeLines(ctx, metricsURL, func(l string) bool {
		v, ok := strings.CutPrefix(l, "process_resident_memory_bytes ")
		if !ok {
			return true
		}
		var f float64
		f, perr = strconv.ParseFloat(strings.TrimSpace(v), 64)
		rss, found = int64(f), true
		return false
	})
	switch {
	case err != nil:
		return 0, err
	case perr != nil:
		return 0, perr
	case !found:
		return 0, fmt.Errorf("no process_resident_memory_bytes at %s", metricsURL)
	}
	return rss, nil
}
