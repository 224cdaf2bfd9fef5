package natsbus_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
)

// Two Go peers on different nodes complete a call: join, offer/answer and
// candidates relayed across NATS, chat both ways.
func TestCallAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2)
	ina, inb := newInbox(), newInbox()
	a := mustDial(t, nodes[0], "across", ina.option())
	b := mustDial(t, nodes[1], "across", inb.option())
	chatRoundTrip(t, a, b, ina, inb)
	if a.Polite() == b.Polite() {
		t.Fatalf("both peers have polite=%v; roles must differ", a.Polite())
	}
}

// The limit of two is the cluster's: a third peer on a third node is
// refused with room-full, and gets in once a place is freed on another node.
func TestRoomFullAcrossThreeNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	ina, inb := newInbox(), newInbox()
	a := mustDial(t, nodes[0], "three", ina.option())
	b := mustDial(t, nodes[1], "three", inb.option())
	chatRoundTrip(t, a, b, ina, inb)

	for _, n := range nodes {
		_, err := dial(t, n, "three")
		if !errors.Is(err, client.ErrRoomFull) {
			t.Fatalf("third peer on %s: got %v, want room-full", n.srv.URL(), err)
		}
	}

	a.Close() // a clean leave frees node 0's place in the directory at once
	inc := newInbox()
	var c *client.Call
	waitFor(t, 10*time.Second, "the freed place to be taken on node 2", func() bool {
		var err error
		c, err = dial(t, nodes[2], "three", inc.option())
		return err == nil
	})
	chatRoundTrip(t, b, c, inb, inc)
}

// A node that dies frees its peers' places: the partner on another node is
// told peer-left within the liveness bound, and the room takes a newcomer.
func TestNodeDeathFreesPlaces(t *testing.T) {
	_, nodes := startCluster(t, 2)
	ina, inb := newInbox(), newInbox()
	sta := newStates()
	a := mustDial(t, nodes[0], "death", ina.option(), sta.option())
	b := mustDial(t, nodes[1], "death", inb.option())
	chatRoundTrip(t, a, b, ina, inb)

	nodes[1].kill()
	// The bound is nodeTimeout plus a heartbeat tick; the deadline here
	// is only a hang guard, generous for a loaded machine.
	took := sta.waitFor(t, client.StatePeerLeft, 10*nodeTimeout)
	t.Logf("peer-left %v after the node died (bound %v + %v)", took, nodeTimeout, heartbeat)

	inc := newInbox()
	c := mustDial(t, nodes[0], "death", inc.option())
	chatRoundTrip(t, a, c, ina, inc)
}

// A NATS outage is survived: a call across nodes keeps its media path (and
// chat), the nodes reconnect when NATS is back, and a new call across
// nodes works afterwards.
func TestNATSRestart(t *testing.T) {
	ns, nodes := startCluster(t, 2)
	ina, inb := newInbox(), newInbox()
	a := mustDial(t, nodes[0], "before", ina.option())
	b := mustDial(t, nodes[1], "before", inb.option())
	chatRoundTrip(t, a, b, ina, inb)

	ns.stop()
	waitFor(t, 10*time.Second, "nodes to see NATS gone", func() bool {
		return nodes[0].bus.Ready() != nil && nodes[1].bus.Ready() != nil
	})
	for _, n := range nodes {
		if code := readyz(t, n); code != 503 {
			t.Fatalf("/readyz with NATS down: %d, want 503", code)
		}
	}
	ns.start()
	waitFor(t, 20*time.Second, "nodes to reconnect", func() bool {
		return nodes[0].bus.Ready() == nil && nodes[1].bus.Ready() == nil
	})
	for _, n := range nodes {
		if code := readyz(t, n); code != 200 {
			t.Fatalf("/readyz after NATS is back: %d, want 200", code)
		}
	}
	for _, n := range nodes {
		if r := n.bus.Stats().Restored; r != 0 {
			t.Fatalf("a node restored %d places into a directory that kept them", r)
		}
	}

	// The call from before the outage still works peer to peer.
	chatRoundTrip(t, a, b, ina, inb)

	// JetStream may need a moment after a restart; a join refused as
	// busy in that moment is retried, as the web app does.
	inc, ind := newInbox(), newInbox()
	var c *client.Call
	waitFor(t, 20*time.Second, "a join to be admitted after the restart", func() bool {
		var err error
		c, err = dial(t, nodes[0], "after", inc.option())
		if err != nil && !errors.Is(err, client.ErrServerBusy) {
			t.Fatalf("join after restart: %v", err)
		}
		return err == nil
	})
	d := mustDial(t, nodes[1], "after", ind.option())
	chatRoundTrip(t, c, d, inc, ind)
}

func readyz(t testing.TB, n *node) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL()+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A NATS server that comes back without its store (the bucket is gone) is
// survived too: the directory bucket is made again, every node writes its
// peers' places back (so a call in progress still refuses a third), and new
// calls work.
func TestNATSRestartWithoutStore(t *testing.T) {
	ns, nodes := startCluster(t, 3)
	ina, inb := newInbox(), newInbox()
	a := mustDial(t, nodes[0], "kept", ina.option())
	b := mustDial(t, nodes[1], "kept", inb.option())
	chatRoundTrip(t, a, b, ina, inb)
	ns.stop()
	ns.opts.StoreDir = t.TempDir()
	ns.start()
	waitFor(t, 20*time.Second, "nodes to reconnect", func() bool {
		return nodes[0].bus.Ready() == nil && nodes[1].bus.Ready() == nil && nodes[2].bus.Ready() == nil
	})
	inc, ind := newInbox(), newInbox()
	var c *client.Call
	waitFor(t, 20*time.Second, "a join to be admitted by the new server", func() bool {
		var err error
		c, err = dial(t, nodes[0], "fresh", inc.option())
		if err != nil && !errors.Is(err, client.ErrServerBusy) {
			t.Fatalf("join after restart: %v", err)
		}
		return err == nil
	})
	d := mustDial(t, nodes[1], "fresh", ind.option())
	chatRoundTrip(t, c, d, inc, ind)
	if _, err := dial(t, nodes[1], "fresh"); !errors.Is(err, client.ErrRoomFull) {
		t.Fatalf("third peer after the bucket was remade: %v, want room-full", err)
	}

	waitFor(t, 20*time.Second, "both nodes to restore their places", func() bool {
		return nodes[0].bus.Stats().Restored >= 1 && nodes[1].bus.Stats().Restored >= 1
	})
	// Node 2 never saw room "kept": only the restored directory can say
	// it is full.
	if _, err := dial(t, nodes[2], "kept"); !errors.Is(err, client.ErrRoomFull) {
		t.Fatalf("third peer in the call from before the restart: %v, want room-full", err)
	}
	chatRoundTrip(t, a, b, ina, inb)
}
