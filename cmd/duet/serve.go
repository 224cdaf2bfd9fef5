package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v3"

	"github.com/duet-call/duet/internal/bus/natsbus"
	"github.com/duet-call/duet/internal/flagenv"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// serveFlags are duet serve's own flags; TURN and PeerJS add theirs.
type serveFlags struct {
	addr, logLevel, origins, resumeSecret string
	lan                                   bool
	drain                                 time.Duration
	limits                                *limitFlags
	tls                                   *tlsFlags
}

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.addr, "addr", ":8080", "HTTP address for the app and signaling (:8443 by default with TLS, :443 with --acme-domain)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.drain, "shutdown-timeout", 10*time.Second, "how long to wait for clients on shutdown")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated extra origins (scheme://host[:port], or *) whose pages may open the signaling WebSocket; same-origin is always allowed")
	fs.StringVar(&f.resumeSecret, "resume-secret", "", "hex secret that signs resume tokens; give every node the same one (default: kept in $STATE_DIRECTORY under systemd, else the user config dir, so a restart keeps calls' places)")
	f.tls = addTLSFlags(fs)
	fs.BoolVar(&f.lan, "lan", false, "LAN mode: no STUN/TURN server and no ICE servers handed out; peers connect with host candidates")
	turn := addTurnFlags(fs)
	turn.addShareFlag(fs)
	pj := addPeerJSFlags(fs)
	nf := addNATSFlags(fs)
	f.limits = addLimitFlags(fs)
	wf := addWHIPFlags(fs)
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "duet serve:", err)
		return 2
	}
	return serve(ctx, fs, &f, turn, pj, nf, wf, log)
}

func serve(ctx context.Context, fs *flag.FlagSet, f *serveFlags, turn *turnFlags, pj *peerjsFlags, nf *natsFlags, wf *whipFlags, log *slog.Logger) int {
	var sig signal.Config
	var hub atomic.Pointer[signal.Hub] // set once the server is made; TURN asks it
	cfg := server.Config{Addr: f.addr, Logger: log, Metrics: metrics.New()}
	var err error
	if sig.CheckOrigin, err = server.OriginChecker(strings.Split(f.origins, ",")); err != nil {
		log.Error("config", "err", err)
		return 2
	}
	if sig.ResumeSecret, err = resumeKey(f.resumeSecret, log); err != nil {
		log.Error("config", "err", err)
		return 2
	}
	if err := f.limits.apply(&cfg, &sig); err != nil {
		log.Error("config", "err", err)
		return 2
	}
	tr, err := f.tls.setup(fs, &cfg, log)
	if err != nil {
		log.Error("config", "err", err)
		return 2
	}

	stopTURN := func(context.Context) error { return nil }
	if f.lan {
		log.Info("LAN mode: no STUN/TURN; peers connect directly with host candidates")
	} else {
		turn.tls = cfg.TLS // TURN over TLS with duet's own certificate, if it has one
		if nf.url == "" {
			// Relay credentials open new allocations only while the place
			// they were minted for is held. On a cluster the place may be
			// on another node, which this one does not ask; there the
			// credential's expiry alone bounds it (docs/deploy.md).
			turn.authorize = func(user string) bool {
				h := hub.Load()
				return h != nil && h.HoldsPlace(user)
			}
		}
		if _, stopTURN, err = turn.startTURN(ctx, log.With("part", "turn")); err != nil {
			log.Error("turn", "err", err)
			return 1
		}
		sig.ICEServers = turn.iceServers
	}
	if sig.ICEServers == nil {
		sig.ICEServers = func(string, string) []protocol.ICEServer { return []protocol.ICEServer{} }
	}
	routes, stopPeerJS, err := pj.setup(log, f.limits.peerjs)
	if err != nil {
		log.Error("config", "err", err)
		stopTURN(context.Background())
		return 2
	}
	// The bus is chosen here, once: NATS with --nats, else the hub's
	// in-process default (nothing NATS-related starts).
	nb, err := nf.connect(ctx, log.With("part", "nats"))
	if err != nil {
		log.Error("nats", "err", err)
		stopPeerJS(context.Background())
		stopTURN(context.Background())
		return 1
	}
	stopBus := func() {}
	if nb != nil {
		sig.Bus = nb
		cfg.Metrics.WatchNATS(nb.Stats)
		stopBus = func() { nb.Close() }
	}
	if ts := turn.embedded(); ts != nil {
		cfg.Metrics.WatchTURN(ts.Stats)
	}
	cfg.Ready = readiness(turn, nb)
	whipRoutes, whipHub := wf.service(log, sig.ICEServers)
	cfg.Signal = sig
	cfg.Routes = func(mux *http.ServeMux) { routes(mux); whipRoutes(mux) }
	cfg.TURN = turn.onePort()

	srv, err := server.New(cfg)
	if err == nil {
		hub.Store(srv.Hub())
		whipHub(srv.Hub())
		err = srv.Start(ctx)
	}
	if err == nil {
		if err = tr.start(ctx, srv.Addr()); err != nil {
			srv.Shutdown(context.Background())
		}
	}
	if err != nil {
		log.Error("start", "err", err)
		tr.stop(context.Background())
		stopBus()
		stopPeerJS(context.Background())
		stopTURN(context.Background())
		return 1
	}
	turn.onHTTPS(srv.Addr())
	defer onHangup(ctx, func() { tr.reload(log) })()
	log.Info("duet is running", "open", tr.openURL(srv.URL()))

	<-ctx.Done()
	log.Info("shutting down", "timeout", f.drain)
	sctx, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	// The hub drains before the bus leaves, so the byes go out while
	// this node is still part of the cluster.
	err = srv.Shutdown(sctx)
	stopBus()
	err = errors.Join(err, tr.stop(sctx), stopPeerJS(sctx), stopTURN(sctx))
	if err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	return 0
}

// readiness is /readyz's check beyond the server's own: the embedded TURN
// server answering STUN (when there is one) and NATS connected (with --nats).
func readiness(turn *turnFlags, nb *natsbus.Bus) func() error {
	return func() error {
		if ts := turn.embedded(); ts != nil {
			if err := stunProbe(ts.UDPAddr()); err != nil {
				return fmt.Errorf("TURN not answering: %w", err)
			}
		}
		if nb != nil {
			return nb.Ready()
		}
		return nil
	}
}

// stunProbe sends one STUN binding request to the embedded TURN server's
// UDP port (on loopback when it listens on every address) and waits up to
// a second for the answer: a listening socket is not proof that its read
// loop still answers.
func stunProbe(addr *net.UDPAddr) error {
	if addr == nil {
		return errors.New("not listening")
	}
	to := *addr
	if to.IP.IsUnspecified() {
		to.IP = net.IPv4(127, 0, 0, 1) // a dual-stack [::] socket takes it too
	}
	c, err := net.DialUDP("udp", nil, &to)
	if err != nil {
		return err
	}
	defer c.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(req.Raw); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		var res stun.Message
		res.Raw = buf[:n]
		if res.Decode() == nil && res.TransactionID == req.TransactionID {
			return nil
		}
	}
}

// flagSet reports whether a flag was given on the command line or in its
// DUET_* variable.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
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
	dir, err := stateDir()
	if err == nil {
		var b []byte
		path := filepath.Join(dir, "resume-secret")
		if b, err = server.LoadOrCreateSecret(path); err == nil {
			if err := server.CheckPrivate(path); err != nil {
				log.Warn("the resume secret is not private", "err", err)
			}
			return b, nil
		}
	}
	log.Warn("resume tokens will not survive a restart", "err", err)
	return nil, nil // the hub makes a random one
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
