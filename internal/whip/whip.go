// Package whip lets media tools take a place in a duet room over HTTP: a
// WHIP publisher (RFC 9725: OBS, GStreamer, simple-whip-client, FFmpeg)
// with POST /whip/{room}, and a WHEP player (a recorder, a monitor) with
// POST /whep/{room}. The tool becomes the room's other place
// (signal.Local); its SDP offer is relayed to the person there as an
// ordinary description, and that person's app answers it. Media flows
// between the tool and the person's browser or Go peer: the server relays
// no media, only the offer, the answer and ICE candidates.
//
// docs/whip.md is the user's guide and the list of every status code;
// docs/protocol.md says what the person's app sees.
package whip

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// Config tunes the endpoints. The zero value of every field means its
// default.
type Config struct {
	// Token, when set, must come with every request as
	// "Authorization: Bearer <Token>" (--whip-token). Without it, knowing
	// the room is the capability, as for a browser.
	Token string
	// ICEServers gives the STUN/TURN servers for a client that reached us
	// by host, with TURN credentials for the place user holds (sent as
	// Link headers); nil means none (LAN mode). It is signal.Config's.
	ICEServers func(host, user string) []protocol.ICEServer
	// AnswerTimeout bounds the wait for the peer's answer to an offer.
	AnswerTimeout time.Duration
	// GatherWait bounds, after the answer, the wait for the peer's
	// end-of-candidates; candidates gathered by then go into the answer.
	GatherWait time.Duration
	// DismissCooldown is how long a room refuses new WHIP/WHEP sessions
	// after its person sent one away, so a tool that reconnects by itself
	// does not come straight back.
	DismissCooldown time.Duration
	// RequestRate and RequestBurst limit requests per client address.
	RequestRate  float64
	RequestBurst int
	// Logger, nil for slog.Default.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = 15 * time.Second
	}
	if c.GatherWait <= 0 {
		c.GatherWait = time.Second
	}
	if c.DismissCooldown <= 0 {
		c.DismissCooldown = time.Minute
	}
	if c.RequestRate <= 0 {
		c.RequestRate = 10
	}
	if c.RequestBurst <= 0 {
		c.RequestBurst = 50 // a trickling client sends a PATCH per candidate
	}
	if c.ICEServers == nil {
		c.ICEServers = func(string, string) []protocol.ICEServer { return nil }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Bodies are bounded: an offer must fit, as a description, in one
// signaling frame; a fragment is a few candidate lines.
const (
	maxOfferBytes = protocol.MaxMessageSize - 1024 // room for the JSON around it
	maxFragBytes  = 16 << 10
)

// Service serves the WHIP and WHEP endpoints. It starts no goroutine: a
// session lives in its room, and requests wait on their own goroutines.
type Service struct {
	cfg   Config
	log   *slog.Logger
	hub   atomic.Pointer[signal.Hub]
	limit *clientaddr.Limiter

	mu        sync.Mutex
	res       map[string]*resource // by id
	dismissed map[string]time.Time // room → until when it refuses new sessions
}

// New makes a Service; give it its hub with SetHub before serving.
func New(cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		cfg:       cfg,
		log:       cfg.Logger,
		limit:     clientaddr.NewLimiter(cfg.RequestRate, cfg.RequestBurst, 0),
		res:       map[string]*resource{},
		dismissed: map[string]time.Time{},
	}
}

// SetHub gives the service the hub whose rooms it joins. Until then every
// request gets 503. (server.New makes the hub after the routes.)
func (s *Service) SetHub(h *signal.Hub) { s.hub.Store(h) }

// Register adds the endpoints to mux.
func (s *Service) Register(mux *http.ServeMux) {
	for _, kind := range []string{protocol.KindWHIP, protocol.KindWHEP} {
		kind := kind
		mux.HandleFunc("/"+kind+"/{room}", func(w http.ResponseWriter, r *http.Request) { s.endpoint(w, r, kind) })
		mux.HandleFunc("/"+kind+"/{room}/{id}", func(w http.ResponseWriter, r *http.Request) { s.session(w, r, kind) })
	}
}

// Sessions is how many WHIP and WHEP sessions are open, for tests.
func (s *Service) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.res)
}

const (
	endpointMethods = "POST, OPTIONS"
	sessionMethods  = "PATCH, DELETE, OPTIONS"
)

// endpoint is /whip/{room} and /whep/{room}.
func (s *Service) endpoint(w http.ResponseWriter, r *http.Request, kind string) {
	cors(w)
	switch r.Method {
	case http.MethodOptions:
		if preflight(w, r, endpointMethods) {
			return
		}
		w.Header().Set("Accept-Post", "application/sdp")
		s.options(w, r, endpointMethods, true)
	case http.MethodPost:
		s.create(w, r, kind)
	default:
		w.Header().Set("Allow", endpointMethods)
		writeErr(w, &httpErr{http.StatusMethodNotAllowed, "bad-method", "this endpoint takes POST with an SDP offer", 0})
	}
}

