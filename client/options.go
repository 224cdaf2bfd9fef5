package client

import (
	"log/slog"
	"net/http"

	"github.com/pion/webrtc/v4"
)

// Option configures Dial.
type Option func(*config)

type config struct {
	log          *slog.Logger
	iceServers   []webrtc.ICEServer
	iceOverride  bool
	setting      *webrtc.SettingEngine
	header       http.Header
	tracks       []webrtc.TrackLocal
	onState      func(State)
	onChat       func(text string)
	onTrack      func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	onSignaling  func(up bool)
	reconnect    Reconnect
	reconnectOff bool
	iceRestart   ICERestart
	relayOnly    bool
}

func defaultConfig() config {
	return config{log: slog.New(slog.DiscardHandler), reconnect: DefaultReconnect, iceRestart: DefaultICERestart}
}

// WithLogger sends the call's logs, pion's included, to l. By default the
// call logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithICEServers replaces the ICE servers the server hands out in joined.
// An empty list means host candidates only.
func WithICEServers(servers []webrtc.ICEServer) Option {
	return func(c *config) { c.iceServers, c.iceOverride = servers, true }
}

// WithRelayOnly makes the call use TURN relay candidates only
// (iceTransportPolicy "relay"), as the web app's ?relay=1 does: no address
// of this machine reaches the peer, and the call needs a TURN server.
func WithRelayOnly() Option {
	return func(c *config) { c.relayOnly = true }
}

// WithSettingEngine uses s instead of the SDK's tuned default (see
// DefaultSettingEngine). Its LoggerFactory is replaced by the call's logger
// unless already set.
func WithSettingEngine(s webrtc.SettingEngine) Option {
	return func(c *config) { c.setting = &s }
}

// WithHTTPHeader adds headers to the WebSocket handshake, such as Origin
// when the server's allow-list expects one, or an Authorization header for
// a proxy in front of it.
func WithHTTPHeader(h http.Header) Option {
	return func(c *config) { c.header = h.Clone() }
}

// WithTracks adds local tracks to every peer connection from its start, so
// the first offer already carries them. Call.AddTrack adds more later.
func WithTracks(tracks ...webrtc.TrackLocal) Option {
	return func(c *config) { c.tracks = append(c.tracks, tracks...) }
}

// WithOnStateChange calls f with every state change, in order.
func WithOnStateChange(f func(State)) Option {
	return func(c *config) { c.onState = f }
}

// WithOnChat calls f with the text of every chat message the peer sends,
// in order.
func WithOnChat(f func(text string)) Option {
	return func(c *config) { c.onChat = f }
}

// WithOnTrack calls f, in a goroutine of its own, for every remote track.
// f should read the track until ReadRTP fails (the peer connection closed);
// Close waits for f to return. Without it remote tracks are read and
// discarded.
func WithOnTrack(f func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) Option {
	return func(c *config) { c.onTrack = f }
}

// DefaultSettingEngine is the SettingEngine a call uses unless
// WithSettingEngine replaces it. docs/architecture.md (## Go SDK) explains
// each value.
func DefaultSettingEngine() webrtc.SettingEngine {
	var s webrtc.SettingEngine
	// When pion controls ICE (it made the offer) it waits this long after
	// checks start before nominating a pair whose remote end is
	// peer-reflexive. A browser that hides its host address behind an mDNS
	// name this machine cannot resolve is reached exactly through such a
	// pair, which is then its direct path: waiting a second buys nothing.
	s.SetPrflxAcceptanceMinWait(0)
	// The same for relay pairs, which pion holds back 2 s: every relayed
	// call a Go peer controls took 2 s longer to connect than one the
	// other side controls (a browser nominates at once). pion nominates
	// only the best pair that has succeeded, so a direct pair that has
	// succeeded still wins; and direct candidates are gathered and checked
	// before relay ones, which need a round trip to the TURN server first.
	// The cost, a direct path slower to succeed than the relay staying
	// unused for the call, is weighed in docs/architecture.md. The same
	// holds for server-reflexive pairs (500 ms): a host pair that works
	// is checked first and has succeeded by then. So the SDK nominates the
	// best pair that has succeeded, at once, as a browser does.
	s.SetRelayAcceptanceMinWait(0)
	s.SetSrflxAcceptanceMinWait(0)
	return s
}
