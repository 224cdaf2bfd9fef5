package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/bench/turnload"
	"github.com/duet-call/duet/internal/flagenv"
)

// turnStep is one rate of a duet bench turn sweep, as printed and in --json.
type turnStep struct {
	Rate     int     `json:"offeredPerSec"`
	Sent     uint64  `json:"sent"`
	Received uint64  `json:"received"`
	PPS      float64 `json:"receivedPerSec"`
	Mbps     float64 `json:"mbps"`
	Loss     float64 `json:"loss"`
}

// benchTurn measures relayed throughput and loss through a running TURN
// server (duet's, duet turn, or coturn with the same secret): K
// allocations send ChannelData datagrams at each offered rate to a sink on
// this machine, which counts what the relay delivered.
func benchTurn(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet bench turn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "127.0.0.1:3478", "TURN server UDP address host:port (with --tls: its TURN-over-TLS address, or duet's HTTPS port in one-port mode)")
	useTLS := fs.Bool("tls", false, "TURN over TLS: each allocation is its own TLS connection (the server's certificate is not checked)")
	allocRate := fs.Int("alloc-rate", 0, "instead of relaying, make this many allocations (each on a new socket or TLS connection, freed at once) and report allocations per second")
	allocConc := fs.Int("alloc-concurrency", 8, "allocations in flight at once for --alloc-rate")
	secret := fs.String("secret", "", "the server's TURN REST secret (--turn-secret / coturn static-auth-secret)")
	allocs := fs.Int("allocations", 8, "TURN allocations, each with its own client socket")
	rates := fs.String("rates", "12000,24000,48000", "offered datagrams per second in total, comma-separated; one step each")
	duration := fs.Duration("duration", 4*time.Second, "sending time per rate")
	size := fs.Int("size", 1200, "datagram payload bytes (a multiple of 4)")
	sink := fs.String("sink", "127.0.0.1:0", "address of the receiving peer on this machine; the relay must be allowed to reach it (duet serve --turn-allow-peer 127.0.0.1/32 for a local test)")
	echo := fs.Bool("echo", false, "the sink echoes back through the relay and the clients count: both directions")
	jsonOut := fs.Bool("json", false, "print the steps as JSON on stdout")
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "duet bench turn: --secret is required")
		return 2
	}
	var steps []int
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "duet bench turn: bad rate %q\n", r)
			return 2
		}
		steps = append(steps, n)
	}
	if *duration <= 0 || *duration > 10*time.Minute {
		fmt.Fprintln(stderr, "duet bench turn: --duration must be between 0 and 10m")
		return 2
	}

	if *allocRate > 0 {
		return benchAllocRate(ctx, turnload.Config{Server: *server, Secret: *secret, TLS: *useTLS}, *allocRate, *allocConc, *jsonOut, stdout, stderr)
	}
	load, err := turnload.Open(turnload.Config{Server: *server, Secret: *secret, Allocations: *allocs, Size: *size, Sink: *sink, Echo: *echo, TLS: *useTLS})
	if err != nil {
		fmt.Fprintln(stderr, "duet bench turn:", err)
		return 1
	}
	defer load.Close()
	var out []turnStep
	for _, rate := range steps {
		r, err := load.Step(ctx, rate, *duration)
		if err != nil {
			fmt.Fprintln(stderr, "duet bench turn:", err)
			return 1
		}
		s := turnStep{Rate: rate, Sent: r.Sent, Received: r.Received, PPS: r.PPS(), Mbps: r.Mbps(*size), Loss: r.Loss()}
		out = append(out, s)
		if !*jsonOut {
			if len(out) == 1 {
				fmt.Fprintf(stdout, "%10s %10s %10s %12s %9s %7s\n", "offered/s", "sent", "received", "received/s", "Mbit/s", "loss")
			}
			fmt.Fprintf(stdout, "%10d %10d %10d %12.0f %9.1f %6.2f%%\n", s.Rate, s.Sent, s.Received, s.PPS, s.Mbps, 100*s.Loss)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	}
	return 0
}

// benchAllocRate runs duet bench turn --alloc-rate.
func benchAllocRate(ctx context.Context, cfg turnload.Config, n, conc int, jsonOut bool, stdout, stderr io.Writer) int {
	r, err := turnload.AllocRate(ctx, cfg, n, conc)
	if err != nil {
		fmt.Fprintln(stderr, "duet bench turn:", err)
		return 1
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"allocations": r.Done, "failed": r.Failed, "seconds": r.Elapsed.Seconds(), "perSec": r.PerSecond()})
		return 0
	}
	fmt.Fprintf(stdout, "%d allocations in %.2f s (%d failed, %d at a time): %.0f allocations/s\n",
		r.Done, r.Elapsed.Seconds(), r.Failed, conc, r.PerSecond())
	return 0
}
