package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/bench/signalload"
	"github.com/duet-call/duet/internal/flagenv"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: duet bench signal|turn [flags]   (duet bench signal -h for the flags)")
		return 2
	}
	switch args[0] {
	case "signal":
		return benchSignal(ctx, args[1:], stdout, stderr)
	case "turn":
		return benchTurn(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "duet bench: unknown benchmark %q (signal, turn)\n", args[0])
	return 2
}

func benchSignal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet bench signal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "duet server URL; several, comma-separated, are cluster nodes: the peers of a pair go to different ones (memory is read from the first)")
	peers := fs.Int("peers", 1000, "peers to connect, in pairs (one room per pair)")
	rate := fs.Float64("rate", 1000, "relayed messages per second, all pairs together; 0 holds the peers idle")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (or hold) after the ramp")
	ramp := fs.Int("ramp", 50, "connections opened at once during the ramp")
	perSource := fs.Int("peers-per-source", 8, "on a loopback server, dial from a new 127.1.x.y address every this many peers, so duet's per-IP limits see many clients; 0 dials from one")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	metricsURL := fs.String("metrics", "", "server /metrics URL to read its memory and its own relay times from (default: SERVER/metrics; \"-\" for none)")
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	var wsURLs []string
	for _, s := range strings.Split(*server, ",") {
		u, _, err := benchURLs(s)
		if err != nil {
			fmt.Fprintln(stderr, "duet bench signal:", err)
			return 2
		}
		wsURLs = append(wsURLs, u)
	}
	wsURL, httpBase, _ := benchURLs(strings.Split(*server, ",")[0])
	if *metricsURL == "" {
		*metricsURL = httpBase + "/metrics"
	}
	rssBefore := readRSS(ctx, *metricsURL)

	tty := isTerminal(stderr)
	var rssRamped int64
	var relayBefore signalload.Histogram
	res, err := signalload.Run(ctx, signalload.Config{
		URL: wsURL, URLs: wsURLs, Peers: *peers, Rate: *rate, Duration: *duration, Ramp: *ramp,
		Sources: sources(httpBase, *peers, *perSource),
		// Read the server's memory with every peer connected and idle.
		OnRamped: func() {
			rssRamped = readRSS(ctx, *metricsURL)
			relayBefore, _ = readRelay(ctx, *metricsURL)
		},
		Progress: func(s signalload.Snapshot) {
			line := fmt.Sprintf("%-5s connected %6d  sent %9d  received %9d  errors %d", s.Phase, s.Connected, s.Sent, s.Received, s.Errors)
			if tty {
				fmt.Fprintf(stderr, "\r%s", line)
			} else {
				fmt.Fprintln(stderr, line)
			}
		},
	})
	if tty {
		fmt.Fprintln(stderr)
	}
	if res == nil {
		fmt.Fprintln(stderr, "duet bench signal:", err)
		return 1
	}
	sum := summary{Result: res, RSSBefore: rssBefore, RSSRamped: rssRamped}
	// The server's own share of each relay, from its histogram over the
	// load: what the end-to-end latency cannot separate from the
	// generator's scheduling when both run on one machine.
	if after, err := readRelay(ctx, *metricsURL); err == nil && relayBefore.Bounds != nil {
		sum.ServerRelay = after.Sub(relayBefore)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sum.jsonView())
	} else {
		sum.print(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "duet bench signal:", err)
		return 1
	}
	return 0
}

// benchURLs turns a server URL (http, https, ws or wss) into the signaling
// WebSocket URL and the HTTP base URL.
func benchURLs(s string) (ws, base string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", s)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return "", "", fmt.Errorf("--server %q: scheme must be http(s) or ws(s)", s)
	}
	u.Path, u.RawQuery = "", ""
	base = u.String()
	return "ws" + strings.TrimPrefix(base, "http") + "/ws", base, nil
}

// sources spreads the peers over loopback addresses when the server is on
// loopback; elsewhere the machine's own address is all there is.
func sources(base string, peers, perSource int) []net.IP {
	u, err := url.Parse(base)
	if err != nil || perSource <= 0 {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil
	}
	return signalload.LoopbackSources((peers + perSource - 1) / perSource)
}

