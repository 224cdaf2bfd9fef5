package protocol

import (
	"bytes"

	json "github.com/go-json-experiment/json/v1" // encoding/json's rules, on the faster v2 engine
)

var sdpTypes = map[string]bool{"offer": true, "answer": true, "pranswer": true, "rollback": true}

// maxCandidateLen bounds one candidate line; real ones are under 200 bytes.
const maxCandidateLen = 1024

// DecodeClient decodes one frame sent by a client and validates it. It
// returns *Join, *Leave, *Description, *Candidate, *Ping or *Dismiss, or an *Error
// whose Code says what was wrong.
func DecodeClient(data []byte) (Message, error) {
	m, err := decodeAny(data)
	if err != nil {
		return nil, err
	}
	switch m.(type) {
	case *Join, *Leave, *Description, *Candidate, *Ping, *Dismiss:
		return m, nil
	}
	return nil, &Error{Code: CodeNotAllowed, Message: "only the server sends " + m.MessageType(), Ref: m.MessageType()}
}

// DecodeServer decodes one frame sent by the server (used by clients).
func DecodeServer(data []byte) (Message, error) {
	return decodeAny(data)
}

func decodeAny(data []byte) (Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, Errorf(CodeBadJSON, "a message must be a JSON object")
	}
	if !json.Valid(data) {
		return nil, Errorf(CodeBadJSON, "invalid JSON")
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, Errorf(CodeBadMessage, "type must be a string")
	}
	var m Message
	switch head.Type {
	case TypeJoin:
		m = &Join{}
	case TypeLeave:
		m = &Leave{}
	case TypeDescription:
		m = &Description{}
	case TypeCandidate:
		m = &Candidate{}
	case TypePing:
		m = &Ping{}
	case TypeDismiss:
		m = &Dismiss{}
	case TypeJoined:
		m = &Joined{}
	case TypePeerJoined:
		m = &PeerJoined{}
	case TypePeerLeft:
		m = &PeerLeft{}
	case TypePong:
		m = &Pong{}
	case TypeBye:
		m = &Bye{}
	case TypeError:
		m = &ErrorMessage{}
	case "":
		return nil, Errorf(CodeBadMessage, "missing type")
	default:
		e := Errorf(CodeUnknownType, "unknown message type")
		if len(head.Type) <= MaxRefLen {
			e.Message = "unknown message type " + head.Type
			e.Ref = head.Type
		}
		return nil, e
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, &Error{Code: CodeBadMessage, Message: "fields of the wrong type", Ref: head.Type}
	}
	if err := validate(m); err != nil {
		err.Ref = head.Type
		return nil, err
	}
	return m, nil
}

func validate(m Message) *Error {
	switch v := m.(type) {
	case *Join:
		if v.V != Version {
			return Errorf(CodeBadVersion, "protocol version %s is not supported; this server speaks %d", v.vText(), Version)
		}
		if !ValidRoom(v.Room) {
			return Errorf(CodeBadRoom, "a room id is 1 to %d characters from A-Z a-z 0-9 _ -", MaxRoomLen)
		}
	case *Description:
		if !sdpTypes[v.Description.Type] {
			return Errorf(CodeBadMessage, "description.type must be offer, answer, pranswer or rollback")
		}
		if v.Description.Type != "rollback" && v.Description.SDP == "" {
			return Errorf(CodeBadMessage, "description.sdp is empty")
		}
	case *Candidate:
		if len(v.Candidate.Candidate) > maxCandidateLen {
			return Errorf(CodeBadMessage, "candidate longer than %d bytes", maxCandidateLen)
		}
		if v.Candidate.SDPMid == nil && v.Candidate.SDPMLineIndex == nil && v.Candidate.Candidate != "" {
			return Errorf(CodeBadMessage, "candidate needs sdpMid or sdpMLineIndex")
		}
	}
	return nil
}
