// Package protocol holds duet's signaling wire messages, their error codes and
// the protocol version. The server and the Go SDK both use it, so the two can
// never disagree on a field name. docs/protocol.md is the prose specification.
//
// Every message is one JSON object in one WebSocket text frame, with a "type"
// field that says which struct it is. Decode reads the type first and then
// decodes into exactly that struct; it never guesses.
package protocol

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	json "github.com/go-json-experiment/json/v1" // encoding/json's rules, on the faster v2 engine
)

// Version is the protocol version a client sends in its join and the server
// checks. It changes only when an existing message changes meaning.
const Version = 1

// Limits that are part of the protocol, so clients can check before sending.
const (
	// MaxMessageSize is the largest text frame the server reads, and the
	// largest it sends: a relay whose re-encoding would be larger is
	// refused. SDP for an audio+video call with a data channel is 4–8 KiB;
	// 64 KiB leaves room for many codecs and simulcast without letting one
	// frame tie up much memory.
	MaxMessageSize = 64 << 10
	// MaxRoomLen bounds a room id.
	MaxRoomLen = 64
	// MaxRefLen bounds the unknown type an unknown-type error echoes in
	// its ref; a longer one is not echoed.
	MaxRefLen = 32
)

// Message types. Client → server: join, leave, description, candidate, ping.
// Server → client: joined, peer-joined, peer-left, description, candidate,
// pong, error, bye.
const (
	TypeJoin        = "join"
	TypeLeave       = "leave"
	TypeDescription = "description"
	TypeCandidate   = "candidate"
	TypePing        = "ping"
	TypeJoined      = "joined"
	TypePeerJoined  = "peer-joined"
	TypePeerLeft    = "peer-left"
	TypePong        = "pong"
	TypeError       = "error"
	TypeBye         = "bye"
)

var roomRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidRoom reports whether id is an acceptable room id: 1 to MaxRoomLen
// characters from the URL-safe base64 alphabet.
func ValidRoom(id string) bool {
	return len(id) > 0 && len(id) <= MaxRoomLen && roomRE.MatchString(id)
}

// Message is any wire message.
type Message interface {
	MessageType() string
}

// Join asks to enter a room. It is the first message a client sends.
type Join struct {
	Type string `json:"type"`
	// V is the protocol version. On the wire it is any JSON number equal
	// to an integer (1, 1.0 and 1e0 are all 1: JSON has one number type,
	// and Python's json.dumps(1.0) writes 1.0); a number that is not an
	// integer decodes as 0, which no version is.
	V    int    `json:"v"`
	Room string `json:"room"`
	// Resume is the token from an earlier Joined for this room. With it the
	// server gives back the same place (peer id and role) after a dropped
	// connection or a server restart, and the other peer sees no leave.
	Resume string `json:"resume,omitempty"`

	vRaw string // v as it was written, for the bad-version message
}

