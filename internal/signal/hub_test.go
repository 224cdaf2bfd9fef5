package signal

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/duet-call/duet/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
	os.Exit(0)
}

func TestJoinRolesAndPresence(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := dial(t, url), dial(t, url)

	a.join("room1")
	ja := expect[*protocol.Joined](a)
	if ja.Polite || ja.PeerPresent || ja.Room != "room1" || ja.V != protocol.Version || ja.ICEServers == nil {
		t.Fatalf("first joined = %+v, want impolite, alone, iceServers present", ja)
	}
	b.join("room1")
	jb := expect[*protocol.Joined](b)
	if !jb.Polite || !jb.PeerPresent {
		t.Fatalf("second joined = %+v, want polite and peer present", jb)
	}
	expect[*protocol.PeerJoined](a)

	// b reloads: a stays impolite, the newcomer is polite again.
	b.closeClean()
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("peer-left reason = %q, want disconnected", pl.Reason)
	}
	c := dial(t, url)
	c.join("room1")
	if jc := expect[*protocol.Joined](c); !jc.Polite || !jc.PeerPresent {
		t.Fatalf("rejoin = %+v, want polite and peer present", jc)
	}
	expect[*protocol.PeerJoined](a)
}

func TestRoleOfNewcomerIsOppositeOfWhoStayed(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := pair(t, url, "r")
	// The impolite first peer leaves; the polite one stays, so the next
	// newcomer must be impolite.
	a.send(&protocol.Leave{})
	expect[*protocol.PeerLeft](b)
	c := dial(t, url)
	c.join("r")
	if j := expect[*protocol.Joined](c); j.Polite {
		t.Fatalf("newcomer polite = true; the staying peer is polite, so it must be impolite")
	}
}

func TestRoomFull(t *testing.T) {
	_, url := startHub(t, Config{})
	pair(t, url, "full")
	c := dial(t, url)
	c.join("full")
	c.expectError(protocol.CodeRoomFull)
	// Not admitted, but the connection stays usable: it can join elsewhere.
	c.join("other")
	expect[*protocol.Joined](c)
}

func TestIceServersFromConfig(t *testing.T) {
	var mu sync.Mutex // the join goroutine writes, the test reads: a socket between them is no sync for -race
	var gotHost, gotUser string
	_, url := startHub(t, Config{ICEServers: func(host, user string) []protocol.ICEServer {
		mu.Lock()
		gotHost, gotUser = host, user
		mu.Unlock()
		return []protocol.ICEServer{{URLs: []string{"stun:" + host + ":3478"}}}
	}})
	a := dial(t, url)
	a.join("ice")
	j := expect[*protocol.Joined](a)
	mu.Lock()
	defer mu.Unlock()
	if len(j.ICEServers) != 1 || j.ICEServers[0].URLs[0] != "stun:127.0.0.1:3478" || gotHost != "127.0.0.1" {
		t.Fatalf("iceServers = %+v (host %q), want the configured stun URL for 127.0.0.1", j.ICEServers, gotHost)
	}
	// The credentials name the place, so the TURN server can count them
	// per user and ask whether the place is still held.
	if gotUser != j.PeerID || j.PeerID == "" {
		t.Fatalf("credentials minted for user %q, want the peer id %q", gotUser, j.PeerID)
	}
}

// HoldsPlace is what the embedded TURN server asks before a new
// allocation: true while the place is held (a ghost included), false
// once it is given up.
func TestHoldsPlaceFollowsThePlace(t *testing.T) {
	hub, url := startHub(t, Config{ResumeGrace: time.Hour})
	a, b := dial(t, url), dial(t, url)
	a.join("r")
	ida := expect[*protocol.Joined](a).PeerID
	b.join("r")
	idb := expect[*protocol.Joined](b).PeerID
	expect[*protocol.PeerJoined](a)
	if !hub.HoldsPlace(ida) || !hub.HoldsPlace(idb) {
		t.Fatal("HoldsPlace false for a peer in a room")
	}
	if hub.HoldsPlace("someone-else") {
		t.Fatal("HoldsPlace true for an unknown id")
	}
	a.send(&protocol.Leave{})
	expect[*protocol.PeerLeft](b)
	if hub.HoldsPlace(ida) {
		t.Fatal("HoldsPlace true after leave")
	}
	b.conn.Close() // a drop: the place is held as a ghost
	waitFor(t, "a ghost", func() bool { return hub.Stats().Ghosts == 1 })
	if !hub.HoldsPlace(idb) {
		t.Fatal("a ghost's place is not held")
	}
}

func TestLeaveTellsPartnerAndAllowsRejoin(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := pair(t, url, "r")
	b.send(&protocol.Leave{})
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonLeft {
		t.Fatalf("reason = %q, want left", pl.Reason)
	}
	b.send(&protocol.Leave{})
	b.expectError(protocol.CodeNotJoined)
	b.join("r")
	expect[*protocol.Joined](b)
	expect[*protocol.PeerJoined](a)
}

