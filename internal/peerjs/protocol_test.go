package peerjs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestRelayOfferAnswerCandidate(t *testing.T) {
	_, hs := start(t, Config{})
	a, b := open(t, hs, "alice"), open(t, hs, "bob")
	tests := []struct {
		from, to *client
		typ, dst string
		payload  string
		src      string
	}{
		{a, b, typeOffer, "bob", `{"sdp":{"type":"offer","sdp":"v=0"},"type":"media","connectionId":"mc_1","metadata":{"x":[1,2]}}`, "alice"},
		{b, a, typeAnswer, "alice", `{"sdp":{"type":"answer","sdp":"v=0"},"type":"media","connectionId":"mc_1"}`, "bob"},
		{a, b, typeCandidate, "bob", `{"candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0"},"type":"media","connectionId":"mc_1"}`, "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			// A forged src and an extra field must not reach the peer.
			m := relay(tc.typ, tc.dst, tc.payload)
			m["src"] = "mallory"
			m["extra"] = "smuggled"
			tc.from.sendJSON(m)
			got := tc.to.read()
			if got.Type != tc.typ || got.Src != tc.src || got.Dst != tc.dst {
				t.Fatalf("got %s", got.raw)
			}
			var want, have any
			json.Unmarshal([]byte(tc.payload), &want)
			json.Unmarshal(got.Payload, &have)
			if wb, _ := json.Marshal(want); string(wb) != string(mustJSON(have)) {
				t.Fatalf("payload %s, want %s", got.Payload, tc.payload)
			}
			var all map[string]any
			json.Unmarshal([]byte(got.raw), &all)
			if _, ok := all["extra"]; ok {
				t.Fatalf("extra field relayed: %s", got.raw)
			}
		})
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestRefusals(t *testing.T) {
	tests := []struct {
		name             string
		cfg              Config
		key, id, token   string
		wantType, wantMs string
		wantCode         int
	}{
		{"no id", Config{}, "peerjs", "", "t", typeError, errMsgParams, websocket.ClosePolicyViolation},
		{"no token", Config{}, "peerjs", "x", "", typeError, errMsgParams, websocket.ClosePolicyViolation},
		{"no key", Config{}, "", "x", "t", typeError, errMsgParams, websocket.ClosePolicyViolation},
		// INVALID-KEY: the reference server answers a wrong key with ERROR
		// "Invalid key provided" (its INVALID-KEY type is cloud-only).
		{"invalid key", Config{}, "nope", "x", "t", typeError, errMsgKey, websocket.ClosePolicyViolation},
		{"custom key", Config{Key: "sekrit"}, "peerjs", "x", "t", typeError, errMsgKey, websocket.ClosePolicyViolation},
		{"bad id", Config{}, "peerjs", "a b!", "t", typeError, errMsgBadID, websocket.ClosePolicyViolation},
		{"long id", Config{}, "peerjs", string(make([]byte, 200)), "t", typeError, errMsgBadID, websocket.ClosePolicyViolation},
		{"id taken", Config{}, "peerjs", "taken", "other-token", typeIDTaken, errMsgIDTaken, websocket.ClosePolicyViolation},
		{"concurrent limit", Config{ConcurrentLimit: 1}, "peerjs", "second", "t", typeError, errMsgLimit, websocket.CloseTryAgainLater},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, hs := start(t, tc.cfg)
			holder := dial(t, hs, firstNonEmpty(tc.cfg.Key, "peerjs"), "taken", "tok")
			if m := holder.read(); m.Type != typeOpen {
				t.Fatalf("holder got %s", m.raw)
			}
			c := dial(t, hs, tc.key, tc.id, tc.token)
			m := c.read()
			if m.Type != tc.wantType || m.errorText() != tc.wantMs {
				t.Fatalf("got %s, want %s %q", m.raw, tc.wantType, tc.wantMs)
			}
			if code := c.closed(); code != tc.wantCode {
				t.Fatalf("close code %d, want %d", code, tc.wantCode)
			}
			// The refused client took nothing: the holder keeps its id.
			if st := srv.Stats(); st.Peers != 1 {
				t.Fatalf("stats %+v, want 1 peer", st)
			}
		})
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// The same id and token again (a client whose old socket the server has not
// seen die) takes the id over without a second OPEN; the old socket is closed.
func TestSameTokenReplaces(t *testing.T) {
	_, hs := start(t, Config{})
	old := open(t, hs, "carol")
	other := open(t, hs, "dave")
	fresh := dial(t, hs, "peerjs", "carol", "tok-carol")
	if code := old.closed(); code != websocket.ClosePolicyViolation {
		t.Fatalf("old socket closed with %d", code)
	}
	other.sendJSON(relay(typeOffer, "carol", `{"connectionId":"dc_1"}`))
	if m := fresh.read(); m.Type != typeOffer || m.Src != "dave" {
		t.Fatalf("fresh socket got %s, want the OFFER (and no OPEN)", m.raw)
	}
}

func TestQueuedUntilConnect(t *testing.T) {
	srv, hs := start(t, Config{ExpireTimeout: time.Minute})
	a := open(t, hs, "early")
	payloads := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}
	for i, p := range payloads {
		typ := typeCandidate
		if i == 0 {
			typ = typeOffer
		}
		a.sendJSON(relay(typ, "late", p))
	}
	// LEAVE and EXPIRE for an absent id are dropped, not queued.
	a.sendJSON(relay(typeLeave, "late", ""))
	a.sendJSON(relay(typeExpire, "late", ""))
	waitFor(t, "3 queued", func() bool { return srv.Stats().QueuedMessages == 3 })
	late := open(t, hs, "late") // OPEN first, then the queue in order
	for i, p := range payloads {
		m := late.read()
		if m.Src != "early" || string(m.Payload) != p {
			t.Fatalf("message %d: %s", i, m.raw)
		}
	}
	if st := srv.Stats(); st.QueuedMessages != 0 || st.QueuedPeers != 0 || st.QueuedBytes != 0 {
		t.Fatalf("stats %+v after delivery", st)
	}
	// Nothing else was queued: the next frame is a fresh relay.
	a.sendJSON(relay(typeAnswer, "late", `{"n":4}`))
	if m := late.read(); m.Type != typeAnswer {
		t.Fatalf("got %s, want the ANSWER", m.raw)
	}
}

