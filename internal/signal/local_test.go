package signal

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/bus"
	"github.com/duet-call/duet/protocol"
)

// recorder is a LocalHandler that keeps what it hears.
type recorder struct {
	mu     sync.Mutex
	got    []protocol.Message
	ended  string
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 64)} }

func (r *recorder) Relay(m protocol.Message) {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	r.signal <- struct{}{}
}

func (r *recorder) Ended(reason string) {
	r.mu.Lock()
	r.ended = reason
	r.mu.Unlock()
	r.signal <- struct{}{}
}

// wait waits for the handler to have heard n messages, or to have ended
// when n is -1.
func (r *recorder) wait(t *testing.T, n int) []protocol.Message {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		got, ended := append([]protocol.Message(nil), r.got...), r.ended
		r.mu.Unlock()
		if (n >= 0 && len(got) >= n) || (n < 0 && ended != "") {
			return got
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("handler heard %d messages, ended %q; want %d", len(got), ended, n)
		}
	}
}

func (r *recorder) endedWith() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

func offer() *protocol.Description {
	return &protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: "v=0\r\n"}}
}

func TestJoinLocalRefusals(t *testing.T) {
	h, url := startHub(t, Config{})
	if _, err := h.JoinLocal("empty", protocol.KindWHIP, "k", newRecorder()); !errors.Is(err, ErrNoPeer) {
		t.Errorf("empty room: err = %v, want ErrNoPeer", err)
	}
	var pe *protocol.Error
	if _, err := h.JoinLocal("bad room!", protocol.KindWHIP, "k", newRecorder()); !errors.As(err, &pe) || pe.Code != protocol.CodeBadRoom {
		t.Errorf("bad room: err = %v, want bad-room", err)
	}
	pair(t, url, "full")
	if _, err := h.JoinLocal("full", protocol.KindWHEP, "k", newRecorder()); !errors.As(err, &pe) || pe.Code != protocol.CodeRoomFull {
		t.Errorf("full room: err = %v, want room-full", err)
	}
	// A person whose connection dropped is held as a ghost: not there to answer.
	g := dial(t, url)
	g.join("ghost")
	expect[*protocol.Joined](g)
	g.conn.Close()
	waitFor(t, "the ghost", func() bool { return h.Stats().Ghosts == 1 })
	if _, err := h.JoinLocal("ghost", protocol.KindWHIP, "k", newRecorder()); !errors.Is(err, ErrPeerAway) {
		t.Errorf("ghost partner: err = %v, want ErrPeerAway", err)
	}
	if st := h.Stats(); st.Sessions != 2 { // the pair's; the ghost's connection is gone
		t.Errorf("sessions = %d after refused local joins, want 2", st.Sessions)
	}
}

func TestJoinLocalOnClusterRefused(t *testing.T) {
	type clusterBus struct{ bus.Local }
	h, _ := startHub(t, Config{Bus: clusterBus{}})
	if _, err := h.JoinLocal("r", protocol.KindWHIP, "k", newRecorder()); !errors.Is(err, ErrClustered) {
		t.Fatalf("err = %v, want ErrClustered", err)
	}
}