func readRSS(ctx context.Context, url string) int64 {
	if url == "-" {
		return 0
	}
	rss, err := signalload.ServerRSS(ctx, url)
	if err != nil {
		return 0
	}
	return rss
}

func readRelay(ctx context.Context, url string) (signalload.Histogram, error) {
	if url == "-" {
		return signalload.Histogram{}, fmt.Errorf("no metrics")
	}
	return signalload.ServerHistogram(ctx, url, "duet_signal_relay_seconds")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type summary struct {
	*signalload.Result
	RSSBefore, RSSRamped int64
	ServerRelay          signalload.Histogram // duet_signal_relay_seconds over the load
}

// perPeer is the server's resident memory per connected peer, from its RSS
// before the ramp and with every peer connected.
func (s summary) perPeer() float64 {
	if s.RSSBefore <= 0 || s.RSSRamped <= 0 || s.Connected == 0 {
		return 0
	}
	return float64(s.RSSRamped-s.RSSBefore) / float64(s.Connected)
}

func (s summary) print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	rows := [][2]string{
		{"connections", fmt.Sprintf("%d of %d", s.Connected, s.Peers)},
		{"ramp time", s.Ramp.Round(time.Millisecond).String()},
		{"load time", s.Duration.Round(time.Millisecond).String()},
		{"messages sent", fmt.Sprint(s.Sent)},
		{"messages received", fmt.Sprint(s.Received)},
		{"messages/s", fmt.Sprintf("%.0f", s.MsgsPerSec)},
		{"latency p50", ms(s.Latency.P50)},
		{"latency p90", ms(s.Latency.P90)},
		{"latency p99", ms(s.Latency.P99)},
		{"latency max", ms(s.Latency.Max)},
	}
	if pp := s.perPeer(); pp > 0 {
		rows = append(rows,
			[2]string{"server RSS before", fmt.Sprintf("%.1f MiB", float64(s.RSSBefore)/(1<<20))},
			[2]string{"server RSS ramped", fmt.Sprintf("%.1f MiB", float64(s.RSSRamped)/(1<<20))},
			[2]string{"server RSS per peer", fmt.Sprintf("%.1f KiB", pp/1024)})
	}
	if s.ServerRelay.Count() > 0 {
		rows = append(rows,
			[2]string{"server relay p50", ms(s.ServerRelay.Quantile(0.50))},
			[2]string{"server relay p99", ms(s.ServerRelay.Quantile(0.99))})
	}
	codes := make([]string, 0, len(s.Errors))
	for c := range s.Errors {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		rows = append(rows, [2]string{"errors " + c, fmt.Sprint(s.Errors[c])})
	}
	if len(codes) == 0 {
		rows = append(rows, [2]string{"errors", "0"})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-20s %s\n", r[0], r[1])
	}
}

func (s summary) jsonView() map[string]any {
	return map[string]any{
		"peers": s.Peers, "connected": s.Connected,
		"ramp_ms": s.Ramp.Milliseconds(), "load_ms": s.Duration.Milliseconds(),
		"sent": s.Sent, "received": s.Received, "msgs_per_sec": s.MsgsPerSec,
		"latency_ms": map[string]float64{
			"p50": float64(s.Latency.P50) / 1e6, "p90": float64(s.Latency.P90) / 1e6,
			"p99": float64(s.Latency.P99) / 1e6, "max": float64(s.Latency.Max) / 1e6,
		},
		"errors": s.Errors, "server_rss_before": s.RSSBefore, "server_rss_ramped": s.RSSRamped,
		"server_rss_per_peer": s.perPeer(),
		"server_relay_ms": map[string]float64{
			"count": s.ServerRelay.Count(),
			"p50":   float64(s.ServerRelay.Quantile(0.50)) / 1e6,
			"p99":   float64(s.ServerRelay.Quantile(0.99)) / 1e6,
		},
	}
}
