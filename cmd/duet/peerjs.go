package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/peerjs"
	"github.com/duet-call/duet/internal/server"
)

// peerjsFlags are the flags of the PeerJS-compatible endpoint of `duet serve`.
type peerjsFlags struct {
	enabled        bool
	path, key      string
	origins        string
	allowDiscovery bool
	alive, expire  time.Duration
	limit          int
}

// addPeerJSFlags declares the PeerJS flags on fs. Call flagenv.Usage and
// flagenv.Parse after it, so each has a DUET_* twin (DUET_PEERJS_KEY, …).
func addPeerJSFlags(fs *flag.FlagSet) *peerjsFlags {
	f := &peerjsFlags{}
	fs.BoolVar(&f.enabled, "peerjs", true, "serve the PeerJS server protocol, so PeerJS apps can use duet as their peerjs-server (--peerjs=false turns it off)")
	fs.StringVar(&f.path, "peerjs-path", "/peerjs", "URL path of the PeerJS endpoint; PeerJS clients pass the same `path` option")
	fs.StringVar(&f.key, "peerjs-key", "peerjs", "PeerJS API key clients must pass (option `key`)")
	fs.StringVar(&f.origins, "peerjs-allowed-origins", "*", "comma-separated origins (scheme://host[:port], or *) whose pages may use the PeerJS endpoint; same-origin is always allowed")
	fs.BoolVar(&f.allowDiscovery, "peerjs-allow-discovery", false, "list connected PeerJS ids at GET <path>/<key>/peers")
	fs.DurationVar(&f.alive, "peerjs-alive-timeout", 60*time.Second, "close a PeerJS connection silent (no HEARTBEAT, message or pong) for this long and free its id")
	fs.DurationVar(&f.expire, "peerjs-expire-timeout", 5*time.Second, "hold messages for a PeerJS id that is not connected this long, then send the senders EXPIRE")
	fs.IntVar(&f.limit, "peerjs-concurrent-limit", 5000, "most PeerJS ids registered at once")
	return f
}

// pathPattern keeps the mount point simple and away from the app's own
// routes; "/" is refused because the web app lives there.
var pathPattern = regexp.MustCompile(`^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

var reservedPaths = []string{"/ws", "/healthz", "/metrics", "/api", "/r", "/assets", "/whip", "/whep"}

// setup builds the PeerJS endpoint from the flags. It returns a route adder
// for server.Config.Routes and a shutdown func; both are no-ops when the
// endpoint is off. Call shutdown after the HTTP server's Shutdown.
func (f *peerjsFlags) setup(log *slog.Logger, limits func(*peerjs.Config)) (routes func(*http.ServeMux), shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	if !f.enabled {
		return func(*http.ServeMux) {}, noop, nil
	}
	path := strings.TrimRight(f.path, "/")
	if !pathPattern.MatchString(path) {
		return nil, nil, fmt.Errorf("--peerjs-path %q: want a path like /peerjs (not /)", f.path)
	}
	for _, r := range reservedPaths {
		if path == r || strings.HasPrefix(path, r+"/") {
			return nil, nil, fmt.Errorf("--peerjs-path %q: %s belongs to duet itself", f.path, r)
		}
	}
	if f.key == "" {
		return nil, nil, fmt.Errorf("--peerjs-key must not be empty")
	}
	check, err := server.OriginChecker(strings.Split(f.origins, ","))
	if err != nil {
		return nil, nil, fmt.Errorf("--peerjs-allowed-origins: %w", err)
	}
	cfg := peerjs.Config{
		Key:             f.key,
		AllowDiscovery:  f.allowDiscovery,
		AliveTimeout:    f.alive,
		ExpireTimeout:   f.expire,
		ConcurrentLimit: f.limit,
		CheckOrigin:     check,
		Logger:          log.With("part", "peerjs"),
	}
	if limits != nil {
		limits(&cfg)
	}
	srv, err := peerjs.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("peerjs: %w", err)
	}
	log.Info("PeerJS endpoint", "path", path, "key", f.key, "discovery", f.allowDiscovery)
	return func(mux *http.ServeMux) { srv.Mount(mux, path) }, srv.Shutdown, nil
}