func TestLocalRelaysBothWays(t *testing.T) {
	h, url := startHub(t, Config{})
	a := dial(t, url)
	a.join("r")
	ja := expect[*protocol.Joined](a)
	rec := newRecorder()
	l, err := h.JoinLocal("r", protocol.KindWHIP, "k", rec)
	if err != nil {
		t.Fatal(err)
	}
	pj := expect[*protocol.PeerJoined](a)
	if pj.PeerKind != protocol.KindWHIP || pj.Peer != l.PeerID() || pj.Resumed {
		t.Fatalf("peer-joined = %+v, want the local peer with peerKind whip", pj)
	}
	if l.Polite() == ja.Polite {
		t.Errorf("local polite = %v, same as its partner's", l.Polite())
	}
	if err := l.Send(offer()); err != nil {
		t.Fatal(err)
	}
	if d := expect[*protocol.Description](a); d.Description.Type != "offer" {
		t.Fatalf("partner got %+v, want the offer", d)
	}
	// A candidate the hub would refuse from a client is refused from a local.
	if err := l.Send(&protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host"}}); err == nil {
		t.Error("a candidate without sdpMid or sdpMLineIndex was sent")
	}
	// An offer to the local place is refused back to its sender.
	a.send(offer())
	if e := expect[*protocol.ErrorMessage](a); e.Code != protocol.CodeOfferRefused || e.Ref != protocol.TypeDescription {
		t.Fatalf("error = %+v, want offer-refused for description", e)
	}
	a.send(&protocol.Description{Description: protocol.SessionDescription{Type: "answer", SDP: "v=0\r\n"}})
	a.send(candidate(1))
	got := rec.wait(t, 2)
	if d, ok := got[0].(*protocol.Description); !ok || d.Description.Type != "answer" {
		t.Fatalf("handler got %+v first, want the answer (and never the refused offer)", got[0])
	}
	if c, ok := got[1].(*protocol.Candidate); !ok || c.Candidate.Candidate != candidate(1).Candidate.Candidate {
		t.Fatalf("handler got %+v second, want the candidate", got[1])
	}
	l.Leave()
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonLeft {
		t.Fatalf("peer-left reason %q, want left", pl.Reason)
	}
	l.Leave() // twice is harmless
	if rec.endedWith() != "" {
		t.Errorf("Ended(%q) called after the holder's own Leave", rec.endedWith())
	}
	if st := h.Stats(); st.Sessions != 1 || st.Peers != 1 {
		t.Errorf("stats after leave = %+v, want only a's session and place", st)
	}
}

func TestLocalEndsWithItsPartner(t *testing.T) {
	h, url := startHub(t, Config{})
	a := dial(t, url)
	a.join("r")
	expect[*protocol.Joined](a)
	rec := newRecorder()
	l, err := h.JoinLocal("r", protocol.KindWHEP, "k", rec)
	if err != nil {
		t.Fatal(err)
	}
	expect[*protocol.PeerJoined](a)
	a.send(&protocol.Leave{})
	rec.wait(t, -1)
	if got := rec.endedWith(); got != protocol.ReasonLeft {
		t.Errorf("Ended(%q), want the partner's reason left", got)
	}
	var pe *protocol.Error
	if err := l.Send(offer()); !errors.As(err, &pe) || pe.Code != protocol.CodeNotJoined {
		t.Errorf("Send after the end: %v, want not-joined", err)
	}
	// a's next join finds an empty room: no stale local place.
	a.join("r")
	if j := expect[*protocol.Joined](a); j.PeerPresent {
		t.Errorf("rejoin = %+v: the ended local place is still there", j)
	}
	if st := h.Stats(); st.Sessions != 1 {
		t.Errorf("sessions = %d, want 1", st.Sessions)
	}
}

func TestDismiss(t *testing.T) {
	h, url := startHub(t, Config{})
	a := dial(t, url)
	a.send(&protocol.Dismiss{})
	a.expectError(protocol.CodeNotJoined)
	a.join("r")
	expect[*protocol.Joined](a)
	a.send(&protocol.Dismiss{})
	a.expectError(protocol.CodeCannotDismiss) // alone
	rec := newRecorder()
	if _, err := h.JoinLocal("r", protocol.KindWHIP, "k", rec); err != nil {
		t.Fatal(err)
	}
	expect[*protocol.PeerJoined](a)
	a.send(&protocol.Dismiss{})
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDismissed {
		t.Fatalf("peer-left reason %q, want dismissed", pl.Reason)
	}
	rec.wait(t, -1)
	if got := rec.endedWith(); got != protocol.ReasonDismissed {
		t.Errorf("Ended(%q), want dismissed", got)
	}
	// People are not sent away.
	b := dial(t, url)
	b.join("r")
	expect[*protocol.Joined](b)
	expect[*protocol.PeerJoined](a)
	a.send(&protocol.Dismiss{})
	a.expectError(protocol.CodeCannotDismiss)
}

