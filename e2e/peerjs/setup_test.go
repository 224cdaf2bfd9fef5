// Package peerjs_test runs the real PeerJS client (npm `peerjs`) in
// headless Chromium against duet's PeerJS endpoint and against the
// reference `peer` server, and checks that both behave the same.
package peerjs_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/peerjs"
	"github.com/duet-call/duet/internal/peerjs/peerjstest"
	"github.com/duet-call/duet/internal/server"
)

// e2e reports whether DUET_E2E=1 asks for every real part: then a missing
// Chromium, Node or npm fails the test instead of skipping it.
func e2e() bool { return os.Getenv("DUET_E2E") == "1" }

// need skips or fails on a missing real part.
func need(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !e2e() && errors.Is(err, peerjstest.ErrNoNode) {
		t.Skipf("%v (set DUET_E2E=1 to make this a failure)", err)
	}
	t.Fatal(err)
}

// target is a PeerJS server under test: where a client finds it.
type target struct {
	name string
	host string
	port int
	path string
}

// The expire timeout both servers run with, so EXPIRE comes quickly.
const expireTimeout = 2 * time.Second

// startDuet runs an internal/server with the PeerJS handler mounted through
// server.Config.Routes, as `duet serve` does.
func startDuet(t *testing.T) target {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pj, err := peerjs.New(peerjs.Config{ExpireTimeout: expireTimeout, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Addr:   "127.0.0.1:0",
		Logger: log,
		Routes: func(mux *http.ServeMux) { pj.Mount(mux, "/peerjs") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		pj.Shutdown(ctx)
	})
	port, _ := strconv.Atoi(srv.Addr().String()[strings.LastIndexByte(srv.Addr().String(), ':')+1:])
	return target{name: "duet", host: "127.0.0.1", port: port, path: "/peerjs"}
}

// startReference runs the npm `peer` server with node.
func startReference(t *testing.T) target {
	t.Helper()
	ref, err := peerjstest.StartReference(context.Background(), peerjstest.RefOptions{Path: "/peerjs", ExpireTimeout: expireTimeout})
	need(t, err)
	t.Cleanup(ref.Stop)
	return target{name: "peerjs-server", host: "127.0.0.1", port: ref.Port, path: "/peerjs"}
}

// servePage serves the test page and the installed peerjs browser bundle
// from their own origin, apart from both servers: PeerJS apps are
// cross-origin to their server.
func servePage(t *testing.T) string {
	t.Helper()
	dir, err := peerjstest.Install(context.Background(), peerjstest.ClientPackage)
	need(t, err)
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir("testdata")))
	mux.HandleFunc("/peerjs.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "dist", "peerjs.min.js"))
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}
