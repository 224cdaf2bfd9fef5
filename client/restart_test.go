package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/pion/webrtc/v4"
)

// startServerAt runs a server on addr (a fixed port, for a restart) with
// the given resume secret, so a second one can take over the first's
// peers. Shutdown is left to the caller and repeated at cleanup.
func startServerAt(t *testing.T, addr string, secret []byte) *server.Server {
	t.Helper()
	srv, err := server.New(server.Config{Addr: addr, Logger: testLogger(), Signal: signal.Config{ResumeSecret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(srv) })
	return srv
}

func shutdown(srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// stateLog keeps every state a call reports, in order.
type stateLog struct {
	mu  sync.Mutex
	all []client.State
}

func (l *stateLog) option() client.Option {
	return client.WithOnStateChange(func(s client.State) {
		l.mu.Lock()
		l.all = append(l.all, s)
		l.mu.Unlock()
	})
}

func (l *stateLog) seen(s client.State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.all, s)
}

func (l *stateLog) count(s client.State) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, st := range l.all {
		if st == s {
			n++
		}
	}
	return n
}

func (l *stateLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmtStates(l.all)
}

func fmtStates(all []client.State) string {
	s := ""
	for i, st := range all {
		if i > 0 {
			s += " → "
		}
		s += st.String()
	}
	return s
}

// signalingLog turns WithOnSignalingChange into a channel.
type signalingLog chan bool

func (l signalingLog) option() client.Option {
	return client.WithOnSignalingChange(func(up bool) {
		select {
		case l <- up:
		default:
		}
	})
}

func (l signalingLog) waitFor(t *testing.T, name string, want bool, within time.Duration) {
	t.Helper()
	deadline := time.After(within) // a hang detector, not a timing
	for {
		select {
		case got := <-l:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("%s: signaling up=%v never reported", name, want)
		}
	}
}

// TestServerRestartMidCall: two SDK peers in a call; the server shuts
// down and a new process (same port, same resume secret) takes its place.
// Chat keeps flowing peer to peer while no server is there; both peers
// resume their places, neither ever sees the other leave, and the call
// can renegotiate afterwards: a track added after the restart arrives.
func TestServerRestartMidCall(t *testing.T) {
	secret := []byte("a resume secret shared by restarts")
	srv := startServerAt(t, "127.0.0.1:0", secret)
	addr := srv.Addr().String()
	url := srv.URL()

	tracks := make(chan string, 4)
	onTrack := client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		tracks <- tr.Codec().MimeType
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	backoff := client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second, Total: 60 * time.Second})
	var stA, stB stateLog
	sigA, sigB := make(signalingLog, 8), make(signalingLog, 8)
	inA, inB := newInbox(), newInbox()
	a := dial(t, url, "restart", backoff, stA.option(), sigA.option(), inA.option())
	b := dial(t, url, "restart", backoff, stB.option(), sigB.option(), inB.option(), onTrack)
	waitChat(t, a, b)

	shutdown(srv)
	sigA.waitFor(t, "a", false, 20*time.Second)
	sigB.waitFor(t, "b", false, 20*time.Second)
	if a.SignalingUp() || b.SignalingUp() {
		t.Fatal("SignalingUp() true with no server")
	}
	// No server at all now: chat is peer to peer.
	if err := a.SendChat("while the server is away"); err != nil {
		t.Fatalf("chat during the outage: %v", err)
	}
	inB.expect(t, "while the server is away")
	if err := b.SendChat("still here"); err != nil {
		t.Fatalf("chat during the outage: %v", err)
	}
	inA.expect(t, "still here")

	startServerAt(t, addr, secret)
	sigA.waitFor(t, "a", true, 30*time.Second)
	sigB.waitFor(t, "b", true, 30*time.Second)

	// A renegotiation through the new server: a's track reaches b.
	addOpus(t, a)
	expectOpus(t, tracks, fmt.Sprintf("the track added after the restart (states a: %v, b: %v)", &stA, &stB))
	if err := b.SendChat("after the restart"); err != nil {
		t.Fatal(err)
	}
	inA.expect(t, "after the restart")
	for name, l := range map[string]*stateLog{"a": &stA, "b": &stB} {
		if l.seen(client.StatePeerLeft) || l.seen(client.StateFailed) || l.count(client.StateConnecting) != 1 {
			t.Errorf("%s saw the call break or start over: %v", name, l)
		}
	}
	if a.State() != client.StateConnected || b.State() != client.StateConnected {
		t.Fatalf("states after the restart: a %v, b %v", a.State(), b.State())
	}
}

