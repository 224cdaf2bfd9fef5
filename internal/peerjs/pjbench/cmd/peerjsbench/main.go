// Command peerjsbench runs the same PeerJS signaling load against duet's
// PeerJS endpoint and the reference peerjs-server (npm `peer`, with node),
// side by side, on loopback: messages/s and latency of pairs ping-ponging
// offer/answer and candidate-sized messages, and resident memory per idle
// connection. Each server runs in its own process so its memory and CPU are
// measured apart from the load generator's.
//
//	go run ./internal/peerjs/pjbench/cmd/peerjsbench -idle 10000 -pairs 500 -duration 10s
package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/duet-call/duet/internal/peerjs"
	"github.com/duet-call/duet/internal/peerjs/peerjstest"
	"github.com/duet-call/duet/internal/peerjs/pjbench"
	"github.com/duet-call/duet/internal/server"
)

func main() {
	serve := flag.Bool("serve", false, "internal: run duet's PeerJS endpoint and print its address")
	idle := flag.Int("idle", 10000, "idle peers to open for the memory figure")
	pairs := flag.Int("pairs", 500, "pairs ping-ponging for the throughput figure")
	duration := flag.Duration("duration", 10*time.Second, "measured time of the throughput run (after warm-up)")
	warmup := flag.Duration("warmup", 2*time.Second, "warm-up before measuring throughput")
	latN := flag.Int("latency-samples", 2000, "messages for the unloaded latency")
	rounds := flag.Int("rounds", 3, "ping-pong rounds per server, alternating between the servers")
	only := flag.String("only", "duet,peerjs-server", "which servers to run, comma-separated")
	flag.Parse()
	if *serve {
		os.Exit(runServe())
	}
	raiseFDLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Bound the whole run, whatever the flags say.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()

	fmt.Printf("peerjsbench: %d idle peers, %d pairs for %v (+%v warm-up) x %d rounds, %d unloaded samples; %d CPUs, load average %s\n",
		*idle, *pairs, *duration, *warmup, *rounds, *latN, numCPU(), loadAvg())
	// Both servers run at once (an idle one costs nothing) so the ping-pong
	// rounds can alternate between them: co-tenants' load then falls on
	// both alike instead of on whichever ran second.
	var rows []*row
	var targets []pjbench.Target
	for _, name := range strings.Split(*only, ",") {
		tg, stopServer, err := startTarget(ctx, name, *idle)
		if err != nil {
			fail(err)
		}
		defer stopServer()
		targets = append(targets, tg)
		r := &row{name: tg.Name}
		rows = append(rows, r)
		if err := measureIdle(ctx, tg, r, *idle, *latN); err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
	}
	for round := 1; round <= *rounds; round++ {
		for i, tg := range targets {
			fmt.Printf("round %d: %s: %d pairs ping-pong...\n", round, tg.Name, *pairs)
			tp, err := pjbench.PingPong(ctx, tg, *pairs, *warmup, *duration)
			if err != nil {
				fail(fmt.Errorf("%s: ping-pong: %w", tg.Name, err))
			}
			rows[i].rounds = append(rows[i].rounds, tp)
		}
	}
	printTable(os.Stdout, rows)
	fmt.Printf("\nload average at the end: %s\n", loadAvg())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peerjsbench:", err)
	os.Exit(1)
}

type row struct {
	name         string
	perIdle      float64
	rssBefore    int64
	rssAfter     int64
	unl50, unl99 time.Duration
	rounds       []pjbench.Throughput
}

// measureIdle ramps the idle peers (memory) and then takes the unloaded
// latency, on a server that has seen no other load yet.
func measureIdle(ctx context.Context, tg pjbench.Target, r *row, idle, latN int) error {
	var err error
	fmt.Printf("%s: ramping %d idle peers...\n", tg.Name, idle)
	if r.perIdle, r.rssBefore, r.rssAfter, err = pjbench.IdleRamp(ctx, tg, idle, 3*time.Second); err != nil {
		return fmt.Errorf("idle ramp: %w", err)
	}
	fmt.Printf("%s: unloaded latency...\n", tg.Name)
	unl, err := pjbench.Unloaded(ctx, tg, latN)
	if err != nil {
		return fmt.Errorf("unloaded: %w", err)
	}
	r.unl50, r.unl99 = unl.Quantile(0.5), unl.Quantile(0.99)
	return nil
}

