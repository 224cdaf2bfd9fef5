package client

import (
	"errors"
	"fmt"

	"github.com/duet-call/duet/protocol"
)

// Errors a caller can test with errors.Is. Dial returns the first group;
// Call.Err returns the second once a call has ended.
var (
	// ErrUnreachable: no WebSocket could be opened to the server (refused,
	// DNS, TLS, a non-101 HTTP answer, or the server closed before joined).
	ErrUnreachable = errors.New("duet: server unreachable")
	// ErrRoomFull: the room already holds two peers (wire code room-full).
	ErrRoomFull = errors.New("duet: room full")
	// ErrBadRoom: the room id is not 1–64 characters of A-Z a-z 0-9 _ -.
	ErrBadRoom = errors.New("duet: bad room id")
	// ErrBadVersion: the server does not speak this protocol version.
	ErrBadVersion = errors.New("duet: protocol version refused")
	// ErrServerBusy: the server refused for load or shutdown
	// (rate-limited, too-many-connections, over-capacity, shutting-down).
	ErrServerBusy = errors.New("duet: server busy")
	// ErrProtocol: the server sent something this client did not expect.
	ErrProtocol = errors.New("duet: protocol error")

	// ErrServerGone: the signaling connection was lost after the call was
	// set up and could not be resumed within the Reconnect policy's Total
	// (or at once, WithoutReconnect), or a newer connection of this peer
	// took its place (bye replaced).
	ErrServerGone = errors.New("duet: signaling connection lost")
	// ErrConnectionFailed: ICE or DTLS failed (PeerConnection state failed).
	ErrConnectionFailed = errors.New("duet: ICE/DTLS connection failed")
	// ErrClosed: the call was closed by Close.
	ErrClosed = errors.New("duet: call closed")
	// ErrNotConnected: chat was sent while no chat channel is open.
	ErrNotConnected = errors.New("duet: chat channel not open")
)

// ServerError is an error message from the server. errors.Is maps its code
// onto the sentinels above, so callers rarely need the code itself.
type ServerError struct {
	Code    protocol.Code
	Message string
	Ref     string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("duet: server refused %s: %s (%s)", e.Ref, e.Message, e.Code)
}

// Is reports whether target is the sentinel for e's code. This is the one
// place wire codes become SDK errors.
func (e *ServerError) Is(target error) bool {
	return codeSentinel(e.Code) == target
}

func codeSentinel(c protocol.Code) error {
	switch c {
	case protocol.CodeRoomFull:
		return ErrRoomFull
	case protocol.CodeBadRoom:
		return ErrBadRoom
	case protocol.CodeBadVersion:
		return ErrBadVersion
	case protocol.CodeRateLimited, protocol.CodeTooManyConns, protocol.CodeOverCapacity, protocol.CodeShuttingDown:
		return ErrServerBusy
	default:
		return ErrProtocol
	}
}
