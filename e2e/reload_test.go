package e2e

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// connectPair opens link in two pages, one after the other, and waits until
// both decode each other's video.
func connectPair(t *testing.T, b *browsertest.Browser, link string) (first, second context.Context) {
	t.Helper()
	first = b.NewPage(t, browsertest.PageName("first"))
	must(t, browsertest.Navigate(first, link))
	waitState(t, first, "waiting", stepTimeout)
	second = b.NewPage(t, browsertest.PageName("second"))
	must(t, browsertest.Navigate(second, link))
	for _, p := range []context.Context{first, second} {
		waitState(t, p, "connected", connectTimeout)
	}
	for _, p := range []context.Context{first, second} {
		waitVideo(t, p)
	}
	return first, second
}

// markPC remembers the page's current peer connection, so that a later
// check can tell a fresh one from it.
func markPC(t *testing.T, page context.Context) {
	t.Helper()
	must(t, browsertest.Eval(page, `(window.__markedPC = window.duet.pc(), true)`, nil))
}

// TestReload: either person reloading the page (a new peer with a new
// connection) ends in a working call again; the one who stayed starts a
// fresh peer connection. The first reload is by the polite peer, the second
// by the impolite one, so both roles go through it.
func TestReload(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	first, second := connectPair(t, b, srv.URL()+"/r/reload-room")

	for _, tc := range []struct {
		name           string
		stays, reloads context.Context
	}{
		{"second reloads", first, second},
		{"first reloads", second, first},
	} {
		markPC(t, tc.stays)
		must(t, browsertest.Reload(tc.reloads))
		must(t, browsertest.WaitFor(tc.stays, `window.duet.pc() && window.duet.pc() !== window.__markedPC && window.duet.state() === "connected"`, connectTimeout))
		waitState(t, tc.reloads, "connected", connectTimeout)
		waitVideo(t, tc.stays)
		waitVideo(t, tc.reloads)
		t.Logf("%s: connected again", tc.name)
	}
}

// TestServerRestart: the server goes away in the middle of a call. Both
// pages say so, the media keeps flowing peer to peer, and when a server
// with the same resume secret is back on the same address, both resume
// their places: the same peer connections, and signaling works again (a
// hang-up reaches the other side).
func TestServerRestart(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{ResumeSecret: secret}}
	srv := startServerWith(t, cfg)
	b := browsertest.New(t)
	first, second := connectPair(t, b, srv.URL()+"/r/restart-room")
	markPC(t, first)
	markPC(t, second)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, srv.Shutdown(ctx))
	for _, p := range []context.Context{first, second} {
		waitState(t, p, "server-gone", stepTimeout)
		if s := statusText(t, p); !strings.Contains(s, "server went away") {
			t.Errorf("%s: call-status %q, want it to say the server went away", browsertest.Name(p), s)
		}
	}
	// Peer to peer, the call does not need the server.
	var frames [2]int64
	for i, p := range []context.Context{first, second} {
		st, err := browsertest.InboundVideo(p)
		must(t, err)
		frames[i] = st.FramesDecoded
	}
	for i, p := range []context.Context{first, second} {
		must(t, browsertest.WaitFor(p, `(async () => (await `+browsertest.InboundVideoJS+`).framesDecoded > `+strconv.FormatInt(frames[i], 10)+`)()`, stepTimeout))
	}

	// The same address again, so the pages' reconnects find it.
	cfg.Addr = srv.Addr().String()
	cfg.Signal.Tap = schematest.Tap(t)
	var srv2 *server.Server
	deadline := time.Now().Add(stepTimeout)
	for {
		s, err := server.New(cfg)
		must(t, err)
		if err = s.Start(context.Background()); err == nil {
			srv2 = s
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart on %s: %v", cfg.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv2.Shutdown(ctx)
	})

	// Reconnects back off up to 10 s ±50 %, so allow a few rounds.
	for _, p := range []context.Context{first, second} {
		must(t, browsertest.WaitFor(p, `window.duet.state() === "connected" && window.duet.pc() === window.__markedPC`, connectTimeout))
	}
	must(t, browsertest.Click(first, "hangup-button"))
	waitState(t, second, "peer-left", stepTimeout)
}

// TestJoinRateLimited: a join refused as rate-limited is tried again after
// a backoff, not shown as a dead end. Both pages share one IP, and the
// server here admits one join per 2 s, so the second page is refused first.
func TestJoinRateLimited(t *testing.T) {
	srv := startServerWith(t, server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{JoinRate: 0.5, JoinBurst: 1}})
	b := browsertest.New(t)
	link := srv.URL() + "/r/rate-room"
	first := b.NewPage(t, browsertest.PageName("first"))
	must(t, browsertest.Navigate(first, link))
	waitState(t, first, "waiting", stepTimeout)
	second := b.NewPage(t, browsertest.PageName("second"))
	must(t, browsertest.Navigate(second, link))
	for _, p := range []context.Context{first, second} {
		waitState(t, p, "connected", connectTimeout)
	}
	// The page logs each signaling message type it receives.
	log := strings.Join(browsertest.Console(second), "\n")
	if refused, joined := strings.Index(log, "<- error"), strings.Index(log, "<- joined"); refused < 0 || joined < refused {
		t.Errorf("second page was not refused before it joined; its console:\n%s", log)
	}
}
