// Package server assembles duet's HTTP side: the web app, signaling at /ws,
// /healthz and /api/ice-servers, on one listener. It embeds like
// nats-server: New validates, Start opens the listener and returns, Shutdown
// is idempotent, and Addr tells the real port when the config asked for :0.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/tlsmux"
	"github.com/duet-call/duet/internal/web"
	"github.com/duet-call/duet/protocol"
)

// Config is what the server needs; Addr is required.
type Config struct {
	Addr   string // host:port to listen on; port 0 picks a free one
	Logger *slog.Logger
	Signal signal.Config
	// TLS, when set, makes the listener serve HTTPS.
	TLS *tls.Config
	// TURN, when set with TLS, makes TURN over TLS share the HTTPS port
	// (internal/tlsmux): connections that speak STUN after the handshake
	// are given to it (turnserver.Server.ServeConn), the rest are HTTP.
	TURN func(net.Conn)
	// Routes, when set, may add handlers to the mux.
	Routes func(mux *http.ServeMux)
	// Wrap, when set, wraps the whole handler (HSTS, for one).
	Wrap func(http.Handler) http.Handler
	// Metrics, when set, observes the hub and serves /metrics and
	// /api/call-report.
	Metrics *metrics.Metrics
	// MetricsAddr, when set, serves /metrics on a listener of its own
	// (an internal address, say) instead of on Addr.
	MetricsAddr string
	// Clients says which TCP peers are trusted proxies whose forwarded
	// headers name the client (see clientaddr). Nil trusts none.
	Clients *clientaddr.Resolver
	// ReportRate and ReportBurst limit call reports per client address
	// (per second); zero means 1 a second with a burst of 10.
	ReportRate  float64
	ReportBurst int
	// Ready, when set, is asked by /readyz besides the server's own state
	// (TURN up, NATS connected, ...); a non-nil error means not ready.
	Ready func() error
}

// Server is one duet HTTP server.
type Server struct {
	cfg  Config
	log  *slog.Logger
	hub  *signal.Hub
	http *http.Server

	metricsHTTP *http.Server // nil unless MetricsAddr is set

	mu       sync.Mutex
	ln       net.Listener
	mln      net.Listener
	serveErr chan error
	draining atomic.Bool
	shutOnce sync.Once
	shutErr  error
}

