package signal

import (
	"context"
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