func TestExpireQueued(t *testing.T) {
	srv, hs := start(t, Config{ExpireTimeout: 100 * time.Millisecond})
	a, b := open(t, hs, "sender1"), open(t, hs, "sender2")
	for range 3 {
		a.sendJSON(relay(typeCandidate, "ghost", `{}`))
	}
	b.sendJSON(relay(typeOffer, "ghost", `{}`))
	// Each sender gets exactly one EXPIRE naming the absent peer as src.
	for _, c := range []*client{a, b} {
		m := c.read()
		if m.Type != typeExpire || m.Src != "ghost" {
			t.Fatalf("got %s, want EXPIRE from ghost", m.raw)
		}
	}
	waitFor(t, "queue dropped", func() bool { st := srv.Stats(); return st.QueuedMessages == 0 && st.QueuedBytes == 0 })
	// The expired messages are gone: ghost connects to an empty queue, and
	// the sender's next frame is the answer to a marker, not a 2nd EXPIRE.
	ghost := open(t, hs, "ghost")
	a.sendJSON(relay(typeOffer, "ghost", `{"marker":true}`))
	if m := ghost.read(); string(m.Payload) != `{"marker":true}` {
		t.Fatalf("ghost got %s, want only the marker", m.raw)
	}
	ghost.sendJSON(relay(typeAnswer, "sender1", `{"marker":true}`))
	if m := a.read(); m.Type != typeAnswer {
		t.Fatalf("sender got %s after expiry, want the marker ANSWER", m.raw)
	}
}

func TestQueueBounds(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 900) + `"}`
	tests := []struct {
		name    string
		cfg     Config
		payload string
		dsts    []string // one message to each, in order
		queued  int      // messages queued; every other one got EXPIRE
	}{
		{"per id", Config{QueueLen: 2}, `{}`, []string{"absent", "absent", "absent"}, 2},
		{"total", Config{QueueTotal: 2}, `{}`, []string{"a1", "a2", "a3"}, 2},
		{"bytes", Config{QueueBytes: 2500}, big, []string{"b1", "b2", "b3"}, 2},
		{"bad dst", Config{}, `{}`, []string{"ok", "not valid!"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ExpireTimeout = time.Minute
			srv, hs := start(t, tc.cfg)
			a := open(t, hs, "filler")
			for _, d := range tc.dsts {
				a.sendJSON(relay(typeCandidate, d, tc.payload))
			}
			for range len(tc.dsts) - tc.queued {
				if m := a.read(); m.Type != typeExpire {
					t.Fatalf("got %s, want EXPIRE for a message over the bound", m.raw)
				}
			}
			waitFor(t, "queued", func() bool { return srv.Stats().QueuedMessages == tc.queued })
		})
	}
}

func TestLeave(t *testing.T) {
	srv, hs := start(t, Config{})
	a, b := open(t, hs, "leaver"), open(t, hs, "stayer")
	t.Run("relayed", func(t *testing.T) {
		a.sendJSON(relay(typeLeave, "stayer", ""))
		if m := b.read(); m.Type != typeLeave || m.Src != "leaver" || m.Dst != "stayer" {
			t.Fatalf("got %s", m.raw)
		}
	})
	t.Run("without dst frees the id", func(t *testing.T) {
		a.sendJSON(map[string]any{"type": typeLeave})
		if code := a.closed(); code != websocket.CloseNormalClosure {
			t.Fatalf("close %d", code)
		}
		waitFor(t, "id freed", func() bool { return srv.Stats().Peers == 1 })
		again := dial(t, hs, "peerjs", "leaver", "a-new-token")
		if m := again.read(); m.Type != typeOpen {
			t.Fatalf("got %s, want OPEN for the freed id", m.raw)
		}
	})
}

// encode must give what encoding/json would, for any strings.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	tests := []message{
		{Type: typeOpen},
		{Type: typeOffer, Src: "a", Dst: "b", Payload: json.RawMessage(`{"sdp":{"type":"offer","sdp":"v=0\r\n"}}`)},
		{Type: typeExpire, Src: "quote\"back\\slash", Dst: "ctl\x01\n<&>"},
		{Type: typeLeave, Src: "utf8-é-\xff", Dst: "x"},
	}
	for _, m := range tests {
		got, err := encode(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(m)
		if string(got) != string(want) {
			t.Errorf("encode(%+v)\n got  %s\n want %s", m, got, want)
		}
	}
}