// New checks cfg and builds a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("server: Addr is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if cfg.Metrics != nil && cfg.Signal.Observer == nil {
		cfg.Signal.Observer = cfg.Metrics
	}
	if cfg.Signal.CheckOrigin != nil {
		cfg.Signal.CheckOrigin = logRefusals(cfg.Signal.CheckOrigin, cfg.Logger)
	}
	s.hub = signal.NewHub(cfg.Signal, cfg.Logger.With("part", "signal"))

	mux := http.NewServeMux()
	mux.Handle("GET /ws", s.hub)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /api/ice-servers", s.iceServers)
	mux.HandleFunc("GET /readyz", s.readyz)
	if m := cfg.Metrics; m != nil {
		m.WatchHub(s.hub.Stats)
		if cfg.MetricsAddr != "" {
			mm := http.NewServeMux()
			mm.Handle("GET /metrics", m.Handler())
			s.metricsHTTP = &http.Server{Handler: mm, ReadHeaderTimeout: 10 * time.Second,
				ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
		} else {
			mux.Handle("GET /metrics", m.Handler())
		}
		// Reports are optional telemetry, limited per client so that a
		// flood from one address neither costs much nor crowds out the
		// reports of everyone else.
		rps, burst := cfg.ReportRate, cfg.ReportBurst
		if rps <= 0 {
			rps = 1
		}
		if burst <= 0 {
			burst = 10
		}
		lim := clientaddr.NewLimiter(rps, burst, 0)
		mux.Handle("POST /api/call-report", m.ReportHandler(func(r *http.Request) bool {
			return lim.Allow(clientaddr.From(r).Key())
		}))
	} else {
		// Without metrics there is nothing to count: say so plainly
		// rather than let the app's report fall through to the static
		// files (a 405 in every page's console).
		mux.HandleFunc("POST /api/call-report", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})
	}
	if cfg.Routes != nil {
		cfg.Routes(mux)
	}
	mux.Handle("/", web.Handler())
	var h http.Handler = mux
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.http = &http.Server{
		Handler:           cfg.Clients.Handler(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Requests here are small (a WebSocket upgrade, the app's files);
		// net/http's default of 1 MB only lets a client make us hold more.
		MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Hub returns the signaling hub, for stats.
func (s *Server) Hub() *signal.Hub { return s.hub }

// Start opens the listener and serves in the background. A bind error is
// returned here, not logged later.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.cfg.Addr, err)
	}
	switch {
	case s.cfg.TLS != nil && s.cfg.TURN != nil:
		ln = tlsmux.New(ln, tlsmux.Config{TLS: s.cfg.TLS, TURN: s.cfg.TURN, Log: s.log.With("part", "tlsmux")})
	case s.cfg.TLS != nil:
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	var mln net.Listener
	if s.metricsHTTP != nil {
		if mln, err = lc.Listen(ctx, "tcp", s.cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("server: listen for metrics on %s: %w", s.cfg.MetricsAddr, err)
		}
	}
	s.mu.Lock()
	s.ln, s.mln = ln, mln
	s.serveErr = make(chan error, 2)
	s.mu.Unlock()
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	if mln != nil {
		go func() {
			err := s.metricsHTTP.Serve(mln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			s.serveErr <- err
		}()
	}
	return nil
}

// MaxHeaderBytes bounds a request's header on the app's listener.
const MaxHeaderBytes = 16 << 10

// MetricsAddr is the metrics listener's address; nil without MetricsAddr
// or before Start.
func (s *Server) MetricsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mln == nil {
		return nil
	}
	return s.mln.Addr()
}

// Addr is the listening address; nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL is the base URL of the app, such as http://127.0.0.1:8080.
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	a := s.Addr()
	if a == nil {
		return ""
	}
	return scheme + "://" + a.String()
}

// Shutdown stops accepting, tells every signaling client the server is going
// away, and waits for them until ctx ends. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.shutOnce.Do(func() {
		// Hub first: while it says bye and refuses newcomers, the listener
		// is still open, so /readyz tells a load balancer we are draining
		// and reconnecting clients get a clear shutting-down refusal.
		// http.Server.Shutdown does not wait for hijacked (WebSocket)
		// connections; the hub closes those itself.
		errHub := s.hub.Shutdown(ctx)
		errHTTP := s.http.Shutdown(ctx)
		var errMetrics error
		if s.metricsHTTP != nil {
			errMetrics = s.metricsHTTP.Shutdown(ctx)
		}
		s.mu.Lock()
		ch, n := s.serveErr, 1
		if s.mln != nil {
			n = 2
		}
		s.mu.Unlock()
		var errServe error
		if ch != nil {
			for range n {
				errServe = errors.Join(errServe, <-ch)
			}
		}
		s.shutErr = errors.Join(errHTTP, errHub, errMetrics, errServe)
	})
	return s.shutErr
}

// readyz answers 200 when the server is listening and not draining and the
// configured Ready check passes; 503 with the reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var err error
	if s.draining.Load() {
		err = errors.New("shutting down")
	}
	if err == nil && s.cfg.Ready != nil {
		err = s.cfg.Ready()
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

// iceServers answers GET /api/ice-servers with the ICE servers that need
// no credential (STUN). Relay credentials cost the operator bandwidth, so
// they go only to signaling connections that joined a room, in joined
// (docs/protocol.md); the pre-call check joins a room of its own for them.
func (s *Server) iceServers(w http.ResponseWriter, r *http.Request) {
	list := []protocol.ICEServer{}
	if f := s.cfg.Signal.ICEServers; f != nil {
		for _, srv := range f(clientaddr.From(r).Hostname(), "") {
			if srv.Username == "" && srv.Credential == "" {
				list = append(list, srv)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"iceServers": list})
}
