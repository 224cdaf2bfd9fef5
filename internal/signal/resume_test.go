package signal

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

func joinWith(c *wsClient, room, resume string) *protocol.Joined {
	c.t.Helper()
	c.send(&protocol.Join{V: protocol.Version, Room: room, Resume: resume})
	return expect[*protocol.Joined](c)
}

// A dropped connection (no close frame) that comes back with its token gets
// its place, id and role back, and the other peer never sees a leave.
func TestResumeAfterDrop(t *testing.T) {
	_, url := startHub(t, Config{})
	a, b := dial(t, url), dial(t, url)
	ja := joinWith(a, "r", "")
	jb := joinWith(b, "r", "")
	expect[*protocol.PeerJoined](a)

	b.conn.Close() // the network drops: no close frame
	b2 := dial(t, url)
	got := joinWith(b2, "r", jb.Resume)
	if !got.Resumed || got.PeerID != jb.PeerID || got.Polite != jb.Polite || got.Peer != ja.PeerID || !got.PeerPresent {
		t.Fatalf("resumed joined = %+v, want same id %s and role %v, peer %s", got, jb.PeerID, jb.Polite, ja.PeerID)
	}
	if pj := expect[*protocol.PeerJoined](a); pj.Peer != jb.PeerID || !pj.Resumed {
		t.Fatalf("a got %+v, want peer-joined resumed by %s", pj, jb.PeerID)
	}
	a.send(candidate(7))
	expect[*protocol.Candidate](b2)
}

// A resume that arrives before the server noticed the old connection died
// replaces the old one, which is told so.
func TestResumeReplacesLiveConnection(t *testing.T) {
	h, url := startHub(t, Config{})
	a, b := dial(t, url), dial(t, url)
	joinWith(a, "r", "")
	jb := joinWith(b, "r", "")
	expect[*protocol.PeerJoined](a)

	b2 := dial(t, url)
	if got := joinWith(b2, "r", jb.Resume); !got.Resumed || got.PeerID != jb.PeerID {
		t.Fatalf("joined = %+v, want resumed as %s", got, jb.PeerID)
	}
	if bye := expect[*protocol.Bye](b); bye.Reason != protocol.ByeReplaced {
		t.Fatalf("old connection bye = %q, want replaced", bye.Reason)
	}
	if code := b.expectClose(); code != websocket.ClosePolicyViolation {
		t.Fatalf("old connection close = %d", code)
	}
	if pj := expect[*protocol.PeerJoined](a); !pj.Resumed {
		t.Fatalf("a got %+v", pj)
	}
	waitFor(t, "old session gone", func() bool { return h.Stats().Sessions == 2 })
	if st := h.Stats(); st.Peers != 2 || st.Ghosts != 0 {
		t.Fatalf("stats %+v, want 2 peers and no ghost", st)
	}
}

// Without a resume within the grace period the other peer is told it left.
func TestGhostExpires(t *testing.T) {
	h, url := startHub(t, Config{ResumeGrace: 100 * time.Millisecond})
	a, b := pair(t, url, "r")
	b.conn.Close()
	waitFor(t, "ghost", func() bool { return h.Stats().Ghosts == 1 })
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("reason %q", pl.Reason)
	}
	if st := h.Stats(); st.Peers != 1 || st.Ghosts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A restarted server with the same secret rebuilds the room from resumes:
// same ids, same roles, and each side learns the other is the same peer.
func TestResumeAfterServerRestart(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	start := func() (*Hub, *httptest.Server) {
		h := NewHub(Config{ResumeSecret: secret}, slog.New(slog.DiscardHandler))
		return h, httptest.NewServer(h)
	}
	h1, ts1 := start()
	url1 := "ws" + strings.TrimPrefix(ts1.URL, "http")
	a, b := dial(t, url1), dial(t, url1)
	ja := joinWith(a, "r", "")
	jb := joinWith(b, "r", "")
	h1.Shutdown(context.Background())
	ts1.Close()

	h2, ts2 := start()
	t.Cleanup(func() { h2.Shutdown(context.Background()); ts2.Close() })
	url2 := "ws" + strings.TrimPrefix(ts2.URL, "http")
	b2, a2 := dial(t, url2), dial(t, url2) // b comes back first this time
	rb := joinWith(b2, "r", jb.Resume)
	if !rb.Resumed || rb.PeerID != jb.PeerID || rb.Polite != jb.Polite || rb.PeerPresent {
		t.Fatalf("b resumed alone = %+v, want id %s polite %v", rb, jb.PeerID, jb.Polite)
	}
	ra := joinWith(a2, "r", ja.Resume)
	if !ra.Resumed || ra.PeerID != ja.PeerID || ra.Polite != ja.Polite || ra.Peer != jb.PeerID {
		t.Fatalf("a resumed = %+v, want id %s polite %v peer %s", ra, ja.PeerID, ja.Polite, jb.PeerID)
	}
	if pj := expect[*protocol.PeerJoined](b2); pj.Peer != ja.PeerID {
		t.Fatalf("b got %+v", pj)
	}
}