// UnmarshalJSON reads v as a JSON number rather than as a Go int, which
// would refuse 1.0.
func (j *Join) UnmarshalJSON(b []byte) error {
	var w struct {
		Type   string          `json:"type"`
		V      json.RawMessage `json:"v"`
		Room   string          `json:"room"`
		Resume string          `json:"resume"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*j = Join{Type: w.Type, Room: w.Room, Resume: w.Resume, vRaw: string(w.V)}
	if len(w.V) == 0 || string(w.V) == "null" {
		return nil // absent: version 0
	}
	if c := w.V[0]; c != '-' && (c < '0' || c > '9') {
		return fmt.Errorf("protocol: v is not a number")
	}
	f, err := strconv.ParseFloat(string(w.V), 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<31 {
		j.V = int(f)
	}
	return nil
}

func (j *Join) vText() string {
	if len(j.vRaw) > 0 && len(j.vRaw) <= 24 {
		return j.vRaw
	}
	return strconv.Itoa(j.V)
}

// Leave leaves the current room; the connection stays open and may join again.
type Leave struct {
	Type string `json:"type"`
}

// SessionDescription mirrors the browser's RTCSessionDescriptionInit.
type SessionDescription struct {
	Type string `json:"type"` // offer, answer, pranswer or rollback
	SDP  string `json:"sdp"`
}

// Description carries an SDP offer or answer to the other peer of the room.
type Description struct {
	Type        string             `json:"type"`
	Description SessionDescription `json:"description"`
}

// ICECandidate mirrors the browser's RTCIceCandidateInit. An empty Candidate
// string is the end-of-candidates marker.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Candidate carries one trickled ICE candidate to the other peer of the room.
type Candidate struct {
	Type      string       `json:"type"`
	Candidate ICECandidate `json:"candidate"`
}

// Ping asks the server for a Pong. Browsers cannot see WebSocket pings, so a
// page uses this to notice a dead connection.
type Ping struct {
	Type string `json:"type"`
}

// ICEServer mirrors the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Joined answers a successful Join.
type Joined struct {
	Type string `json:"type"`
	V    int    `json:"v"`
	Room string `json:"room"`
	// Polite is this peer's role in the perfect negotiation pattern. The two
	// peers of a room always have opposite roles.
	Polite bool `json:"polite"`
	// PeerPresent says the other peer is already in the room.
	PeerPresent bool `json:"peerPresent"`
	// ICEServers is what this peer should give RTCPeerConnection. It may be
	// empty (LAN mode) but is always present.
	ICEServers []ICEServer `json:"iceServers"`
	// PeerID identifies this peer in the room; it survives resumes.
	PeerID string `json:"peerId"`
	// Peer is the other peer's id when PeerPresent.
	Peer string `json:"peer,omitempty"`
	// Resume is a token to send in a later Join to take this place back.
	Resume string `json:"resume"`
	// Resumed says the Join's resume token was honoured: same id and role.
	Resumed bool `json:"resumed,omitempty"`
	// PeerKind is what the other peer is when it is not a person's app:
	// KindWHIP or KindWHEP (see whip.go). Empty for an ordinary peer.
	PeerKind string `json:"peerKind,omitempty"`
}

// PeerJoined tells a peer that the other peer has entered the room.
type PeerJoined struct {
	Type string `json:"type"`
	// Peer is the other peer's id. When it equals the id of the peer that
	// was there before (Resumed), keep the RTCPeerConnection: it is the same
	// person back from a signaling outage.
	Peer    string `json:"peer"`
	Resumed bool   `json:"resumed,omitempty"`
	// PeerKind is KindWHIP or KindWHEP for a WHIP publisher or WHEP
	// player, empty for an ordinary peer (see whip.go).
	PeerKind string `json:"peerKind,omitempty"`
}

// Reasons in PeerLeft.
const (
	ReasonLeft         = "left"         // the peer sent leave
	ReasonDisconnected = "disconnected" // its connection closed or stopped answering
)

// PeerLeft tells a peer that the other peer has left the room.
type PeerLeft struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// Pong answers a Ping.
type Pong struct {
	Type string `json:"type"`
}

// Reasons in Bye.
const (
	// ByeShutdown: the server is stopping; reconnect (with backoff) and
	// resume, possibly on another node behind the same address.
	ByeShutdown = "shutdown"
	// ByeReplaced: a newer connection resumed this peer's place.
	ByeReplaced = "replaced"
)

// Bye is the last message before the server closes the connection on its own
// initiative, for example when it shuts down.
type Bye struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// ErrorMessage reports a refused request. Code is one of the Code constants.
type ErrorMessage struct {
	Type    string `json:"type"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Ref is the type of the message that was refused, when known.
	Ref string `json:"ref,omitempty"`
}

func (Join) MessageType() string         { return TypeJoin }
func (Leave) MessageType() string        { return TypeLeave }
func (Description) MessageType() string  { return TypeDescription }
func (Candidate) MessageType() string    { return TypeCandidate }
func (Ping) MessageType() string         { return TypePing }
func (Joined) MessageType() string       { return TypeJoined }
func (PeerJoined) MessageType() string   { return TypePeerJoined }
func (PeerLeft) MessageType() string     { return TypePeerLeft }
func (Pong) MessageType() string         { return TypePong }
func (Bye) MessageType() string          { return TypeBye }
func (ErrorMessage) MessageType() string { return TypeError }

// Encode marshals m with its type field filled in.
func Encode(m Message) ([]byte, error) {
	switch v := m.(type) {
	case *Join:
		v.Type = TypeJoin
	case *Leave:
		v.Type = TypeLeave
	case *Description:
		v.Type = TypeDescription
	case *Candidate:
		v.Type = TypeCandidate
	case *Ping:
		v.Type = TypePing
	case *Dismiss:
		v.Type = TypeDismiss
	case *Joined:
		v.Type = TypeJoined
		if v.ICEServers == nil {
			v.ICEServers = []ICEServer{}
		}
	case *PeerJoined:
		v.Type = TypePeerJoined
	case *PeerLeft:
		v.Type = TypePeerLeft
	case *Pong:
		v.Type = TypePong
	case *Bye:
		v.Type = TypeBye
	case *ErrorMessage:
		v.Type = TypeError
	default:
		return nil, fmt.Errorf("protocol: cannot encode %T (pass a pointer to a message struct)", m)
	}
	return jsonv2.Marshal(m, wireOptions)
}

// wireOptions are encoding/json's rules without its HTML and JavaScript
// escaping: "<" as \u003c is six bytes for one, which let a relayed
// description grow to six times the size the sender was allowed. Only
// what JSON requires is escaped (quote, backslash, control characters), so
// a re-encoded message is never longer than its decoded fields were on the
// wire, give or take a field the sender left out.
var wireOptions = jsonv2.JoinOptions(json.DefaultOptionsV1(), jsontext.EscapeForHTML(false), jsontext.EscapeForJS(false))
