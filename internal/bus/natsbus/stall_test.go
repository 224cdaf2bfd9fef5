package natsbus_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/duet-call/duet/protocol"
)

// quiet reports whether nothing arrives on p within d.
func (p *wsPeer) quiet(d time.Duration) bool {
	p.conn.SetReadDeadline(time.Now().Add(d))
	_, _, err := p.conn.NextReader()
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A join that waits on the room directory (NATS down) must not hold up
// anyone else on the node: connections share a few pollers, and a join
// done on the poller would stall every room read by it until the claim
// timed out.
func TestJoinWaitingOnNATSDoesNotStallOtherRooms(t *testing.T) {
	nats, nodes := startCluster(t, 1)
	a, b := wsDial(t, nodes[0]), wsDial(t, nodes[0])
	a.join("busy", "")
	b.join("busy", "")
	expect[*protocol.PeerJoined](a)

	nats.stop()
	// More joiners than pollers, so every poller would be stuck.
	var waiting []*wsPeer
	for i := range 8 {
		c := wsDial(t, nodes[0])
		c.send(&protocol.Join{V: protocol.Version, Room: fmt.Sprintf("stuck%d", i)})
		waiting = append(waiting, c)
	}
	time.Sleep(100 * time.Millisecond) // let the joins reach the directory
	a.send(candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host"))
	expect[*protocol.Candidate](b)
	// The premise: the joins were still waiting when the relay went by.
	if !waiting[0].quiet(10 * time.Millisecond) {
		t.Fatal("a join was answered before the relay; the test stalled nothing")
	}
	// The others are answered once the directory gives up on NATS.
	for _, c := range waiting[1:] {
		if e := expect[*protocol.ErrorMessage](c); e.Code != protocol.CodeOverCapacity {
			t.Fatalf("join without NATS: %s, want %s", e.Code, protocol.CodeOverCapacity)
		}
	}
}
