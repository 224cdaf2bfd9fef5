package client

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's logs into the call's slog.Logger. Without it
// pion writes errors to stdout, which would corrupt `duet peer`'s chat
// output on a pipe. Every pion message is logged at debug level (trace
// below it), whatever pion's own level: an ordinary call makes pion warn
// ("Failed to ping without candidate pairs" before the first candidate,
// "Incoming unhandled RTCP ssrc" for a section not yet negotiated), and the
// call itself reports what matters (states, Warn logs of its own).
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{f.log.With("pion", scope)}
}

type slogLeveled struct{ log *slog.Logger }

// emit logs msg at debug (trace below it), with pion's own level beside it.
func (l slogLeveled) emit(pionLevel string, msg string) {
	l.log.Log(context.Background(), levelOf(pionLevel), msg, "pionLevel", pionLevel)
}

func (l slogLeveled) emitf(pionLevel string, format string, args ...any) {
	if l.log.Enabled(context.Background(), levelOf(pionLevel)) {
		l.emit(pionLevel, fmt.Sprintf(format, args...))
	}
}

func levelOf(pionLevel string) slog.Level {
	if pionLevel == "trace" {
		return slog.LevelDebug - 4
	}
	return slog.LevelDebug
}

func (l slogLeveled) Trace(msg string)                  { l.emit("trace", msg) }
func (l slogLeveled) Tracef(format string, args ...any) { l.emitf("trace", format, args...) }
func (l slogLeveled) Debug(msg string)                  { l.emit("debug", msg) }
func (l slogLeveled) Debugf(format string, args ...any) { l.emitf("debug", format, args...) }
func (l slogLeveled) Info(msg string)                   { l.emit("info", msg) }
func (l slogLeveled) Infof(format string, args ...any)  { l.emitf("info", format, args...) }
func (l slogLeveled) Warn(msg string)                   { l.emit("warn", msg) }
func (l slogLeveled) Warnf(format string, args ...any)  { l.emitf("warn", format, args...) }
func (l slogLeveled) Error(msg string)                  { l.emit("error", msg) }
func (l slogLeveled) Errorf(format string, args ...any) { l.emitf("error", format, args...) }
