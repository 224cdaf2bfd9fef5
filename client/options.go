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
// of this machine reaches the peer, and the call needs a TURN server. Every
// pair then has a relay end, so the call nominates one as soon as it works
// instead of after pion's 2 s relay wait (unless WithSettingEngine is given).
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
	// The server-reflexive (500 ms) and relay (2 s) waits stay: pion
	// nominates the best pair that has succeeded once its wait is over,
	// and does not renominate, so without them a relay pair that succeeds
	// a moment before a direct one locks the call onto TURN (TestRelayPath
	// saw it on loopback). A call that is relay-only itself has no direct
	// pair to wait for: newAPI drops both waits for it.
	return s
}
