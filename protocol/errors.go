package protocol

import "fmt"

// Code is a machine-readable error code carried in an error message. Every
// code is listed with its meaning in docs/protocol.md.
type Code string

const (
	CodeBadJSON      Code = "bad-json"             // the frame is not a JSON object
	CodeBadMessage   Code = "bad-message"          // a known type with missing or invalid fields, or a binary frame
	CodeUnknownType  Code = "unknown-type"         // the type field names no message
	CodeBadVersion   Code = "bad-version"          // join with a version the server does not speak
	CodeBadRoom      Code = "bad-room"             // room id empty, too long, or with characters outside [A-Za-z0-9_-]
	CodeRoomFull     Code = "room-full"            // the room already holds two peers
	CodeNotJoined    Code = "not-joined"           // a relay or leave before join
	CodeAlreadyIn    Code = "already-joined"       // a second join on one connection
	CodeNotAllowed   Code = "not-allowed"          // a server-only message type sent by a client
	CodeShuttingDown Code = "shutting-down"        // the server is draining and admits no one
	CodeRateLimited  Code = "rate-limited"         // too many messages or joins; the message was dropped
	CodeTooManyConns Code = "too-many-connections" // this address has too many connections open
	CodeOverCapacity Code = "over-capacity"        // the server holds as many connections as it allows
	CodeJoinTimeout  Code = "join-timeout"         // the connection was in no room for too long; it is closed
)

// Error is a refusal with its wire code. Decode returns it, and the server
// turns it into an ErrorMessage.
type Error struct {
	Code    Code
	Message string
	Ref     string // the refused message's type, when known
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wire returns the error message to send for e.
func (e *Error) Wire() *ErrorMessage {
	return &ErrorMessage{Code: e.Code, Message: e.Message, Ref: e.Ref}
}
