package whip

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var locationRE = regexp.MustCompile(`^/whip/room1/[A-Za-z0-9_-]{22}$`)

func TestPostRelaysTheOfferAndAnswersWithCandidates(t *testing.T) {
	ice := func(host, user string) []protocol.ICEServer {
		return []protocol.ICEServer{{URLs: []string{"stun:" + host + ":3478"}}, {URLs: []string{"turn:" + host + ":3478?transport=udp"}, Username: "for-" + user, Credential: "c"}}
	}
	ts := startServer(t, Config{ICEServers: ice}, signal.Config{})
	p := join(t, ts, "room1")
	ch := postAsync(t, ts.url+"/whip/room1", testOffer)
	pj := expect[*protocol.PeerJoined](p)
	d := expect[*protocol.Description](p)
	if got := d.Description.SDP; pj.PeerKind != protocol.KindWHIP || got != testOffer {
		t.Fatalf("the person got the offer changed:\n%s", got)
	}
	p.answer(testAnswer)
	p.candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "video0")
	p.candidate("candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active", "video0")
	p.candidate("", "")
	r := wait(t, ch)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("Content-Type %q", ct)
	}
	if loc := r.header.Get("Location"); !locationRE.MatchString(loc) {
		t.Errorf("Location %q, want /whip/room1/<128-bit id>", loc)
	}
	if et := r.header.Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(et) {
		t.Errorf("ETag %q", et)
	}
	want := withCandidates(testAnswer, []protocol.ICECandidate{
		{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", SDPMid: ptr("video0")},
		{Candidate: "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active", SDPMid: ptr("video0")},
	}, true)
	if r.body != want {
		t.Errorf("answer:\n%s\nwant the person's answer with its candidates:\n%s", r.body, want)
	}
	links := r.header.Values("Link")
	// Relay credentials are minted for the tool's place, as the app's
	// are for its own (the TURN server checks the place is held).
	if len(links) != 2 || !strings.HasPrefix(links[0], "<stun:127.0.0.1:3478>") || !strings.Contains(links[1], `username="for-`+pj.Peer+`"; credential="c"`) {
		t.Errorf("Link headers %q, want STUN and TURN for place %s", links, pj.Peer)
	}
	if !ts.hub.HoldsPlace(pj.Peer) {
		t.Errorf("the hub does not know place %s holds a place: its TURN credentials would be refused", pj.Peer)
	}
	if ts.svc.Sessions() != 1 {
		t.Errorf("%d sessions, want 1", ts.svc.Sessions())
	}
}

func TestAnswerWaitsAtMostGatherWait(t *testing.T) {
	ts := startServer(t, Config{GatherWait: 300 * time.Millisecond}, signal.Config{})
	p := join(t, ts, "r")
	ch := postAsync(t, ts.url+"/whep/r", testOffer)
	p.takeOffer(protocol.KindWHEP)
	p.answer(testAnswer)
	p.candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "video0")
	// No end-of-candidates: the answer still comes, with what there is.
	r := wait(t, ch)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !strings.Contains(r.body, "a=candidate:1 1 udp") || strings.Contains(r.body, "end-of-candidates") {
		t.Errorf("answer without end-of-candidates:\n%s", r.body)
	}
	if !strings.HasPrefix(r.header.Get("Location"), "/whep/r/") {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
}

