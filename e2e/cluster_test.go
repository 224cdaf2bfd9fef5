package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/bus/natsbus"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// startClusterNode runs a duet server on the NATS cluster at url.
func startClusterNode(t *testing.T, url string) *server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, natsbus.Config{
		URL: url, Heartbeat: 200 * time.Millisecond, NodeTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	must(t, err)
	// Cleanups run last-in first-out: the server drains, then the bus goes.
	t.Cleanup(func() { b.Close() })
	return startServerWith(t, server.Config{
		Addr:   "127.0.0.1:0",
		Signal: signal.Config{Bus: b, ResumeSecret: []byte("e2e-cluster-resume-secret-32byte")},
		Ready:  b.Ready,
		// The app posts its call report; a node answers it as duet serve does.
		Metrics: metrics.New(),
	})
}

// TestClusterCall: the two pages of a call load the app from different duet
// nodes sharing rooms over a real NATS server; they see each other, chat,
// a third page on either node is turned away, and a hang-up on one node
// reaches the page on the other.
func TestClusterCall(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	must(t, err)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	node0 := startClusterNode(t, ns.ClientURL())
	node1 := startClusterNode(t, ns.ClientURL())

	b := browsertest.New(t)
	clock := newStopwatch(t)
	const room = "cluster-call-room"
	alice := b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, node0.URL()+"/r/"+room))
	waitState(t, alice, "waiting", stepTimeout)
	bob := b.NewPage(t, browsertest.PageName("bob"), browsertest.Isolated())
	must(t, browsertest.Navigate(bob, node1.URL()+"/r/"+room))

	waitState(t, alice, "connected", connectTimeout)
	waitState(t, bob, "connected", connectTimeout)
	waitVideo(t, alice)
	waitVideo(t, bob)
	clock.step("pages on two nodes connected, video both ways")

	sendChat(t, alice, "hello from node 0")
	waitChat(t, bob, "hello from node 0")
	sendChat(t, bob, "hello from node 1")
	waitChat(t, alice, "hello from node 1")
	clock.step("chat both ways")

	carol := b.NewPage(t, browsertest.PageName("carol"), browsertest.Isolated())
	must(t, browsertest.Navigate(carol, node1.URL()+"/r/"+room))
	waitState(t, carol, "room-full", stepTimeout)
	clock.step("a third page on node 1 turned away")

	must(t, browsertest.Click(alice, "hangup-button"))
	waitState(t, alice, "ended", stepTimeout)
	waitState(t, bob, "peer-left", stepTimeout)
	clock.step("hang-up on node 0 reached node 1")
}
