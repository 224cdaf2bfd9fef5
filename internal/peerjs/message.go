package peerjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
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

// decoders are reused: a jsontext.Decoder keeps its buffers.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(new(bytes.Buffer)) }}

// decode reads a client frame in one pass, validating all of it (syntax,
// UTF-8, no duplicate names) while it picks out the fields, so the payload
// it keeps is known to be one well-formed JSON object: a payload cannot
// close the envelope early and add a "src" of its own. ok is false for
// what the reference server would ignore or choke on: not a JSON object, a
// type or dst that is not a string, or a payload that is not an object.
// encoding/json's Unmarshal scanned a 3 KB offer twice and took 6x longer.
// m.Payload aliases data, so that relaying an offer copies it once (into
// the relayed frame): use m before data is reused.
func decode(data []byte) (m message, ok bool) {
	dec := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(dec)
	// A bytes.Buffer is parsed in place, without a copy into the decoder.
	dec.Reset(bytes.NewBuffer(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return m, false
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return m, false
		}
		name := tok.String() // before the next read voids tok
		switch name {
		case "type", "dst":
			v, err := dec.ReadToken()
			if err != nil || v.Kind() != '"' {
				return m, false
			}
			switch name {
			case "type":
				m.Type = v.String()
			case "dst":
				m.Dst = v.String()
			}
		case "payload":
			v, err := dec.ReadValue()
			if err != nil {
				return m, false
			}
			switch v.Kind() {
			case '{':
				end := int(dec.InputOffset())
				m.Payload = data[end-len(v) : end]
			case 'n':
			default:
				return m, false
			}
		default: // src (the server sets it) and fields PeerJS does not use
			if err := dec.SkipValue(); err != nil {
				return m, false
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return m, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return m, false // trailing data
	}
	return m, true
}

// encode writes m. Relays are re-encoded from the decoded envelope rather
// than forwarded, so a client cannot smuggle extra top-level fields or a
// second "src" past the server. The payload is appended as it came: decode
// has already checked it is one valid JSON object, and scanning 3 KB of SDP
// a second time (as json.Marshal of a RawMessage does) is the hot path's
// largest cost.
func encode(m message) ([]byte, error) {
	b := make([]byte, 0, 48+len(m.Type)+len(m.Src)+len(m.Dst)+len(m.Payload))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, m.Type)
	if m.Src != "" {
		b = append(b, `,"src":`...)
		b = appendJSONString(b, m.Src)
	}
	if m.Dst != "" {
		b = append(b, `,"dst":`...)
		b = appendJSONString(b, m.Dst)
	}
	if len(m.Payload) > 0 {
		if m.Payload[0] != '{' {
			return nil, fmt.Errorf("peerjs: encode %s: payload is not an object", m.Type)
		}
		b = append(b, `,"payload":`...)
		b = append(b, m.Payload...)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string. Ids and types are plain
// ASCII and take the fast path; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func errorMsg(typ, text string) []byte {
	p, _ := json.Marshal(struct {
		Msg string `json:"msg"`
	}{text})
	b, _ := encode(message{Type: typ, Payload: p}) // cannot fail: all strings
	return b
}
