package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/flagenv"
	"github.com/duet-call/duet/internal/server"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "HTTP address for the app and signaling")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long to wait for clients on shutdown")
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "duet serve:", err)
		return 2
	}

	srv, err := server.New(server.Config{Addr: *addr, Logger: log})
	if err != nil {
		log.Error("config", "err", err)
		return 2
	}
	if err := srv.Start(ctx); err != nil {
		log.Error("start", "err", err)
		return 1
	}
	log.Info("duet is running", "open", browserURL(srv.URL()))

	<-ctx.Done()
	log.Info("shutting down", "timeout", *drain)
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	return 0
}

// browserURL turns a listen URL into one a person can open: a wildcard
// address becomes localhost, since browsers allow the camera there without TLS.
func browserURL(u string) string {
	for _, wild := range []string{"://[::]:", "://0.0.0.0:"} {
		u = strings.Replace(u, wild, "://localhost:", 1)
	}
	return u
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