func TestPostRefusals(t *testing.T) {
	ts := startServer(t, Config{AnswerTimeout: 300 * time.Millisecond}, signal.Config{})
	full1 := join(t, ts, "full")
	full2 := join(t, ts, "full")
	expect[*protocol.PeerJoined](full1)
	_ = full2
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
	}{
		{"empty room", "POST", "/whip/nobody", "application/sdp", testOffer, 409, "no-peer"},
		{"full room", "POST", "/whip/full", "application/sdp", testOffer, 409, "room-full"},
		{"bad room", "POST", "/whip/no%20spaces", "application/sdp", testOffer, 400, "bad-room"},
		{"room too long", "POST", "/whip/" + strings.Repeat("a", 65), "application/sdp", testOffer, 400, "bad-room"},
		{"not SDP", "POST", "/whip/full", "application/sdp", "hello", 400, "bad-sdp"},
		{"JSON offer", "POST", "/whep/full", "application/json", `{"sdp":"v=0"}`, 415, "bad-content-type"},
		{"too large", "POST", "/whip/full", "application/sdp", "v=0\r\n" + strings.Repeat("a=x:"+strings.Repeat("y", 90)+"\r\n", 1000), 413, "too-large"},
		{"GET", "GET", "/whip/full", "", "", 405, "bad-method"},
		{"PUT on a session", "PUT", "/whip/full/xyz", "", "", 405, "bad-method"},
		{"PATCH unknown session", "PATCH", "/whip/full/xyz", "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", 404, "no-such-session"},
		{"DELETE unknown session", "DELETE", "/whep/full/xyz", "", "", 404, "no-such-session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, do(t, tc.method, ts.url+tc.path, tc.ctype, tc.body), tc.status, tc.code)
		})
	}
	if r := do(t, "GET", ts.url+"/whip/full", "", ""); r.header.Get("Allow") != endpointMethods {
		t.Errorf("405 Allow %q", r.header.Get("Allow"))
	}

	t.Run("no answer", func(t *testing.T) {
		p := join(t, ts, "silent")
		ch := postAsync(t, ts.url+"/whip/silent", testOffer)
		p.takeOffer(protocol.KindWHIP)
		wantStatus(t, wait(t, ch), http.StatusGatewayTimeout, "no-answer")
		// The place is freed: the person is told, and a new tool may come.
		if pl := expect[*protocol.PeerLeft](p); pl.Reason != protocol.ReasonLeft {
			t.Errorf("peer-left %q", pl.Reason)
		}
		if ts.svc.Sessions() != 0 {
			t.Errorf("%d sessions after a timeout", ts.svc.Sessions())
		}
	})
	t.Run("person leaves before answering", func(t *testing.T) {
		p := join(t, ts, "leaving")
		ch := postAsync(t, ts.url+"/whip/leaving", testOffer)
		p.takeOffer(protocol.KindWHIP)
		p.send(&protocol.Leave{})
		wantStatus(t, wait(t, ch), http.StatusConflict, "peer-left")
	})
}

func TestTokenIsChecked(t *testing.T) {
	ts := startServer(t, Config{Token: "s3cret"}, signal.Config{})
	p := join(t, ts, "r")
	for _, auth := range []string{"", "Authorization: Bearer wrong", "Authorization: Basic czNjcmV0", "Authorization: Bearer s3cret2"} {
		var hdr []string
		if auth != "" {
			hdr = append(hdr, auth)
		}
		r := do(t, "POST", ts.url+"/whip/r", "application/sdp", testOffer, hdr...)
		wantStatus(t, r, http.StatusUnauthorized, "unauthorized")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: 401 without WWW-Authenticate", auth)
		}
	}
	wantStatus(t, do(t, "OPTIONS", ts.url+"/whip/r", "", ""), http.StatusUnauthorized, "unauthorized")
	// A preflight carries no credentials and needs none.
	if r := do(t, "OPTIONS", ts.url+"/whip/r", "", "", "Origin: https://studio.example", "Access-Control-Request-Method: POST"); r.status != http.StatusNoContent {
		t.Errorf("preflight with a token set: %d %s", r.status, r.body)
	}
	ch := postAsync(t, ts.url+"/whip/r", testOffer, "Authorization: Bearer s3cret")
	p.takeOffer(protocol.KindWHIP)
	p.answer(testAnswer)
	p.candidate("", "")
	r := wait(t, ch)
	if r.status != http.StatusCreated {
		t.Fatalf("with the token: %d %s", r.status, r.body)
	}
	loc := ts.url + r.header.Get("Location")
	wantStatus(t, do(t, "DELETE", loc, "", ""), http.StatusUnauthorized, "unauthorized")
	if r := do(t, "DELETE", loc, "", "", "Authorization: Bearer s3cret"); r.status != http.StatusOK {
		t.Errorf("DELETE with the token: %d %s", r.status, r.body)
	}
}