// session is the resource URL, /whip/{room}/{id} and /whep/{room}/{id}.
func (s *Service) session(w http.ResponseWriter, r *http.Request, kind string) {
	cors(w)
	switch r.Method {
	case http.MethodOptions:
		if preflight(w, r, sessionMethods) {
			return
		}
		w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
		s.options(w, r, sessionMethods, false)
	case http.MethodPatch:
		s.patch(w, r, kind)
	case http.MethodDelete:
		s.delete(w, r, kind)
	default:
		w.Header().Set("Allow", sessionMethods)
		writeErr(w, &httpErr{http.StatusMethodNotAllowed, "bad-method", "a session takes PATCH and DELETE", 0})
	}
}

// cors lets web pages anywhere use the endpoints. Nothing rides on
// cookies: a page can do only what curl can, with the room (and the
// token, when one is set), so no origin is singled out.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Post, Accept-Patch, Retry-After")
}

// preflight answers a CORS preflight, which carries no credentials and so
// is neither authorized nor given ICE servers (RFC 9725, section 4.4).
func preflight(w http.ResponseWriter, r *http.Request, methods string) bool {
	if r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// options answers a plain OPTIONS: the methods, and on the endpoint the
// ICE servers that need no credential (simple-whip-client's --follow-link
// reads them here, before it offers). Relay credentials go only to a
// place in a room, as for the app: in the 201.
func (s *Service) options(w http.ResponseWriter, r *http.Request, methods string, ice bool) {
	if err := s.admit(r); err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Allow", methods)
	if ice {
		s.links(w, r, "")
	}
	w.WriteHeader(http.StatusNoContent)
}

// admit applies the per-address request limit and the token.
func (s *Service) admit(r *http.Request) error {
	if !s.limit.Allow(clientKey(r)) {
		return errLimited
	}
	if s.cfg.Token == "" {
		return nil
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.Token)) != 1 {
		return errUnauthorized
	}
	return nil
}

// clientKey is who a request counts against: the client's address, read
// through trusted proxies by internal/clientaddr.
func clientKey(r *http.Request) string { return clientaddr.From(r).Key() }

// links adds the ICE servers as Link headers (RFC 9725, section 4.6):
// with TURN credentials for the place user holds, or, with no user, only
// those that need none.
func (s *Service) links(w http.ResponseWriter, r *http.Request, user string) {
	for _, srv := range s.cfg.ICEServers(clientaddr.From(r).Hostname(), user) {
		if user == "" && (srv.Username != "" || srv.Credential != "") {
			continue
		}
		for _, l := range iceLinks([]protocol.ICEServer{srv}) {
			w.Header().Add("Link", l)
		}
	}
}

// iceLinks renders servers as Link header values.
func iceLinks(servers []protocol.ICEServer) []string {
	var out []string
	for _, srv := range servers {
		for _, u := range srv.URLs {
			if strings.ContainsAny(u, "<>\r\n") {
				continue
			}
			l := "<" + u + `>; rel="ice-server"`
			if srv.Username != "" || srv.Credential != "" {
				l += `; username=` + quote(srv.Username) + `; credential=` + quote(srv.Credential) + `; credential-type="password"`
			}
			out = append(out, l)
		}
	}
	return out
}

// quote is an HTTP quoted-string.
func quote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
	return `"` + s + `"`
}

// lookup finds the session a resource URL names: right kind, right room.
func (s *Service) lookup(kind, room, id string) *resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.res[id]
	if r == nil || r.kind != kind || r.room != room {
		return nil
	}
	return r
}

// register publishes r once its offer is answered, unless its place has
// ended meanwhile (then the caller refuses with that).
func (s *Service) register(r *resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended != "" {
		return &endedError{r.ended}
	}
	s.res[r.id] = r
	return nil
}

// forget drops r, and after a dismissal keeps the room closed to new
// sessions for the cooldown. Called by resource.Ended (the hub's lock is
// held) and after DELETE.
func (s *Service) forget(r *resource, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.res, r.id)
	if reason != protocol.ReasonDismissed {
		return
	}
	now := time.Now()
	if len(s.dismissed) >= maxDismissed {
		for room, until := range s.dismissed {
			if now.After(until) {
				delete(s.dismissed, room)
			}
		}
	}
	if len(s.dismissed) < maxDismissed {
		s.dismissed[r.room] = now.Add(s.cfg.DismissCooldown)
	}
}

// maxDismissed bounds the rooms kept closed after a dismissal; past it a
// dismissal still ends the session but the cooldown is not kept.
const maxDismissed = 10000

// cooldown is how long room still refuses new sessions, or 0.
func (s *Service) cooldown(room string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.dismissed[room]
	if !ok {
		return 0
	}
	left := time.Until(until)
	if left <= 0 {
		delete(s.dismissed, room)
		return 0
	}
	return left
}
