package natsbus_test

import (
	"testing"
	"time"

	"github.com/duet-call/duet/protocol"
)

// A resume token is good for one resume across the cluster: after a
// resumed on node 1, its old token (issued by node 0) evicts no one on
// either node; each replay joins as a stranger into a full room.
func TestOldTokenCannotEvictAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a := wsDial(t, nodes[0])
	ja := a.join("once", "")
	b := wsDial(t, nodes[1])
	b.join("once", "")
	expect[*protocol.PeerJoined](a)

	a.conn.NetConn().Close() // dropped: node 0 keeps a ghost
	a2 := wsDial(t, nodes[1])
	if j := a2.join("once", ja.Resume); !j.Resumed || j.PeerID != ja.PeerID {
		t.Fatalf("resume on node 1: %+v", j)
	}
	expect[*protocol.PeerJoined](b)
	waitFor(t, 10*time.Second, "node 0 to drop a's ghost", func() bool {
		return nodes[0].srv.Hub().Stats().Peers == 0
	})
	for i, n := range nodes {
		replay := wsDial(t, n)
		replay.send(&protocol.Join{V: protocol.Version, Room: "once", Resume: ja.Resume})
		if e := expect[*protocol.ErrorMessage](replay); e.Code != protocol.CodeRoomFull {
			t.Fatalf("replay on node %d: %+v, want room-full", i, e)
		}
	}
	b.send(candidate("still-a2"))
	if c := expect[*protocol.Candidate](a2); c.Candidate.Candidate != "still-a2" {
		t.Fatalf("a2 got %q", c.Candidate.Candidate)
	}
}

// A leave on one node ends the token on every node: the node that issued
// it is alive and no longer holds the place, so nobody rebuilds it.
func TestLeaveEndsTheTokenAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a := wsDial(t, nodes[0])
	ja := a.join("gone", "")
	b := wsDial(t, nodes[1])
	b.join("gone", "")
	expect[*protocol.PeerJoined](a)
	a.send(&protocol.Leave{})
	expect[*protocol.PeerLeft](b)
	for i, n := range nodes {
		c := wsDial(t, n)
		j := c.join("gone", ja.Resume)
		if j.Resumed || j.PeerID == ja.PeerID {
			t.Fatalf("node %d gave the left place back: %+v", i, j)
		}
		if pj := expect[*protocol.PeerJoined](b); pj.Resumed {
			t.Fatalf("b told %+v, want a newcomer", pj)
		}
		c.send(&protocol.Leave{})
		expect[*protocol.PeerLeft](b)
	}
}

// A node that dies takes no place with it: once the cluster has freed its
// places, its peers' tokens (issued by a node that is gone) rebuild them
// on another node, same id and role.
func TestTokenOfADeadNodeRebuildsElsewhere(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a := wsDial(t, nodes[0])
	a.join("phoenix", "")
	b := wsDial(t, nodes[1])
	jb := b.join("phoenix", "")
	expect[*protocol.PeerJoined](a)
	nodes[1].kill()
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("a told %+v", pl)
	}
	b2 := wsDial(t, nodes[0])
	if j := b2.join("phoenix", jb.Resume); !j.Resumed || j.PeerID != jb.PeerID || j.Polite != jb.Polite {
		t.Fatalf("resume after node 1 died: %+v, want %s back", j, jb.PeerID)
	}
}
