package client_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
)

// On one machine with no ICE servers the only candidates are host ones, so
// both calls must report a host-to-host pair whose ends mirror each other.
// The NAT lab (internal/natlab) covers srflx and relay pairs.
func TestPathHostOnly(t *testing.T) {
	srv := startServer(t)
	noServers := client.WithICEServers(nil)
	a := dial(t, srv.URL(), "path-room", noServers)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Path(ctx); !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("Path alone in the room: err %v, want ErrNotConnected", err)
	}
	b := dial(t, srv.URL(), "path-room", noServers)
	waitChat(t, a, b)
	pa, err := a.Path(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Path(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []client.Path{pa, pb} {
		if p.Local.Type != "host" || p.Local.Protocol != "udp" || p.Local.RelayProtocol != "" {
			t.Errorf("local end %+v, want a udp host candidate", p.Local)
		}
		// netip, not net.ParseIP: the pair may be IPv6 link-local, with a zone.
		if _, err := netip.ParseAddrPort(p.Local.Address); err != nil {
			t.Errorf("local address %q is not ip:port", p.Local.Address)
		}
	}
	if pa.Local.Address != pb.Remote.Address || pb.Local.Address != pa.Remote.Address {
		t.Errorf("pairs do not mirror: a %v, b %v", pa, pb)
	}
}