func TestTrickle(t *testing.T) {
	ts := startServer(t, Config{}, signal.Config{})
	p := join(t, ts, "r")
	r := publish(t, ts, p, "r")
	loc, etag := ts.url+r.header.Get("Location"), r.header.Get("ETag")
	const ct = "application/trickle-ice-sdpfrag"
	fragBody := "a=ice-ufrag:offU\r\na=ice-pwd:offPwd\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\n" +
		"a=candidate:2 1 UDP 1694498815 198.51.100.2 40002 typ srflx raddr 0.0.0.0 rport 0\r\na=end-of-candidates\r\n"
	if r := do(t, "PATCH", loc, ct, fragBody, "If-Match: "+etag); r.status != http.StatusNoContent {
		t.Fatalf("trickle: %d %s", r.status, r.body)
	}
	c := expect[*protocol.Candidate](p)
	if c.Candidate.Candidate != "candidate:2 1 UDP 1694498815 198.51.100.2 40002 typ srflx raddr 0.0.0.0 rport 0" ||
		*c.Candidate.SDPMid != "video0" || c.Candidate.UsernameFragment == nil || *c.Candidate.UsernameFragment != "offU" {
		t.Errorf("relayed candidate %+v", c.Candidate)
	}
	if eoc := expect[*protocol.Candidate](p); eoc.Candidate.Candidate != "" || *eoc.Candidate.SDPMid != "video0" {
		t.Errorf("end-of-candidates relayed as %+v", eoc.Candidate)
	}
	// Without If-Match it is taken too; a stale one is refused.
	if r := do(t, "PATCH", loc, ct, "a=candidate:3 1 UDP 1 192.0.2.3 1 typ host\r\n"); r.status != http.StatusNoContent {
		t.Errorf("trickle without If-Match: %d", r.status)
	}
	expect[*protocol.Candidate](p)
	wantStatus(t, do(t, "PATCH", loc, ct, fragBody, `If-Match: "0000000000000000"`), http.StatusPreconditionFailed, "stale-etag")
	wantStatus(t, do(t, "PATCH", loc, "application/sdp", fragBody), http.StatusUnsupportedMediaType, "bad-content-type")
	wantStatus(t, do(t, "PATCH", loc, ct, "not a fragment\r\n"), http.StatusBadRequest, "bad-sdpfrag")
	// The same id under another room or kind is no session.
	wantStatus(t, do(t, "PATCH", strings.Replace(loc, "/whip/r/", "/whip/other/", 1), ct, fragBody), http.StatusNotFound, "no-such-session")
	wantStatus(t, do(t, "PATCH", strings.Replace(loc, "/whip/", "/whep/", 1), ct, fragBody), http.StatusNotFound, "no-such-session")
}

