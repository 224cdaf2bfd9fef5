package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/turnserver"
)

// TestBenchTurn runs duet bench turn against the embedded TURN server on
// loopback (allowed to relay to loopback, where the sink is) and checks
// that what it reports adds up; a wrong secret is a clear failure.
func TestBenchTurn(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	const secret = "bench-secret"
	tlsCfg, _, err := server.SelfSignedTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := turnserver.New(turnserver.Config{
		TLSAddr: "127.0.0.1:0", TLS: tlsCfg,
		Addr: "127.0.0.1:0", PublicIP: lo, RelayBind: lo, Secret: secret,
		AllowPeers:     []netip.Prefix{netip.PrefixFrom(lo, 32)},
		BandwidthBytes: -1, // the load, not the cap, is measured
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addr, tlsAddr := srv.UDPAddr().String(), srv.TLSAddr().String()

	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"relays", []string{"--server", addr, "--secret", secret}, 0},
		{"relays over TLS", []string{"--tls", "--server", tlsAddr, "--secret", secret}, 0},
		{"wrong secret", []string{"--server", addr, "--secret", "not-the-secret"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runBench(context.Background(), append([]string{"turn", "--allocations", "2", "--rates", "1000,2000",
				"--duration", "500ms", "--json"}, tc.args...), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, errOut.String())
			}
			if tc.wantCode != 0 {
				if !strings.Contains(errOut.String(), "duet bench turn:") {
					t.Errorf("stderr %q does not say what failed", errOut.String())
				}
				return
			}
			var steps []turnStep
			if err := json.Unmarshal(out.Bytes(), &steps); err != nil {
				t.Fatalf("--json output %q: %v", out.String(), err)
			}
			if len(steps) != 2 || steps[0].Rate != 1000 || steps[1].Rate != 2000 {
				t.Fatalf("steps %+v, want rates 1000 and 2000", steps)
			}
			for _, s := range steps {
				// At these rates loopback delivers nearly all; a relay that
				// forwarded nothing, or a count above what was sent, is a bug.
				if s.Sent == 0 || s.Received == 0 || s.Received > s.Sent || s.Loss < 0 || s.Loss > 0.5 {
					t.Errorf("step %+v", s)
				}
			}
		})
	}

	// --alloc-rate makes and frees allocations, more than the per-address
	// quota in all: each is freed before the next.
	live := srv.Stats().Allocations
	for _, args := range [][]string{{"--server", addr}, {"--tls", "--server", tlsAddr}} {
		var out, errOut bytes.Buffer
		before := srv.Stats().AllocationsCreated
		code := runBench(context.Background(), append([]string{"turn", "--secret", secret, "--alloc-rate", "60",
			"--alloc-concurrency", "4", "--json"}, args...), &out, &errOut)
		var r struct {
			Allocations, Failed int
			PerSec              float64
		}
		if code != 0 || json.Unmarshal(out.Bytes(), &r) != nil || r.Allocations != 60 || r.Failed != 0 || r.PerSec <= 0 {
			t.Fatalf("alloc-rate %v: exit %d, %s %s", args, code, out.String(), errOut.String())
		}
		if made := srv.Stats().AllocationsCreated - before; made != 60 {
			t.Fatalf("alloc-rate %v: the server made %d allocations, want 60", args, made)
		}
	}
	// Every one was freed (a TLS one when pion's reader sees the close).
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().Allocations != live; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations live after --alloc-rate, want the %d from before", srv.Stats().Allocations, live)
		}
	}
}
