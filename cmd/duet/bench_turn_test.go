package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/turnserver"
)

// TestBenchTurn runs duet bench turn against the embedded TURN server on
// loopback (allowed to relay to loopback, where the sink is) and checks
// that what it reports adds up; a wrong secret is a clear failure.
func TestBenchTurn(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	const secret = "bench-secret"
	srv, err := turnserver.New(turnserver.Config{
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
	addr := srv.UDPAddr().String()

	tests := []struct {
		name     string
		secret   string
		wantCode int
	}{
		{"relays", secret, 0},
		{"wrong secret", "not-the-secret", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runBench(context.Background(), []string{"turn", "--server", addr, "--secret", tc.secret,
				"--allocations", "2", "--rates", "1000,2000", "--duration", "500ms", "--json"}, &out, &errOut)
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
}
