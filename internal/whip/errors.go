package whip

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// Every refusal is one of these: an HTTP status, a code (the first word of
// the text/plain body, for scripts) and words for a person. docs/whip.md
// lists them all.
type httpErr struct {
	status int
	code   string
	msg    string
	retry  time.Duration // Retry-After, when trying again later may work
}

func (e *httpErr) Error() string { return e.code + ": " + e.msg }

var (
	errNoAnswer     = errors.New("the peer did not answer")
	errMediaRefused = &httpErr{http.StatusUnprocessableEntity, "media-refused", "the person's app accepted none of the offered media; " +
		"offer a codec it decodes (Firefox without its OpenH264 plugin takes no H.264: offer VP8 too)", 0}
	errUnauthorized = &httpErr{http.StatusUnauthorized, "unauthorized", "this server wants Authorization: Bearer with its WHIP token", 0}
	errNotFound     = &httpErr{http.StatusNotFound, "no-such-session", "no such WHIP/WHEP session (it ended, or the URL is wrong)", 0}
	errNotReady     = &httpErr{http.StatusServiceUnavailable, "not-ready", "the server is starting", time.Second}
	errBusy         = &httpErr{http.StatusConflict, "busy", "an ICE restart of this session is already under way", time.Second}
	errLimited      = &httpErr{http.StatusTooManyRequests, "rate-limited", "too many requests from this address; wait a moment", time.Second}
)

// endedError: the place ended while a request waited on it.
type endedError struct{ reason string }

func (e *endedError) Error() string { return "the place ended: " + e.reason }

func badRequest(code, format string, args ...any) *httpErr {
	return &httpErr{http.StatusBadRequest, code, fmt.Sprintf(format, args...), 0}
}

// toHTTP maps every error a handler can meet to its refusal, in one place.
func toHTTP(err error) *httpErr {
	var he *httpErr
	var pe *protocol.Error
	var ee *endedError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &mb):
		return &httpErr{http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the body is over %d bytes", mb.Limit), 0}
	case errors.Is(err, signal.ErrNoPeer):
		return &httpErr{http.StatusConflict, "no-peer", "no one is in this room to answer; open the room's link first", 0}
	case errors.Is(err, signal.ErrPeerAway):
		return &httpErr{http.StatusConflict, "peer-away", "the person in this room is reconnecting; try again", 5 * time.Second}
	case errors.Is(err, signal.ErrClustered):
		return &httpErr{http.StatusNotImplemented, "clustered", "WHIP and WHEP are not available on a cluster (--nats) yet", 0}
	case errors.Is(err, errNoAnswer):
		return &httpErr{http.StatusGatewayTimeout, "no-answer", "the person's app did not answer the offer in time", 0}
	case errors.As(err, &ee) && ee.reason == protocol.ByeShutdown:
		return &httpErr{http.StatusServiceUnavailable, string(protocol.CodeShuttingDown), "the server is shutting down", 5 * time.Second}
	case errors.As(err, &ee):
		return &httpErr{http.StatusConflict, "peer-left", "the place ended before the offer was answered (" + ee.reason + ")", 0}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &httpErr{http.StatusServiceUnavailable, "canceled", "the request ended before the answer came", 0}
	case errors.As(err, &pe):
		return fromProtocol(pe)
	}
	return &httpErr{http.StatusInternalServerError, "internal", err.Error(), 0}
}

// fromProtocol maps the hub's refusals.
func fromProtocol(pe *protocol.Error) *httpErr {
	e := &httpErr{code: string(pe.Code), msg: pe.Message}
	switch pe.Code {
	case protocol.CodeBadRoom, protocol.CodeBadMessage:
		e.status = http.StatusBadRequest
	case protocol.CodeRoomFull:
		e.status = http.StatusConflict
	case protocol.CodeNotJoined:
		return errNotFound
	case protocol.CodeRateLimited, protocol.CodeTooManyConns:
		e.status, e.retry = http.StatusTooManyRequests, time.Second
	case protocol.CodeShuttingDown, protocol.CodeOverCapacity:
		e.status, e.retry = http.StatusServiceUnavailable, 5*time.Second
	default:
		e.status = http.StatusInternalServerError
	}
	return e
}

// writeErr sends the refusal for err.
func writeErr(w http.ResponseWriter, err error) {
	e := toHTTP(err)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if e.retry > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retry+time.Second-1)/time.Second)))
	}
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="duet"`)
	}
	w.WriteHeader(e.status)
	fmt.Fprintf(w, "%s: %s\n", e.code, e.msg)
}
