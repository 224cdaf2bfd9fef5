package main

import (
	"context"
	"errors"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
)

// Exit codes of `duet peer`, documented in docs/peer.md and
// docs/protocol.md. Scripts branch on them, so they never change meaning.
const (
	exitOK          = 0 // the call ended normally: interrupted, or the peer hung up
	exitError       = 1 // anything not listed below
	exitUsage       = 2 // bad flags
	exitUnreachable = 3 // no WebSocket to the server (refused, DNS, TLS, HTTP error)
	exitRoomFull    = 4 // the room already holds two peers
	exitICEFailed   = 5 // ICE or DTLS failed: no media path to the peer
	exitTimeout     = 6 // --timeout elapsed
	exitBadFile     = 7 // a --play file cannot be played, or --record's directory cannot be written
	exitServerGone  = 8 // the signaling connection was lost during the call
	exitRefused     = 9 // the server refused the join otherwise (bad room, version, busy)
)

// errTimeout is the cause of the call context when --timeout elapses.
var errTimeout = errors.New("--timeout elapsed")

// exitCode is the one place an error of `duet peer` becomes an exit code.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, client.ErrClosed):
		return exitOK
	case errors.Is(err, errTimeout):
		return exitTimeout
	case errors.Is(err, media.ErrBadFile):
		return exitBadFile
	case errors.Is(err, client.ErrRoomFull):
		return exitRoomFull
	case errors.Is(err, client.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, client.ErrConnectionFailed):
		return exitICEFailed
	case errors.Is(err, client.ErrServerGone):
		return exitServerGone
	case errors.Is(err, client.ErrBadRoom), errors.Is(err, client.ErrBadVersion),
		errors.Is(err, client.ErrServerBusy), errors.Is(err, client.ErrProtocol):
		return exitRefused
	default:
		return exitError
	}
}
