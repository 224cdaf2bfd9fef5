package peerjs

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Message types of the PeerJS server protocol.
const (
	typeOpen      = "OPEN"
	typeError     = "ERROR"
	typeIDTaken   = "ID-TAKEN"
	typeHeartbeat = "HEARTBEAT"
	typeOffer     = "OFFER"
	typeAnswer    = "ANSWER"
	typeCandidate = "CANDIDATE"
	typeLeave     = "LEAVE"
	typeExpire    = "EXPIRE"
)

// The texts of the reference server's ERROR payloads, kept word for word:
// PeerJS apps show them (err.message) and some match on them.
const (
	errMsgParams   = "No id, token, or key supplied to websocket server"
	errMsgKey      = "Invalid key provided"
	errMsgLimit    = "Server has reached its concurrent user limit"
	errMsgIDTaken  = "ID is taken"
	errMsgBadID    = "Invalid id or token"
	errMsgPerIP    = "Too many connections from this address"
	errMsgConnRate = "Too many new connections from this address; try again later"
	errMsgShutdown = "The server is shutting down"
)

// maxIDLen bounds ids, tokens and the key. The client makes ids of 36
// characters (UUIDs) and tokens of about 11.
const maxIDLen = 128

// idPattern is the rule the PeerJS client itself applies to ids before it
// connects, so a real client never trips over it.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)

func validID(id string) bool { return len(id) <= maxIDLen && idPattern.MatchString(id) }

// validToken accepts printable ASCII only, so a token never needs escaping.
func validToken(t string) bool {
	if t == "" || len(t) > maxIDLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}

// message is the one envelope of the protocol, both ways. Payload stays raw:
// it is the two peers' business (SDP, candidates, the app's metadata), and
// the server only checks that it is a JSON object.
type message struct {
	Type    string          `json:"type"`
	Src     string          `json:"src,omitempty"`
	Dst     string          `json:"dst,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// decode reads a client frame. ok is false for anything the reference
// server would ignore or choke on: not a JSON object, a non-string type or
// dst, or a payload that is not an object.
func decode(data []byte) (m message, ok bool) {
	if err := json.Unmarshal(data, &m); err != nil {
		return m, false
	}
	if len(m.Payload) > 0 && (m.Payload[0] != '{' || string(m.Payload) == "null") {
		if string(m.Payload) != "null" {
			return m, false
		}
		m.Payload = nil
	}
	return m, true
}

// encode writes m. Relays are re-encoded from the decoded envelope rather
// than forwarded, so a client cannot smuggle extra top-level fields or a
// second "src" past the server.
func encode(m message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("peerjs: encode %s: %w", m.Type, err)
	}
	return b, nil
}

func errorMsg(typ, text string) []byte {
	p, _ := json.Marshal(struct {
		Msg string `json:"msg"`
	}{text})
	b, _ := encode(message{Type: typ, Payload: p}) // cannot fail: all strings
	return b
}
