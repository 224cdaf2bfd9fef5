package whip

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// testServer is a real hub and the WHIP/WHEP endpoints on one loopback
// HTTP server, as duet serve mounts them.
type testServer struct {
	svc  *Service
	hub  *signal.Hub
	url  string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port/ws
	http *httptest.Server
}

func startServer(t *testing.T, cfg Config, sig signal.Config) *testServer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	cfg.Logger = log
	if sig.Tap == nil {
		sig.Tap = schematest.AgreeTap(t) // these tests send bad requests on purpose
	}
	hub := signal.NewHub(sig, log)
	svc := New(cfg)
	svc.SetHub(hub)
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	svc.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
		ts.Close()
	})
	return &testServer{svc: svc, hub: hub, url: ts.URL, ws: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws", http: ts}
}

// person is a scripted signaling client standing for a person's app: the
// HTTP side is what these tests are about, and the e2e tests put real
// browsers and Go peers here.
type person struct {
	t    *testing.T
	conn *websocket.Conn
}

func join(t *testing.T, ts *testServer, room string) *person {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(ts.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &person{t: t, conn: conn}
	p.send(&protocol.Join{V: protocol.Version, Room: room})
	expect[*protocol.Joined](p)
	return p
}

func (p *person) send(m protocol.Message) {
	p.t.Helper()
	b, err := protocol.Encode(m)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *person) next() protocol.Message {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := p.conn.ReadMessage()
	if err != nil {
		p.t.Fatalf("person read: %v", err)
	}
	m, err := protocol.DecodeServer(b)
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

func expect[T protocol.Message](p *person) T {
	p.t.Helper()
	m := p.next()
	v, ok := m.(T)
	if !ok {
		var want T
		p.t.Fatalf("person got %T %+v, want %T", m, m, want)
	}
	return v
}

func (p *person) answer(sdp string) {
	p.send(&protocol.Description{Description: protocol.SessionDescription{Type: "answer", SDP: sdp}})
}

func (p *person) candidate(c string, mid string) {
	p.send(&protocol.Candidate{Candidate: protocol.ICECandidate{Candidate: c, SDPMid: &mid}})
}

// takeOffer reads what the person hears when a tool arrives: peer-joined
// and the offer.
func (p *person) takeOffer(kind string) string {
	p.t.Helper()
	pj := expect[*protocol.PeerJoined](p)
	if pj.PeerKind != kind {
		p.t.Fatalf("peer-joined peerKind %q, want %q", pj.PeerKind, kind)
	}
	d := expect[*protocol.Description](p)
	if d.Description.Type != "offer" {
		p.t.Fatalf("got a %s, want the tool's offer", d.Description.Type)
	}
	return d.Description.SDP
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends one request; hdr is "Name: value" pairs.
func do(t *testing.T, method, url, ctype, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, string(b)}
}

// postAsync POSTs an offer in the background; the result arrives on the
// channel once the person has answered (or not).
func postAsync(t *testing.T, url, offer string, hdr ...string) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		for _, h := range hdr {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Add(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- reply{status: -1, body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- reply{res.StatusCode, res.Header, string(b)}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no HTTP reply in 10 s")
		return reply{}
	}
}

// publish makes a WHIP session in room answered by p with one host
// candidate, and returns the 201.
func publish(t *testing.T, ts *testServer, p *person, room string) reply {
	t.Helper()
	ch := postAsync(t, ts.url+"/whip/"+room, testOffer)
	p.takeOffer(protocol.KindWHIP)
	p.answer(testAnswer)
	p.candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "video0")
	p.candidate("", "")
	r := wait(t, ch)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	return r
}

func wantStatus(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.body, code+":") {
		t.Errorf("got %d %q, want %d %s", r.status, r.body, status, code)
	}
}
