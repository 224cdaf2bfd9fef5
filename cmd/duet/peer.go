package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/flagenv"
	"github.com/duet-call/duet/internal/media"
	"github.com/pion/webrtc/v4"
)

// peerConfig is `duet peer`'s flags.
type peerConfig struct {
	server  string
	room    string
	play    []string
	loop    bool
	record  string
	timeout time.Duration
	origin  string
	level   slog.Level // --log-level; --verbose is debug

	// reconnectFor bounds how long a dropped signaling connection is
	// redialled before the call ends with exit 8; 0 does not redial.
	reconnectFor time.Duration
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runPeer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPeerIO(ctx, args, os.Stdin, stdout, stderr)
}

// runPeerIO is runPeer with stdin explicit, for tests.
func runPeerIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var cfg peerConfig
	fs := flag.NewFlagSet("duet peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.server, "server", "http://127.0.0.1:8080", "duet server URL (http, https, or a room link)")
	fs.StringVar(&cfg.room, "room", "", "room to join (required)")
	fs.Var((*stringList)(&cfg.play), "play", "IVF (VP8/VP9/AV1) or Ogg (Opus) file to stream; repeatable")
	fs.BoolVar(&cfg.loop, "loop", false, "start --play files over when they end")
	fs.StringVar(&cfg.record, "record", "", "directory to write each remote track to (.ivf video, .ogg audio)")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "end the whole call after this long, with exit code 6 (0: no limit)")
	fs.DurationVar(&cfg.reconnectFor, "reconnect-for", client.DefaultReconnect.Total, "when the signaling connection drops, reconnect and resume for up to this long before exiting with code 8 (0: exit at once)")
	fs.StringVar(&cfg.origin, "origin", "", "Origin header for the WebSocket, if the server's allow-list needs one")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error; pion's own messages show only at debug")
	verbose := fs.Bool("verbose", false, "the same as --log-level debug")
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	if err := cfg.level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "duet peer: bad --log-level %q: debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	if *verbose {
		cfg.level = slog.LevelDebug
	}
	if cfg.room == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "duet peer: --room is required and no arguments are taken; see docs/peer.md")
		return exitUsage
	}
	err := runCall(ctx, cfg, stdin, stdout, stderr)
	code := exitCode(err)
	if code != exitOK {
		fmt.Fprintf(stderr, "duet peer: %v (exit %d)\n", err, code)
	}
	return code
}

// runCall joins, runs the call until it ends, and returns why it ended.
func runCall(ctx context.Context, cfg peerConfig, stdin io.Reader, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.level}))

	var sources []*media.Source
	for _, p := range cfg.play {
		s, err := media.Open(p, cfg.loop)
		if err != nil {
			return err
		}
		sources = append(sources, s)
	}
	if cfg.record != "" {
		if err := os.MkdirAll(cfg.record, 0o755); err != nil {
			return fmt.Errorf("%w: --record: %v", media.ErrBadFile, err)
		}
	}
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.timeout, errTimeout)
		defer cancel()
	}

	r := &peerRun{cfg: cfg, log: log, stdout: stdout, stderr: stderr, ended: make(chan error, 1)}
	opts := []client.Option{
		client.WithLogger(log),
		client.WithOnStateChange(r.state),
		client.WithOnChat(r.chat),
		client.WithOnSignalingChange(r.signaling),
	}
	if cfg.reconnectFor > 0 {
		opts = append(opts, client.WithReconnect(client.Reconnect{Total: cfg.reconnectFor}))
	} else {
		opts = append(opts, client.WithoutReconnect())
	}
	for _, s := range sources {
		opts = append(opts, client.WithTracks(s.Track()))
	}
	if cfg.record != "" {
		opts = append(opts, client.WithOnTrack(r.recordTrack))
	}
	if cfg.origin != "" {
		opts = append(opts, client.WithHTTPHeader(http.Header{"Origin": {cfg.origin}}))
	}
	call, err := client.Dial(ctx, cfg.server, cfg.room, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	fmt.Fprintf(stderr, "duet peer: joined room %s as the %s peer\n", cfg.room, role(call.Polite()))

	// The goroutines below belong to this call: they stop when callCtx
	// ends, and wg waits for them before runCall returns.
	callCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.sendLines(callCtx, call, stdin) })
	wg.Go(func() { r.play(callCtx, call, sources) })
	wg.Go(func() { r.reportPath(callCtx, call) })

	var end error
	select {
	case <-ctx.Done():
		end = context.Cause(ctx)
	case <-call.Done():
		end = call.Err()
	case end = <-r.ended:
	}
	stop()
	wg.Wait()
	if err := call.Close(); err != nil && end == nil {
		end = err
	}
	return end // the state handler has printed "closed"
}