// TestPeerLeftDuringServerRestart: the other peer goes away while the
// server is down, so no peer-left can reach us. If it hangs up, its
// closing connection (DTLS close_notify) tells us; if it vanishes (its
// network is gone too), the media outage runs out while the room we
// resumed stays without it. Either way the call reports peer-left, not
// failed, and waits in its room for the next peer.
func TestPeerLeftDuringServerRestart(t *testing.T) {
	for _, vanish := range []bool{false, true} {
		t.Run(fmt.Sprintf("vanishes %v", vanish), func(t *testing.T) {
			testPeerLeftDuringRestart(t, vanish)
		})
	}
}

func testPeerLeftDuringRestart(t *testing.T, vanish bool) {
	secret := []byte("a resume secret shared by restarts")
	srv := startServerAt(t, "127.0.0.1:0", secret)
	addr := srv.Addr().String()
	backoff := client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second, Total: 60 * time.Second})
	policy := client.WithICERestart(client.ICERestart{Grace: 500 * time.Millisecond, GiveUp: 3 * time.Second})
	_, seA := cuttablePeer(t)
	connB, seB := cuttablePeer(t)
	var stA stateLog
	sigA := make(signalingLog, 8)
	a := dial(t, srv.URL(), "left-away", seA, backoff, policy, stA.option(), sigA.option())
	b := dial(t, srv.URL(), "left-away", seB, backoff, policy)
	waitChat(t, a, b)

	shutdown(srv)
	sigA.waitFor(t, "a", false, 20*time.Second)
	if vanish {
		connB.SetCut(true) // its close_notify never arrives
	}
	b.Close()
	startServerAt(t, addr, secret)
	sigA.waitFor(t, "a", true, 30*time.Second)
	waitState(t, "a", a, client.StatePeerLeft)
	if stA.seen(client.StateFailed) {
		t.Fatalf("a reported failed: %v", &stA)
	}
}

// cutProxy forwards TCP connections to a server; cut drops every current
// one at once, as a network blip on one peer's side would, while new
// connections still get through.
type cutProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newCutProxy(t testing.TB, to string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, to: to}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.to)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Go(func() { io.Copy(out, in); out.Close() })
		p.wg.Go(func() { io.Copy(in, out); in.Close() })
	}
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestSignalingBlip: one peer's signaling connection breaks (no close
// frame, the server stays up). The server keeps its place as a ghost; the
// peer redials and resumes; the other peer never sees it leave, and the two
// renegotiate afterwards.
func TestSignalingBlip(t *testing.T) {
	srv := startServer(t)
	proxy := newCutProxy(t, srv.Addr().String())
	tracks := make(chan string, 4)
	onTrack := client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		tracks <- tr.Codec().MimeType
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	backoff := client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second})
	var stA, stB stateLog
	sigA := make(signalingLog, 8)
	a := dial(t, "http://"+proxy.ln.Addr().String(), "blip", backoff, stA.option(), sigA.option())
	b := dial(t, srv.URL(), "blip", stB.option(), onTrack)
	waitChat(t, a, b)

	proxy.cut()
	sigA.waitFor(t, "a", false, 20*time.Second)
	sigA.waitFor(t, "a", true, 30*time.Second)

	addOpus(t, a)
	expectOpus(t, tracks, fmt.Sprintf("the track added after the blip (states a: %v, b: %v)", &stA, &stB))
	if stB.seen(client.StatePeerLeft) || stA.seen(client.StatePeerLeft) {
		t.Fatalf("a leave was seen: a %v, b %v", &stA, &stB)
	}
	// b kept its peer connection: it never went back to connecting.
	if n := stB.count(client.StateConnecting); n != 1 {
		t.Fatalf("b connected %d times: %v", n, &stB)
	}
}