func TestInvalidTokensJoinFresh(t *testing.T) {
	other := NewHub(Config{}, nil) // a different secret
	tests := []struct {
		name  string
		token func(h *Hub, good string) string
	}{
		{"garbage", func(*Hub, string) string { return "not-a-token" }},
		{"tampered", func(_ *Hub, good string) string {
			b := []byte(good)
			b[5] ^= 1
			return string(b)
		}},
		{"other room", func(h *Hub, _ string) string {
			return h.mintToken(resumeToken{expiry: time.Now().Add(time.Hour), peerID: newPeerID(), room: "elsewhere"})
		}},
		{"expired", func(h *Hub, _ string) string {
			return h.mintToken(resumeToken{expiry: time.Now().Add(-time.Second), peerID: newPeerID(), room: "r"})
		}},
		{"other secret", func(*Hub, string) string {
			return other.mintToken(resumeToken{expiry: time.Now().Add(time.Hour), peerID: newPeerID(), room: "r"})
		}},
		{"huge", func(*Hub, string) string { return strings.Repeat("A", 10000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, url := startHub(t, Config{})
			a := dial(t, url)
			ja := joinWith(a, "r", "")
			a.send(&protocol.Leave{})
			c := dial(t, url)
			got := joinWith(c, "r", tc.token(h, ja.Resume))
			if got.Resumed || got.PeerID == ja.PeerID {
				t.Fatalf("joined = %+v; a bad token must not be honoured", got)
			}
		})
	}
}

// Someone else's token cannot evict a live peer from a full room: only the
// token's own peer id is replaced, and a guessed id matches nobody.
func TestTokenForOtherPeerCannotEvict(t *testing.T) {
	h, url := startHub(t, Config{})
	pair(t, url, "r")
	forged := h.mintToken(resumeToken{expiry: time.Now().Add(time.Hour), peerID: newPeerID(), room: "r"})
	c := dial(t, url)
	c.send(&protocol.Join{V: protocol.Version, Room: "r", Resume: forged})
	c.expectError(protocol.CodeRoomFull)
}

// Each token is good for one resume: after b resumed with its token and got
// a new one, a replay of the old token cannot evict b's live connection. It
// joins as a stranger would, into a full room.
func TestOldTokenCannotEvictNewerConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop bool // b's first connection drops before it resumes (else it is replaced live)
	}{{"after a drop", true}, {"after replacing a live connection", false}} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := startHub(t, Config{})
			a, b := dial(t, url), dial(t, url)
			joinWith(a, "r", "")
			jb := joinWith(b, "r", "")
			expect[*protocol.PeerJoined](a)
			if tc.drop {
				b.conn.Close()
			}
			b2 := dial(t, url)
			if j := joinWith(b2, "r", jb.Resume); !j.Resumed {
				t.Fatalf("resume: %+v", j)
			}
			expect[*protocol.PeerJoined](a)

			replay := dial(t, url)
			replay.send(&protocol.Join{V: protocol.Version, Room: "r", Resume: jb.Resume})
			replay.expectError(protocol.CodeRoomFull)
			// b2 is still the peer: a's relay reaches it, and it was
			// told nothing before.
			a.send(candidate(1))
			if c := expect[*protocol.Candidate](b2); c.Candidate.Candidate != candidate(1).Candidate.Candidate {
				t.Fatalf("b2 got %+v", c)
			}
		})
	}
}

// A leave ends the token: it no longer gives the place (id and role) back,
// and the partner sees a newcomer, not the same peer resumed. So does a
// grace that ran out.
func TestLeaveEndsTheToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(b *wsClient, a *wsClient)
	}{
		{"leave", func(b, a *wsClient) { b.send(&protocol.Leave{}); expect[*protocol.PeerLeft](a) }},
		{"close frame", func(b, a *wsClient) { b.closeClean(); expect[*protocol.PeerLeft](a) }},
		{"grace over", func(b, a *wsClient) { b.conn.Close(); expect[*protocol.PeerLeft](a) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := startHub(t, Config{ResumeGrace: 100 * time.Millisecond})
			a, b := dial(t, url), dial(t, url)
			joinWith(a, "r", "")
			jb := joinWith(b, "r", "")
			expect[*protocol.PeerJoined](a)
			tc.end(b, a)
			c := dial(t, url)
			if got := joinWith(c, "r", jb.Resume); got.Resumed || got.PeerID == jb.PeerID {
				t.Fatalf("joined with an ended token: %+v", got)
			}
			if pj := expect[*protocol.PeerJoined](a); pj.Resumed || pj.Peer == jb.PeerID {
				t.Fatalf("a told %+v, want a newcomer", pj)
			}
		})
	}
}

// Tokens issued before this change (version 1: no generation, life or
// node) still take their place back on a restarted server.
func TestVersion1TokenStillResumes(t *testing.T) {
	h, url := startHub(t, Config{})
	peer := newPeerID()
	id, _ := base64.RawURLEncoding.DecodeString(peer)
	buf := []byte{tokenVersionV1}
	buf = binary.BigEndian.AppendUint64(buf, uint64(time.Now().Add(time.Hour).Unix()))
	buf = append(buf, 1) // polite
	buf = append(append(buf, id...), "r"...)
	buf = append(buf, h.tokenMAC(buf)...)
	c := dial(t, url)
	got := joinWith(c, "r", base64.RawURLEncoding.EncodeToString(buf))
	if !got.Resumed || got.PeerID != peer || !got.Polite {
		t.Fatalf("joined %+v, want peer %s resumed as polite", got, peer)
	}
}