func TestResumeNamesTheLocalPeer(t *testing.T) {
	h, url := startHub(t, Config{})
	a := dial(t, url)
	a.join("r")
	ja := expect[*protocol.Joined](a)
	rec := newRecorder()
	if _, err := h.JoinLocal("r", protocol.KindWHEP, "k", rec); err != nil {
		t.Fatal(err)
	}
	expect[*protocol.PeerJoined](a)
	a.conn.Close() // dropped, not closed: a ghost
	waitFor(t, "the ghost", func() bool { return h.Stats().Ghosts == 1 })
	a2 := dial(t, url)
	a2.send(&protocol.Join{V: protocol.Version, Room: "r", Resume: ja.Resume})
	j := expect[*protocol.Joined](a2)
	if !j.Resumed || !j.PeerPresent || j.PeerKind != protocol.KindWHEP {
		t.Fatalf("resumed joined = %+v, want the WHEP place named", j)
	}
	if rec.endedWith() != "" {
		t.Errorf("the local place ended (%q) across its partner's resume", rec.endedWith())
	}
}

func TestShutdownEndsLocalPlaces(t *testing.T) {
	h, url := startHub(t, Config{})
	a := dial(t, url)
	a.join("r")
	expect[*protocol.Joined](a)
	rec := newRecorder()
	if _, err := h.JoinLocal("r", protocol.KindWHIP, "k", rec); err != nil {
		t.Fatal(err)
	}
	expect[*protocol.PeerJoined](a)
	done := make(chan error, 1)
	go func() { done <- h.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return: the local place kept it waiting")
	}
	if got := rec.endedWith(); got != protocol.ByeShutdown {
		t.Errorf("Ended(%q), want shutdown", got)
	}
	if _, err := h.JoinLocal("r", protocol.KindWHIP, "k", newRecorder()); err == nil {
		t.Error("a local join was admitted while shutting down")
	}
}

func TestLocalPlacesCountAgainstAddressLimits(t *testing.T) {
	h, url := startHub(t, Config{MaxConnsPerIP: 2, JoinBurst: 100, JoinRate: 100})
	for _, room := range []string{"a", "b"} {
		c := dial(t, url)
		c.join(room)
		expect[*protocol.Joined](c)
	}
	if _, err := h.JoinLocal("a", protocol.KindWHIP, "198.51.100.7", newRecorder()); err != nil {
		t.Fatal(err)
	}
	// Two from the same address, then a third.
	if _, err := h.JoinLocal("b", protocol.KindWHIP, "198.51.100.7", newRecorder()); err != nil {
		t.Fatal(err)
	}
	var pe *protocol.Error
	if _, err := h.JoinLocal("b", protocol.KindWHIP, "198.51.100.7", newRecorder()); !errors.As(err, &pe) || pe.Code != protocol.CodeTooManyConns {
		t.Fatalf("third from one address: %v, want too-many-connections", err)
	}

	h2, url2 := startHub(t, Config{JoinBurst: 1, JoinRate: 0.001})
	c := dial(t, url2)
	c.join("r")
	expect[*protocol.Joined](c)
	l, err := h2.JoinLocal("r", protocol.KindWHIP, "203.0.113.9", newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	expect[*protocol.PeerJoined](c)
	l.Leave()
	expect[*protocol.PeerLeft](c)
	if _, err := h2.JoinLocal("r", protocol.KindWHIP, "203.0.113.9", newRecorder()); !errors.As(err, &pe) || pe.Code != protocol.CodeRateLimited {
		t.Fatalf("second join over the rate: %v, want rate-limited", err)
	}
}