// printTable prints one row per server; the ping-pong columns are those of
// its median round (by msg/s), and every round's msg/s is listed.
func printTable(w io.Writer, rows []*row) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | RSS per idle peer | RSS before → after ramp | msg/s, median round | server CPU | CPU per message | loaded p50 / p99 | unloaded p50 / p99 | msg/s, each round |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		rs := slices.Clone(r.rounds)
		rate := func(tp pjbench.Throughput) float64 { return float64(tp.Messages) / tp.Window.Seconds() }
		var each []string
		for _, tp := range r.rounds {
			each = append(each, fmt.Sprintf("%.0f", rate(tp)))
		}
		slices.SortFunc(rs, func(a, b pjbench.Throughput) int { return cmp.Compare(rate(a), rate(b)) })
		med := rs[len(rs)/2]
		// CPU time per relayed message holds up better than msg/s when
		// co-tenants take CPU from the run.
		perMsg := med.CPU * med.Window.Seconds() / float64(max(med.Messages, 1)) * 1e6
		fmt.Fprintf(w, "| %s | %.1f KB | %.0f → %.0f MB | %.0f | %.0f %% | %.1f µs | %s / %s | %s / %s | %s |\n",
			r.name, r.perIdle/1024, float64(r.rssBefore)/(1<<20), float64(r.rssAfter)/(1<<20),
			rate(med), med.CPU*100, perMsg, ms(med.Latency.Quantile(0.5)), ms(med.Latency.Quantile(0.99)),
			ms(r.unl50), ms(r.unl99), strings.Join(each, ", "))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// startTarget starts one server in its own process.
func startTarget(ctx context.Context, name string, idle int) (pjbench.Target, func(), error) {
	limit := idle + 2000
	switch name {
	case "duet":
		return startDuetChild(ctx, limit)
	case "peerjs-server":
		ref, err := peerjstest.StartReference(ctx, peerjstest.RefOptions{
			Path: "/peerjs", ConcurrentLimit: limit, AliveTimeout: 10 * time.Minute,
		})
		if err != nil {
			return pjbench.Target{}, nil, err
		}
		return pjbench.Target{Name: "peerjs-server (peer 1.0.2, node " + nodeVersion() + ")",
			Host: fmt.Sprintf("127.0.0.1:%d", ref.Port), Path: "/peerjs", Pid: ref.Pid()}, ref.Stop, nil
	}
	return pjbench.Target{}, nil, fmt.Errorf("unknown server %q", name)
}

// startDuetChild re-runs this binary with -serve and reads the address it
// listens on from its first line of output.
func startDuetChild(ctx context.Context, limit int) (pjbench.Target, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return pjbench.Target{}, nil, fmt.Errorf("executable: %w", err)
	}
	cmd := exec.Command(self, "-serve")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PJBENCH_LIMIT=%d", limit))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return pjbench.Target{}, nil, fmt.Errorf("start duet child: %w", err)
	}
	stopChild := func() {
		stdin.Close() // the child exits when its stdin closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stopChild()
		return pjbench.Target{}, nil, fmt.Errorf("duet child: %w", err)
	}
	return pjbench.Target{Name: "duet (" + goVersion() + ")", Host: strings.TrimSpace(line), Path: "/peerjs", Pid: cmd.Process.Pid}, stopChild, nil
}

// runServe is the child: duet's HTTP server with the PeerJS endpoint, its
// per-IP and rate limits raised because all load comes from 127.0.0.1.
func runServe() int {
	var limit int
	fmt.Sscan(os.Getenv("PJBENCH_LIMIT"), &limit)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pj, err := peerjs.New(peerjs.Config{
		ConcurrentLimit: limit,
		AliveTimeout:    10 * time.Minute,
		MaxConnsPerIP:   1 << 30,
		ConnRate:        1e9, ConnBurst: 1 << 30,
		MsgRate: 1e9, MsgBurst: 1 << 30,
		Logger: log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Logger: log,
		Routes: func(mux *http.ServeMux) { pj.Mount(mux, "/peerjs") }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := srv.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// PJBENCH_CPUPROFILE=file profiles the server alone, for finding
	// where its CPU per message goes.
	if f := os.Getenv("PJBENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err == nil && pprof.StartCPUProfile(out) == nil {
			defer out.Close()
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Println(srv.Addr().String())
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	pj.Shutdown(ctx)
	return 0
}
