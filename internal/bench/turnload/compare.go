package turnload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Target names for Options.Targets.
const (
	TargetDuet      = "duet"       // the embedded server as `duet serve` runs it
	TargetDuetStock = "duet-stock" // the same, one read loop, kernel-default buffers
	TargetDuet1     = "duet-1loop" // duet with one read loop
	TargetDuet2     = "duet-2loop" // duet with two read loops
	TargetCoturn    = "coturn"     // Debian's coturn turnserver, same policy
	TargetForwarder = "forwarder"  // plain UDP forwarder: the ceiling
)

// Options configures Compare.
type Options struct {
	Targets     []string
	Rates       []int // offered datagrams per second, in order
	Step        time.Duration
	Allocations int
	Size        int
	Coturn      string // turnserver binary; default looked up in PATH
	// Rounds repeats the whole sweep, targets interleaved, so that a
	// neighbour's burst of work hits one round, not one target. Default 1.
	Rounds int
	// Echo measures both relay directions (see Config.Echo).
	Echo bool
}

// Row is one measured step.
type Row struct {
	Target    string
	Result    Result
	ServerCPU float64 // cores used by the relay process (1.0 = one core)
	LoadCPU   float64 // cores used by the load generator
}

// Compare measures every target at every rate and writes a Markdown table to
// out as it goes. Relays run in child processes (see RunChild), so the
// binary calling Compare must call RunChild first thing in main.
func Compare(ctx context.Context, opts Options, out io.Writer) ([]Row, error) {
	if opts.Step <= 0 {
		opts.Step = 4 * time.Second
	}
	if opts.Size <= 0 {
		opts.Size = 1200
	}
	secretBytes := make([]byte, 16)
	_, _ = rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)

	fmt.Fprintf(out, "| relay | offered/s | relayed/s | Mbit/s | loss | relay CPU | load-generator CPU |\n")
	fmt.Fprintf(out, "|---|---:|---:|---:|---:|---:|---:|\n")
	var rows []Row
	for round := 0; round < max(1, opts.Rounds); round++ {
		for _, target := range opts.Targets {
			r, err := measureTarget(ctx, target, secret, opts, out)
			rows = append(rows, r...)
			if err != nil {
				return rows, fmt.Errorf("%s: %w", target, err)
			}
		}
	}
	return rows, nil
}

func measureTarget(ctx context.Context, target, secret string, opts Options, out io.Writer) ([]Row, error) {
	cfg := Config{Secret: secret, Allocations: opts.Allocations, Size: opts.Size, Echo: opts.Echo}
	var relay *child
	var stop func()
	var err error
	switch target {
	case TargetDuet, TargetDuetStock, TargetDuet1, TargetDuet2:
		relay, err = startChild(target, secret, "")
		stop = func() { relay.stop() }
	case TargetForwarder:
		port, perr := freeUDPPort()
		if perr != nil {
			return nil, perr
		}
		cfg.Sink, cfg.Forward = fmt.Sprintf("127.0.0.1:%d", port), true
		relay, err = startChild(modeForwarder, secret, cfg.Sink)
		stop = func() { relay.stop() }
	case TargetCoturn:
		bin := opts.Coturn
		if bin == "" {
			if bin, err = exec.LookPath("turnserver"); err != nil {
				return nil, fmt.Errorf("coturn's turnserver not found (apt-get install coturn): %w", err)
			}
		}
		relay, stop, err = startCoturn(bin, secret)
	default:
		return nil, fmt.Errorf("unknown target %q", target)
	}
	if err != nil {
		return nil, err
	}
	defer stop()
	cfg.Server = relay.addr
	load, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	defer load.Close()

	var rows []Row
	for _, rate := range opts.Rates {
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		srv0, err := ProcessCPU(relay.pid)
		if err != nil {
			return rows, err
		}
		self0 := SelfCPU()
		res, err := load.Step(ctx, rate, opts.Step)
		if err != nil {
			return rows, err
		}
		srv1, _ := ProcessCPU(relay.pid)
		self1 := SelfCPU()
		// CPU over the whole step including the drain wait, per second of
		// sending: the drain adds little work.
		row := Row{Target: target, Result: res,
			ServerCPU: (srv1 - srv0).Seconds() / res.Elapsed.Seconds(),
			LoadCPU:   (self1 - self0).Seconds() / res.Elapsed.Seconds()}
		rows = append(rows, row)
		fmt.Fprintf(out, "| %s | %d | %.0f | %.0f | %.2f %% | %.0f %% | %.0f %% |\n", target, rate,
			res.PPS(), res.Mbps(cfg.Size), res.Loss()*100, row.ServerCPU*100, row.LoadCPU*100)
	}
	return rows, nil
}
