package natsbus_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// wsPeer speaks the signaling protocol by hand, to see every message.
type wsPeer struct {
	t    *testing.T
	conn *websocket.Conn
}

func wsDial(t *testing.T, n *node) *wsPeer {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.srv.URL(), "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsPeer{t: t, conn: conn}
}

func (p *wsPeer) send(m protocol.Message) {
	p.t.Helper()
	b, err := protocol.Encode(m)
	if err == nil {
		err = p.conn.WriteMessage(websocket.TextMessage, b)
	}
	if err != nil {
		p.t.Fatalf("send %T: %v", m, err)
	}
}

func (p *wsPeer) next() protocol.Message {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := p.conn.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		p.t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func expect[T protocol.Message](p *wsPeer) T {
	p.t.Helper()
	m := p.next()
	v, ok := m.(T)
	if !ok {
		var want T
		p.t.Fatalf("got %T %+v, want %T", m, m, want)
	}
	return v
}

func (p *wsPeer) join(room, resume string) *protocol.Joined {
	p.t.Helper()
	p.send(&protocol.Join{V: protocol.Version, Room: room, Resume: resume})
	return expect[*protocol.Joined](p)
}

func candidate(s string) *protocol.Candidate {
	mid := "0"
	return &protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: s, SDPMid: &mid}}
}

// Relays across nodes keep their order, and a resume token works on any
// node: a peer whose connection dropped on node 0 takes its place back on
// node 1, then on node 0 again, pushing out its older connection, while its
// partner sees only peer-joined(resumed).
func TestOrderAndResumeAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a := wsDial(t, nodes[0])
	ja := a.join("hop", "")
	b := wsDial(t, nodes[1])
	jb := b.join("hop", "")
	if !jb.PeerPresent || jb.Peer != ja.PeerID || jb.Polite == ja.Polite {
		t.Fatalf("b joined %+v beside a %+v", jb, ja)
	}
	if pj := expect[*protocol.PeerJoined](a); pj.Peer != jb.PeerID {
		t.Fatalf("a told %+v, want peer %s", pj, jb.PeerID)
	}

	const n = 60 // under the send queue (64), which a burst may fill before the writer runs
	for i := range n {
		a.send(candidate(fmt.Sprint("c", i)))
	}
	for i := range n {
		if c := expect[*protocol.Candidate](b); c.Candidate.Candidate != fmt.Sprint("c", i) {
			t.Fatalf("relay %d arrived as %q: order lost", i, c.Candidate.Candidate)
		}
	}

	// a's connection drops without a close frame: node 0 keeps a ghost.
	a.conn.NetConn().Close()
	a2 := wsDial(t, nodes[1])
	j2 := a2.join("hop", ja.Resume)
	if !j2.Resumed || j2.PeerID != ja.PeerID || j2.Polite != ja.Polite || j2.Peer != jb.PeerID {
		t.Fatalf("resume on node 1: %+v, want a's place back (was %+v)", j2, ja)
	}
	if pj := expect[*protocol.PeerJoined](b); !pj.Resumed || pj.Peer != ja.PeerID {
		t.Fatalf("b told %+v, want a resumed", pj)
	}
	waitFor(t, 10*time.Second, "node 0 to drop a's ghost", func() bool {
		return nodes[0].srv.Hub().Stats().Peers == 0
	})
	a2.send(candidate("after-resume"))
	if c := expect[*protocol.Candidate](b); c.Candidate.Candidate != "after-resume" {
		t.Fatalf("b got %q", c.Candidate.Candidate)
	}

	// Back to node 0 with the token again, while a2 is still connected:
	// a2 is told it was replaced, b sees the same peer again.
	a3 := wsDial(t, nodes[0])
	j3 := a3.join("hop", j2.Resume)
	if !j3.Resumed || j3.PeerID != ja.PeerID {
		t.Fatalf("second resume: %+v", j3)
	}
	if bye := expect[*protocol.Bye](a2); bye.Reason != protocol.ByeReplaced {
		t.Fatalf("a2 got bye %q, want replaced", bye.Reason)
	}
	if pj := expect[*protocol.PeerJoined](b); !pj.Resumed || pj.Peer != ja.PeerID {
		t.Fatalf("b told %+v, want a resumed", pj)
	}
	b.send(candidate("to-a3"))
	if c := expect[*protocol.Candidate](a3); c.Candidate.Candidate != "to-a3" {
		t.Fatalf("a3 got %q", c.Candidate.Candidate)
	}

	// A clean leave reaches the partner on the other node at once.
	a3.send(&protocol.Leave{})
	if pl := expect[*protocol.PeerLeft](b); pl.Reason != protocol.ReasonLeft {
		t.Fatalf("b told %+v, want left", pl)
	}
	// And the room takes someone new on either node.
	c := wsDial(t, nodes[0])
	waitFor(t, 10*time.Second, "a's place to be free", func() bool {
		c.send(&protocol.Join{V: protocol.Version, Room: "hop"})
		switch m := c.next().(type) {
		case *protocol.Joined:
			return true
		case *protocol.ErrorMessage:
			if m.Code != protocol.CodeRoomFull {
				t.Fatalf("join: %+v", m)
			}
			return false
		default:
			t.Fatalf("join answered %T", m)
			return false
		}
	})
}

// Pairs whose two peers join on two nodes at the same moment all end up
// paired: whichever claims second is told of the first, and whatever the
// partner sends while a join is between its claim and its place is kept
// for it, not lost.
func TestSimultaneousJoinsAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 2)
	const pairs = 90 // under the per-IP connection cap (100) on each node
	type pair struct{ a, b *wsPeer }
	ps := make([]pair, pairs)
	for i := range ps {
		ps[i] = pair{wsDial(t, nodes[0]), wsDial(t, nodes[1])}
	}
	for i, p := range ps {
		room := fmt.Sprint("race-", i)
		p.a.send(&protocol.Join{V: protocol.Version, Room: room})
		p.b.send(&protocol.Join{V: protocol.Version, Room: room})
	}
	// Each side, as soon as it knows its partner, sends it a candidate
	// naming itself; each must then receive the other's.
	for i, p := range ps {
		for _, side := range []struct {
			me   *wsPeer
			name string
		}{{p.a, "a"}, {p.b, "b"}} {
			j := expect[*protocol.Joined](side.me)
			if !j.PeerPresent {
				expect[*protocol.PeerJoined](side.me)
			}
			side.me.send(candidate(fmt.Sprint(side.name, i)))
		}
	}
	for i, p := range ps {
		if c := expect[*protocol.Candidate](p.b); c.Candidate.Candidate != fmt.Sprint("a", i) {
			t.Fatalf("pair %d: b got %q", i, c.Candidate.Candidate)
		}
		if c := expect[*protocol.Candidate](p.a); c.Candidate.Candidate != fmt.Sprint("b", i) {
			t.Fatalf("pair %d: a got %q", i, c.Candidate.Candidate)
		}
	}
}
