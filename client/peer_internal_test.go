package client

import (
	"log/slog"
	"testing"
	"time"
)

// TestEveryPeerIsKicked: a fresh peer connection always reaches the loop
// with a negotiationneeded kick for its chat channel. pion raises the flag
// on its own goroutine as soon as the channel is added, and only once; a
// handler registered after that point missed it, and the call then sat in
// connecting for good when both sides missed it.
func TestEveryPeerIsKicked(t *testing.T) {
	cfg := defaultConfig()
	c := &Call{cfg: cfg, log: slog.New(slog.DiscardHandler), api: newAPI(&cfg), events: make(chan func(), 1024), done: make(chan struct{})}
	defer c.wg.Wait()
	defer close(c.done) // lets pion callbacks blocked in post return
	for i := range 200 {
		p, err := c.openPeer(nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.negotiate:
		case <-time.After(5 * time.Second): // a hang detector, not a timing
			p.pc.Close()
			t.Fatalf("peer %d: negotiationneeded never reached the loop", i)
		}
		if err := p.pc.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