func TestRelayInOrderAndUnchanged(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := pair(t, url, "r")
	offer := &protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}}
	a.send(offer)
	got := expect[*protocol.Description](b)
	if got.Description != offer.Description {
		t.Fatalf("description = %+v, want %+v", got.Description, offer.Description)
	}
	const n = 50 // under the send queue, so nothing is dropped as slow
	for i := range n {
		a.send(candidate(i))
	}
	for i := range n {
		c := expect[*protocol.Candidate](b)
		if want := candidate(i).Candidate.Candidate; c.Candidate.Candidate != want {
			t.Fatalf("candidate %d = %q, want %q", i, c.Candidate.Candidate, want)
		}
	}
	// Extra fields a client adds are not passed on.
	b.sendRaw(`{"type":"candidate","candidate":{"candidate":"","sdpMid":"0"},"evil":"x"}`)
	a.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, raw, err := a.conn.ReadMessage()
	if err != nil || strings.Contains(string(raw), "evil") {
		t.Fatalf("relayed %s (err %v); want the unknown field stripped", raw, err)
	}
}

func TestRelayNeverCrossesRooms(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := pair(t, url, "r1")
	c, d := pair(t, url, "r2")
	a.send(candidate(1))
	c.send(candidate(2))
	if got := expect[*protocol.Candidate](b); !strings.HasPrefix(got.Candidate.Candidate, "candidate:1 ") {
		t.Fatalf("b got %q", got.Candidate.Candidate)
	}
	if got := expect[*protocol.Candidate](d); !strings.HasPrefix(got.Candidate.Candidate, "candidate:2 ") {
		t.Fatalf("d got %q", got.Candidate.Candidate)
	}
}

func TestBadInput(t *testing.T) {
	long := strings.Repeat("a", protocol.MaxRoomLen+1)
	tests := []struct {
		name   string
		joined bool // join room "ok" first
		frame  string
		code   protocol.Code
	}{
		{"not json", false, `hello`, protocol.CodeBadJSON},
		{"truncated json", false, `{"type":"join"`, protocol.CodeBadJSON},
		{"json array", false, `[1,2]`, protocol.CodeBadJSON},
		{"no type", false, `{"room":"x"}`, protocol.CodeBadMessage},
		{"unknown type", false, `{"type":"teleport"}`, protocol.CodeUnknownType},
		{"server-only type", false, `{"type":"joined","room":"x"}`, protocol.CodeNotAllowed},
		{"relay before join", false, `{"type":"description","description":{"type":"offer","sdp":"v=0"}}`, protocol.CodeNotJoined},
		{"candidate before join", false, `{"type":"candidate","candidate":{"candidate":"","sdpMid":"0"}}`, protocol.CodeNotJoined},
		{"leave before join", false, `{"type":"leave"}`, protocol.CodeNotJoined},
		{"second join", true, `{"type":"join","v":1,"room":"ok"}`, protocol.CodeAlreadyIn},
		{"room too long", false, `{"type":"join","v":1,"room":"` + long + `"}`, protocol.CodeBadRoom},
		{"room odd chars", false, `{"type":"join","v":1,"room":"../etc"}`, protocol.CodeBadRoom},
		{"room empty", false, `{"type":"join","v":1,"room":""}`, protocol.CodeBadRoom},
		{"room unicode", false, `{"type":"join","v":1,"room":"r\u00e9"}`, protocol.CodeBadRoom},
		{"no version", false, `{"type":"join","room":"x"}`, protocol.CodeBadVersion},
		{"future version", false, `{"type":"join","v":99,"room":"x"}`, protocol.CodeBadVersion},
		{"wrong field type", false, `{"type":"join","v":"1","room":"x"}`, protocol.CodeBadMessage},
		{"bad sdp type", true, `{"type":"description","description":{"type":"bogus","sdp":"v=0"}}`, protocol.CodeBadMessage},
		{"empty sdp", true, `{"type":"description","description":{"type":"offer","sdp":""}}`, protocol.CodeBadMessage},
		{"candidate without mid", true, `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host"}}`, protocol.CodeBadMessage},
		{"huge candidate", true, `{"type":"candidate","candidate":{"candidate":"` + strings.Repeat("x", 2000) + `","sdpMid":"0"}}`, protocol.CodeBadMessage},
	}
	_, url := startHub(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, url)
			if tc.joined {
				c.join("ok" + strings.ReplaceAll(tc.name, " ", "-"))
				expect[*protocol.Joined](c)
			}
			c.sendRaw(tc.frame)
			c.expectError(tc.code)
			// The connection stays usable.
			c.send(&protocol.Ping{})
			expect[*protocol.Pong](c)
		})
	}
}

func TestBinaryFrameRefused(t *testing.T) {
	_, url := startHub(t, Config{})
	c := dial(t, url)
	c.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	c.expectError(protocol.CodeBadMessage)
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	h, url := startHub(t, Config{MaxMessageSize: 1024})
	a, b := pair(t, url, "big")
	b.sendRaw(`{"type":"ping","pad":"` + strings.Repeat("x", 2048) + `"}`)
	if code := b.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code = %d, want %d", code, websocket.CloseMessageTooBig)
	}
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("reason %q", pl.Reason)
	}
	waitFor(t, "slot freed", func() bool { return h.Stats().Peers == 1 })
}
