// Command turnbench measures relayed UDP throughput through duet's embedded
// TURN server, Debian's coturn configured the same way, and a plain UDP
// forwarder, side by side on loopback. See docs/benchmarks.md.
//
//	go run ./internal/bench/turnload/cmd/turnbench -rates 24000,48000,72000,90000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/bench/turnload"
)

func main() {
	if turnload.RunChild() {
		return
	}
	targets := flag.String("targets", "forwarder,duet,coturn,duet-stock", "comma-separated: forwarder, duet, duet-1loop, duet-2loop, duet-stock, coturn")
	rates := flag.String("rates", "12000,24000,48000,72000,90000,120000", "offered datagrams per second, comma-separated")
	step := flag.Duration("step", 4*time.Second, "sending time per rate")
	allocs := flag.Int("allocations", 8, "TURN allocations (client sockets)")
	size := flag.Int("size", 1200, "datagram payload bytes")
	echo := flag.Bool("echo", false, "the sink echoes back through the relay; count at the clients (both directions)")
	rounds := flag.Int("rounds", 3, "repeat the sweep this many times and report medians")
	flag.Parse()

	opts := turnload.Options{Targets: strings.Split(*targets, ","), Step: *step, Allocations: *allocs, Size: *size, Rounds: *rounds, Echo: *echo}
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "turnbench: bad rate %q\n", r)
			os.Exit(2)
		}
		opts.Rates = append(opts.Rates, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rows, err := turnload.Compare(ctx, opts, os.Stdout)
	fmt.Printf("\nMedians over %d rounds:\n\n", *rounds)
	turnload.Summarize(rows, opts, os.Stdout)
	fmt.Println()
	for _, t := range opts.Targets {
		fmt.Printf("%s: highest offered rate with median loss < 1 %%: %d/s\n", t, turnload.MedianClean(rows, t, 0.01))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "turnbench:", err)
		os.Exit(1)
	}
}
