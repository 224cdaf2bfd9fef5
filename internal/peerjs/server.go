package peerjs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Server is the PeerJS endpoint: a registry of ids and the HTTP handler
// that serves them. It starts no goroutine of its own; connections are read
// by wsconn's pollers, and expiry runs on timers.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	mu          sync.Mutex
	peers       map[string]*conn   // registered ids
	conns       map[*conn]struct{} // every admitted connection
	queues      map[string]*queue  // messages for ids not connected
	queued      int                // messages in all queues
	queuedBytes int                // their size
	ips         map[string]*ipState
	lastSweep   time.Time
	draining    bool

	wg sync.WaitGroup // one count per admitted connection until its socket is closed
}

// Stats is a snapshot of the registry's size.
type Stats struct {
	Conns          int // open WebSocket connections
	Peers          int // registered ids
	QueuedPeers    int // ids not connected that have messages waiting
	QueuedMessages int // messages waiting for those ids
	QueuedBytes    int // their size
}

// New checks cfg and builds a server. Mount Handler under the PeerJS path.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		peers:  map[string]*conn{},
		conns:  map[*conn]struct{}{},
		queues: map[string]*queue{},
		ips:    map[string]*ipState{},
	}
	mux := http.NewServeMux()
	// Paths are relative to the mount point, as the client builds them:
	// `${path}${key}/id` and `${path}peerjs?key=…`.
	mux.HandleFunc("GET /{$}", s.info)
	mux.HandleFunc("GET /{key}/id", s.newID)
	mux.HandleFunc("GET /{key}/peers", s.listPeers)
	mux.HandleFunc("GET /peerjs", s.serveWS)
	s.handler = s.cors(mux)
	return s, nil
}

// Handler serves the PeerJS API with paths relative to where it is
// mounted; see Mount.
func (s *Server) Handler() http.Handler { return s.handler }

// Mount adds the endpoint to mux at path ("/peerjs"): the client option
// `path` must be the same.
func (s *Server) Mount(mux *http.ServeMux, path string) {
	path = "/" + trimSlashes(path)
	h := http.StripPrefix(path, s.handler)
	mux.Handle(path+"/", h)
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		u := *r.URL
		u.Path, u.RawPath = "/", ""
		r2.URL = &u
		s.handler.ServeHTTP(w, &r2)
	}))
}

func trimSlashes(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Conns: len(s.conns), Peers: len(s.peers), QueuedPeers: len(s.queues), QueuedMessages: s.queued, QueuedBytes: s.queuedBytes}
}

// cors answers as the reference server's `cors({origin: true})` does:
// the request's Origin is echoed when allowed, and preflights get 204.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (s.cfg.CheckOrigin == nil || s.cfg.CheckOrigin(r))
		if origin != "" {
			w.Header().Add("Vary", "Origin")
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method == http.MethodOptions {
			if allowed {
				w.Header().Set("Access-Control-Allow-Methods", "GET,HEAD")
				if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
					w.Header().Set("Access-Control-Allow-Headers", h)
					w.Header().Add("Vary", "Access-Control-Request-Headers")
				}
			}
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]string{
		"name":        "PeerJS Server",
		"description": "A server side element to broker connections between PeerJS clients.",
		"website":     "https://peerjs.com/",
	})
}

// newID hands out a random id that is not registered. Like the reference
// server it does not check the key: the WebSocket does.
func (s *Server) newID(w http.ResponseWriter, _ *http.Request) {
	var id string
	for {
		id = rand.Text() // 26 characters of base32: 130 bits
		s.mu.Lock()
		_, taken := s.peers[id]
		s.mu.Unlock()
		if !taken {
			break
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, id)
}

func (s *Server) listPeers(w http.ResponseWriter, _ *http.Request) {
	if !s.cfg.AllowDiscovery {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.peers))
	for id := range s.peers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(ids)
}

// Shutdown refuses new connections, closes every open one with 1001 (going
// away), drops queued messages, and waits for the sockets to be closed or
// ctx to expire, when it drops the connections still being read. Safe to
// call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for c := range s.conns {
		c.stop(closeGoingAway)
	}
	for id, q := range s.queues {
		q.timer.Stop()
		delete(s.queues, id)
	}
	s.queued, s.queuedBytes = 0, 0
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.ws.Abort()
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("peerjs: shutdown: %w", ctx.Err())
	}
}
