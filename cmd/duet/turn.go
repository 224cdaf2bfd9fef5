package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/duet-call/duet/internal/flagenv"
	"github.com/duet-call/duet/internal/server"
)

// runTurn runs the STUN/TURN server alone, for a deployment that puts the
// relay on its own machine: `duet serve --turn-url turn:relay.example:3478
// --turn-secret S` on the web host, `duet turn --turn-secret S` on the relay.
func runTurn(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("duet turn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "how long to wait for allocations to close on shutdown")
	tlsCert := fs.String("tls-cert", "", "PEM certificate for TURN over TLS on --turn-tls-addr (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key for --tls-cert")
	tf := addTurnFlags(fs)
	flagenv.Usage(fs)
	if err := flagenv.Parse(fs, args, nil); err != nil {
		return flagExit(err)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "duet turn:", err)
		return 2
	}
	if tf.external() {
		log.Error("config", "err", "--turn-url names an external TURN server; `duet turn` is the server itself")
		return 2
	}
	if tf.secret == "" {
		// Alone, a generated secret is useless: nothing else could mint
		// credentials for it.
		log.Error("config", "err", "duet turn needs --turn-secret (DUET_TURN_SECRET), shared with the signaling server")
		return 2
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		log.Error("config", "err", "--tls-cert and --tls-key go together")
		return 2
	}
	if *tlsCert != "" {
		if tf.tls, err = server.FileTLS(*tlsCert, *tlsKey); err != nil {
			log.Error("config", "err", err)
			return 2
		}
	}
	_, stop, err := tf.startTURN(ctx, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	log.Info("duet turn is running; signaling servers need the same --turn-secret and --turn-url turn:<this host>:<port>")

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := stop(sctx); err != nil {
		log.Warn("shutdown", "err", err)
		return 1
	}
	return 0
}
