package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/peerjs"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// limitFlags are who the clients are (trusted proxies) and how much each
// may take. Every per-client limit keys on the client address that
// clientaddr works out: behind a trusted proxy the forwarded one, and an
// IPv6 client by its /64.
type limitFlags struct {
	trustedProxies             string
	connsPerClient             int
	joinRate                   float64
	joinBurst                  int
	joinTimeout                time.Duration
	peerjsRate                 float64
	peerjsBurst, peerjsPerConn int
	reportRate                 float64
	reportBurst                int
	metricsAddr                string
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	f := &limitFlags{}
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses of reverse proxies (nginx, Caddy) whose Forwarded / X-Forwarded-For, -Proto and -Host headers name the client; from anyone else they are ignored (default none)")
	fs.IntVar(&f.connsPerClient, "limit-conns-per-client", 100, "open signaling connections per client address (an IPv6 client counts by its /64)")
	fs.Float64Var(&f.joinRate, "limit-joins-per-second", 2, "joins per second per client address (room-id guessing; every join hands out TURN credentials)")
	fs.IntVar(&f.joinBurst, "limit-join-burst", 20, "joins a client address may make at once before --limit-joins-per-second applies")
	fs.DurationVar(&f.joinTimeout, "join-timeout", 10*time.Second, "close a signaling connection that is in no room this long after it opened or left one")
	fs.Float64Var(&f.peerjsRate, "limit-peerjs-per-second", 2, "new PeerJS connections per second per client address")
	fs.IntVar(&f.peerjsBurst, "limit-peerjs-burst", 20, "new PeerJS connections a client address may open at once")
	fs.IntVar(&f.peerjsPerConn, "limit-peerjs-conns-per-client", 100, "open PeerJS connections per client address")
	fs.Float64Var(&f.reportRate, "limit-reports-per-second", 1, "call reports (POST /api/call-report) per second per client address")
	fs.IntVar(&f.reportBurst, "limit-report-burst", 10, "call reports a client address may send at once")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve /metrics on this address (an internal one, say 127.0.0.1:9090) instead of on --addr")
	return f
}

// apply puts the limits into the server's config and the PeerJS flags.
func (f *limitFlags) apply(cfg *server.Config, sig *signal.Config) error {
	trusted, err := clientaddr.ParsePrefixes(f.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	for name, v := range map[string]float64{
		"--limit-conns-per-client": float64(f.connsPerClient), "--limit-joins-per-second": f.joinRate,
		"--limit-join-burst": float64(f.joinBurst), "--limit-peerjs-per-second": f.peerjsRate,
		"--limit-peerjs-burst": float64(f.peerjsBurst), "--limit-peerjs-conns-per-client": float64(f.peerjsPerConn),
		"--limit-reports-per-second": f.reportRate, "--limit-report-burst": float64(f.reportBurst),
		"--join-timeout": float64(f.joinTimeout),
	} {
		if v <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	cfg.Clients = clientaddr.New(trusted)
	cfg.MetricsAddr = f.metricsAddr
	cfg.ReportRate, cfg.ReportBurst = f.reportRate, f.reportBurst
	sig.MaxConnsPerIP = f.connsPerClient
	sig.JoinRate, sig.JoinBurst = f.joinRate, f.joinBurst
	sig.JoinTimeout = f.joinTimeout
	return nil
}

// peerjs is the PeerJS endpoint's share of the limits.
func (f *limitFlags) peerjs(c *peerjs.Config) {
	c.ConnRate, c.ConnBurst, c.MaxConnsPerIP = f.peerjsRate, f.peerjsBurst, f.peerjsPerConn
}
