package natsbus_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/bus/natsbus"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// TestMain fails the package if a node, its bus, a call or the NATS server
// leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Short liveness timings so a dead node is noticed quickly in tests; the
// bound a partner waits is about nodeTimeout + heartbeat.
const (
	heartbeat   = 100 * time.Millisecond
	nodeTimeout = time.Second
)

var resumeSecret = []byte("0123456789abcdef0123456789abcdef")

func testLogger() *slog.Logger {
	if os.Getenv("DUET_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// natsServer is a real NATS server with JetStream, in-process, on a free
// port (or the given one, to restart it where the nodes expect it).
type natsServer struct {
	t    testing.TB
	opts natsserver.Options
	srv  *natsserver.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, opts: natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}}
	n.start()
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start() {
	n.t.Helper()
	opts := n.opts
	s, err := natsserver.NewServer(&opts)
	if err != nil {
		n.t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("nats server not ready")
	}
	n.srv = s
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *natsServer) url() string { return n.srv.ClientURL() }

// node is one duet server on the cluster.
type node struct {
	srv *server.Server
	bus *natsbus.Bus
}

func startNode(t testing.TB, url string) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, natsbus.Config{URL: url, Heartbeat: heartbeat, NodeTimeout: nodeTimeout, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Addr: "127.0.0.1:0", Logger: testLogger(),
		// Tests join fast from one address and the benchmark relays
		// flat out: lift the per-IP join and per-connection message limits.
		Signal: signal.Config{Bus: b, ResumeSecret: resumeSecret, JoinRate: 1000, JoinBurst: 1000, MsgRate: 1e9, MsgBurst: 1 << 30},
		Ready:  b.Ready,
	})
	if err == nil {
		err = srv.Start(context.Background())
	}
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	n := &node{srv: srv, bus: b}
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down: the server drains, then the bus leaves.
func (n *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.bus.Close()
}

// kill is a node's death as the cluster sees it: its bus goes silent first
// (no leave, no release reaches anyone), then its connections are cut.
func (n *node) kill() {
	n.bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
}

func startCluster(t testing.TB, nodes int) (*natsServer, []*node) {
	t.Helper()
	ns := startNATS(t)
	var out []*node
	for range nodes {
		out = append(out, startNode(t, ns.url()))
	}
	// Every node hears every other's heartbeat before the test starts.
	waitFor(t, 10*time.Second, "nodes to see each other", func() bool {
		for _, n := range out {
			if n.bus.Stats().Nodes != nodes-1 {
				return false
			}
		}
		return true
	})
	return ns, out
}

func waitFor(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial joins room through n and closes the call when the test ends.
func dial(t testing.TB, n *node, room string, opts ...client.Option) (*client.Call, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(testLogger().With("room", room))}, opts...)
	c, err := client.Dial(ctx, n.srv.URL(), room, opts...)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func mustDial(t testing.TB, n *node, room string, opts ...client.Option) *client.Call {
	t.Helper()
	c, err := dial(t, n, room, opts...)
	if err != nil {
		t.Fatalf("Dial(%s, %s): %v", n.srv.URL(), room, err)
	}
	return c
}

// chatRoundTrip waits for the chat channel on both calls and sends a line
// each way.
func chatRoundTrip(t testing.TB, a, b *client.Call, ina, inb inbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, c := range []*client.Call{a, b} {
		if err := c.WaitChat(ctx); err != nil {
			t.Fatalf("call %d: chat never opened: %v (state %v)", i, err, c.State())
		}
	}
	if err := a.SendChat("ping from a"); err != nil {
		t.Fatal(err)
	}
	inb.expect(t, "ping from a")
	if err := b.SendChat("pong from b"); err != nil {
		t.Fatal(err)
	}
	ina.expect(t, "pong from b")
}

type inbox chan string

func newInbox() inbox { return make(inbox, 16) }

func (in inbox) option() client.Option {
	return client.WithOnChat(func(s string) {
		select {
		case in <- s:
		default:
		}
	})
}

func (in inbox) expect(t testing.TB, want string) {
	t.Helper()
	select {
	case got := <-in:
		if got != want {
			t.Fatalf("chat: got %q, want %q", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("chat: %q never arrived", want)
	}
}

// states records the states a call reports.
type states chan client.State

func newStates() states { return make(states, 64) }

func (s states) option() client.Option {
	return client.WithOnStateChange(func(st client.State) {
		select {
		case s <- st:
		default:
		}
	})
}

// waitFor returns how long it took for want to be reported.
func (s states) waitFor(t testing.TB, want client.State, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(timeout)
	for {
		select {
		case st := <-s:
			if st == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("state %v never reported within %v", want, timeout)
		}
	}
}
