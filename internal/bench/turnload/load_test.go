package turnload

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/turnserver"
)

// TestSmoke runs a short, slow load through a real embedded server and the
// forwarder: it checks that datagrams arrive, never how fast.
func TestSmoke(t *testing.T) {
	srv, err := turnserver.New(turnserver.Config{
		Addr: "127.0.0.1:0", PublicIP: netip.MustParseAddr("127.0.0.1"), RelayBind: netip.MustParseAddr("127.0.0.1"),
		Secret: "s", ReadLoops: 1, MinPort: 45000, MaxPort: 45999,
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()

	tests := []struct {
		name string
		cfg  func() (Config, func())
	}{
		{"turn", func() (Config, func()) {
			return Config{Server: srv.UDPAddr().String(), Secret: "s", Allocations: 2}, func() {}
		}},
		{"turn echo", func() (Config, func()) {
			return Config{Server: srv.UDPAddr().String(), Secret: "s", Allocations: 2, Echo: true}, func() {}
		}},
		{"forwarder", func() (Config, func()) {
			sink := "127.0.0.1:45999" // inside the range no relay uses at this rate
			f, err := NewForwarder("127.0.0.1:0", sink, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			return Config{Server: f.Addr().String(), Forward: true, Sink: sink, Allocations: 2}, func() { _ = f.Close() }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, done := tc.cfg()
			defer done()
			l, err := Open(cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			r, err := l.Step(context.Background(), 1000, 300*time.Millisecond)
			if err != nil {
				t.Fatalf("Step: %v", err)
			}
			if r.Sent == 0 || r.Received == 0 || r.Received > r.Sent {
				t.Fatalf("sent %d, received %d", r.Sent, r.Received)
			}
		})
	}
	if st := srv.Stats(); st.AllocationsCreated != 4 {
		t.Fatalf("server made %d allocations, want 4", st.AllocationsCreated)
	}
}

func TestCPU(t *testing.T) {
	if _, err := ProcessCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessCPU(-1); err == nil {
		t.Fatal("ProcessCPU(-1) succeeded")
	}
}