func role(polite bool) string {
	if polite {
		return "polite"
	}
	return "impolite"
}

// peerRun is the state the call's handlers share. The SDK runs state and
// chat handlers one at a time; track handlers run concurrently, hence the
// atomic counter.
type peerRun struct {
	cfg            peerConfig
	log            *slog.Logger
	stdout, stderr io.Writer
	ended          chan error // the first reason to end the call; one slot
	connected      atomic.Bool
	tracks         atomic.Int32
}

func (r *peerRun) end(err error) {
	select {
	case r.ended <- err:
	default:
	}
}

func (r *peerRun) state(s client.State) {
	fmt.Fprintf(r.stderr, "duet peer: %s\n", s)
	switch s {
	case client.StateConnected:
		r.connected.Store(true)
	case client.StateFailed:
		r.end(client.ErrConnectionFailed)
	case client.StatePeerLeft:
		if r.connected.Load() {
			r.end(nil) // the other side hung up: the call is over
		}
	}
}

// signaling says on stderr when the server connection drops and when the
// call is back in its room; the call itself goes on peer to peer.
func (r *peerRun) signaling(up bool) {
	if up {
		fmt.Fprintln(r.stderr, "duet peer: signaling back; room resumed")
	} else {
		fmt.Fprintln(r.stderr, "duet peer: signaling lost; reconnecting")
	}
}

// chat prints one received line; a line break inside would split it, so
// it becomes a space and stdout stays one message per line.
func (r *peerRun) chat(text string) {
	text = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text)
	fmt.Fprintln(r.stdout, text)
}

// sendLines sends each stdin line as chat once the channel is open. The
// scanner goroutine may outlive the call while blocked on a terminal
// read; it holds nothing and the process is about to exit.
func (r *peerRun) sendLines(ctx context.Context, call *client.Call, stdin io.Reader) {
	if stdin == nil {
		return
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 4096), client.MaxChatText+1)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case line, ok := <-lines:
			if !ok {
				return // stdin ended; the call goes on
			}
			for {
				if err := call.WaitChat(ctx); err != nil {
					return
				}
				err := call.SendChat(line)
				if !errors.Is(err, client.ErrNotConnected) {
					if err != nil {
						r.log.Warn("chat not sent", "err", err)
					}
					break
				}
			}
		}
	}
}

// play streams every --play file from the moment the call first connects,
// so a short file is not spent before anyone hears it.
func (r *peerRun) play(ctx context.Context, call *client.Call, sources []*media.Source) {
	if len(sources) == 0 {
		return
	}
	if err := call.WaitChat(ctx); err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				r.end(err)
			}
		})
	}
	wg.Wait()
}

func (r *peerRun) recordTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	n := int(r.tracks.Add(1))
	fmt.Fprintf(r.stderr, "duet peer: recording %s track %d (%s)\n", t.Kind(), n, t.Codec().MimeType)
	path, err := media.Record(r.cfg.record, n, t)
	if err != nil {
		r.log.Warn("recording", "track", n, "err", err)
		return
	}
	fmt.Fprintf(r.stderr, "duet peer: wrote %s\n", path)
}