func TestICERestart(t *testing.T) {
	ts := startServer(t, Config{}, signal.Config{})
	p := join(t, ts, "r")
	r := publish(t, ts, p, "r")
	loc, etag := ts.url+r.header.Get("Location"), r.header.Get("ETag")
	restart := "a=ice-ufrag:NEWu\r\na=ice-pwd:NEWpwd\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\n" +
		"a=candidate:5 1 UDP 2015363327 192.0.2.5 45000 typ host\r\n"
	ch := make(chan reply, 1)
	go func() { ch <- do(t, "PATCH", loc, "application/trickle-ice-sdpfrag", restart, "If-Match: *") }()
	d := expect[*protocol.Description](p)
	if d.Description.Type != "offer" || !strings.Contains(d.Description.SDP, "a=ice-ufrag:NEWu\r\n") ||
		strings.Contains(d.Description.SDP, "offU") || !strings.Contains(d.Description.SDP, "192.0.2.5 45000") ||
		strings.Contains(d.Description.SDP, "192.0.2.1 40000") {
		t.Fatalf("restart offer to the person:\n%s", d.Description.SDP)
	}
	p.answer(strings.ReplaceAll(strings.ReplaceAll(testAnswer, "ansU", "ans2"), "ansPwd", "ans2pwd"))
	p.candidate("candidate:6 1 udp 2122260223 127.0.0.1 51000 typ host", "video0")
	p.candidate("", "")
	res := wait(t, ch)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/trickle-ice-sdpfrag" {
		t.Fatalf("restart: %d %q %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	for _, want := range []string{"a=ice-ufrag:ans2\r\n", "a=ice-pwd:ans2pwd\r\n", "a=candidate:6 1 udp", "a=mid:video0\r\n"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("restart answer lacks %q:\n%s", want, res.body)
		}
	}
	newTag := res.header.Get("ETag")
	if newTag == "" || newTag == etag {
		t.Errorf("ETag after restart %q (was %q)", newTag, etag)
	}
	// The old generation's tag is now stale; the new one trickles.
	wantStatus(t, do(t, "PATCH", loc, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", "If-Match: "+etag), http.StatusPreconditionFailed, "stale-etag")
	if r := do(t, "PATCH", loc, "application/trickle-ice-sdpfrag", "a=ice-ufrag:NEWu\r\na=end-of-candidates\r\n", "If-Match: "+newTag); r.status != http.StatusNoContent {
		t.Errorf("trickle after restart: %d %s", r.status, r.body)
	}
	expect[*protocol.Candidate](p)
	// Candidates of the old generation are stale: not relayed.
	if r := do(t, "PATCH", loc, "application/trickle-ice-sdpfrag", "a=ice-ufrag:offU\r\na=candidate:7 1 UDP 1 192.0.2.7 1 typ host\r\n"); r.status != http.StatusNoContent {
		t.Errorf("stale trickle: %d", r.status)
	}
	p.send(&protocol.Ping{})
	expect[*protocol.Pong](p) // and not the stale candidate before it
}

func TestDeleteAndEndings(t *testing.T) {
	ts := startServer(t, Config{}, signal.Config{})
	t.Run("DELETE", func(t *testing.T) {
		p := join(t, ts, "del")
		loc := ts.url + publish(t, ts, p, "del").header.Get("Location")
		if r := do(t, "DELETE", loc, "", ""); r.status != http.StatusOK {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		if pl := expect[*protocol.PeerLeft](p); pl.Reason != protocol.ReasonLeft {
			t.Errorf("peer-left %q", pl.Reason)
		}
		wantStatus(t, do(t, "DELETE", loc, "", ""), http.StatusNotFound, "no-such-session")
	})
	t.Run("the person leaves", func(t *testing.T) {
		p := join(t, ts, "gone")
		loc := ts.url + publish(t, ts, p, "gone").header.Get("Location")
		p.send(&protocol.Leave{})
		waitSessions(t, ts, 0)
		wantStatus(t, do(t, "PATCH", loc, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n"), http.StatusNotFound, "no-such-session")
	})
	t.Run("dismissed, then a cooldown", func(t *testing.T) {
		p := join(t, ts, "dis")
		loc := ts.url + publish(t, ts, p, "dis").header.Get("Location")
		p.send(&protocol.Dismiss{})
		if pl := expect[*protocol.PeerLeft](p); pl.Reason != protocol.ReasonDismissed {
			t.Errorf("peer-left %q", pl.Reason)
		}
		wantStatus(t, do(t, "DELETE", loc, "", ""), http.StatusNotFound, "no-such-session")
		r := do(t, "POST", ts.url+"/whip/dis", "application/sdp", testOffer)
		wantStatus(t, r, http.StatusForbidden, "dismissed")
		if r.header.Get("Retry-After") == "" {
			t.Error("403 dismissed without Retry-After")
		}
		// Other rooms are not affected.
		q := join(t, ts, "other")
		publish(t, ts, q, "other")
	})
}

func waitSessions(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.svc.Sessions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", ts.svc.Sessions(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCORSAndOptions(t *testing.T) {
	ice := func(_, user string) []protocol.ICEServer {
		return []protocol.ICEServer{{URLs: []string{"stun:stun.example:3478"}}, {URLs: []string{"turn:stun.example:3478"}, Username: "x" + user, Credential: "c"}}
	}
	ts := startServer(t, Config{ICEServers: ice}, signal.Config{})
	r := do(t, "OPTIONS", ts.url+"/whip/r", "", "", "Origin: https://studio.example", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") || r.header.Get("Link") != "" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = do(t, "OPTIONS", ts.url+"/whip/r", "", "")
	if r.status != http.StatusNoContent || r.header.Get("Accept-Post") != "application/sdp" || len(r.header.Values("Link")) != 1 || r.header.Get("Link") != `<stun:stun.example:3478>; rel="ice-server"` {
		// Relay credentials only for a place in a room, not before.
		t.Errorf("OPTIONS: %d %v", r.status, r.header)
	}
	r = do(t, "OPTIONS", ts.url+"/whep/r/someid", "", "")
	if r.status != http.StatusNoContent || r.header.Get("Accept-Patch") != "application/trickle-ice-sdpfrag" {
		t.Errorf("OPTIONS on a session URL: %d %v", r.status, r.header)
	}
	// Refusals carry CORS headers too, so a page can read them.
	r = do(t, "POST", ts.url+"/whip/nobody", "application/sdp", testOffer, "Origin: https://studio.example")
	if r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("refusal CORS headers: %v", r.header)
	}
}

func TestRequestRateLimit(t *testing.T) {
	ts := startServer(t, Config{RequestRate: 0.01, RequestBurst: 3}, signal.Config{})
	for i := range 3 {
		if r := do(t, "OPTIONS", ts.url+"/whip/r", "", ""); r.status != http.StatusNoContent {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := do(t, "POST", ts.url+"/whip/r", "application/sdp", testOffer)
	wantStatus(t, r, http.StatusTooManyRequests, "rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestClientGoneWhileWaiting(t *testing.T) {
	ts := startServer(t, Config{}, signal.Config{})
	p := join(t, ts, "r")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+"/whip/r", strings.NewReader(testOffer))
		req.Header.Set("Content-Type", "application/sdp")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	p.takeOffer(protocol.KindWHIP)
	cancel() // the tool hangs up before the person answers
	<-done
	if pl := expect[*protocol.PeerLeft](p); pl.Reason != protocol.ReasonLeft {
		t.Errorf("peer-left %q", pl.Reason)
	}
	if st := ts.hub.Stats(); st.Peers != 1 || st.Sessions != 1 {
		t.Errorf("hub after the tool hung up: %+v", st)
	}
}

func TestShutdownEndsWaitingOffer(t *testing.T) {
	ts := startServer(t, Config{}, signal.Config{})
	p := join(t, ts, "r")
	ch := postAsync(t, ts.url+"/whip/r", testOffer)
	p.takeOffer(protocol.KindWHIP)
	go ts.hub.Shutdown(context.Background())
	wantStatus(t, wait(t, ch), http.StatusServiceUnavailable, string(protocol.CodeShuttingDown))
}

func TestAnswerRefusingAllMedia(t *testing.T) {
	ts := startServer(t, Config{GatherWait: 10 * time.Second}, signal.Config{})
	p := join(t, ts, "r")
	ch := postAsync(t, ts.url+"/whip/r", testOffer)
	p.takeOffer(protocol.KindWHIP)
	// What Firefox without OpenH264 answers to an H.264-only offer.
	refused := strings.ReplaceAll(testAnswer, "m=video 9 ", "m=video 0 ")
	refused = strings.ReplaceAll(refused, "m=audio 9 ", "m=audio 0 ")
	p.answer(refused)
	start := time.Now()
	wantStatus(t, wait(t, ch), http.StatusUnprocessableEntity, "media-refused")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %v: it waited for candidates a rejected answer never gathers", d)
	}
	if pl := expect[*protocol.PeerLeft](p); pl.Reason != protocol.ReasonLeft {
		t.Errorf("peer-left %q", pl.Reason)
	}
}
