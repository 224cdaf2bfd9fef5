package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/flagenv"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "HTTP address for the app and signaling")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long to wait for clients on shutdown")
	origins := fs.String("allowed-origins", "", "comma-separated extra origins (scheme://host[:port], or *) whose pages may open the signaling WebSocket; same-origin is always allowed")
	resumeSecret := fs.String("resume-secret", "", "hex secret that signs resume tokens; give every node the same one (default: kept in the user config dir, so a restart keeps calls' places)")
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "duet serve:", err)
		return 2
	}

	var sig signal.Config
	if sig.CheckOrigin, err = server.OriginChecker(strings.Split(*origins, ",")); err != nil {
		log.Error("config", "err", err)
		return 2
	}
	if sig.ResumeSecret, err = resumeKey(*resumeSecret, log); err != nil {
		log.Error("config", "err", err)
		return 2
	}

	srv, err := server.New(server.Config{Addr: *addr, Logger: log, Signal: sig})
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

// resumeKey is the --resume-secret, or one kept in a file so that restarts
// of this machine's server accept the tokens it issued before.
func resumeKey(flagHex string, log *slog.Logger) ([]byte, error) {
	if flagHex != "" {
		b, err := hex.DecodeString(flagHex)
		if err != nil || len(b) < 16 {
			return nil, fmt.Errorf("--resume-secret: want at least 32 hex digits")
		}
		return b, nil
	}
	dir, err := os.UserConfigDir()
	if err == nil {
		var b []byte
		if b, err = server.LoadOrCreateSecret(filepath.Join(dir, "duet", "resume-secret")); err == nil {
			return b, nil
		}
	}
	log.Warn("resume tokens will not survive a restart", "err", err)
	return nil, nil // the hub makes a random one
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
