package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/duet-call/duet/internal/turnserver"
)

// turnFlags are the STUN/TURN flags shared by `duet serve` and `duet turn`.
type turnFlags struct {
	addr, publicIP, host, ports, secret, url string
	ttl, maxAge                              time.Duration
	allowPeers                               prefixList
	maxAllocs, maxPerUser, readLoops         int
	bandwidth                                int64
	selfTest                                 bool

	srv *turnserver.Server // set by startTURN
}

// addTurnFlags declares the TURN flags on fs. Call flagenv.Usage and
// flagenv.Parse after it as for any other flag, so each has a DUET_* twin.
func addTurnFlags(fs *flag.FlagSet) *turnFlags {
	f := &turnFlags{}
	fs.StringVar(&f.addr, "turn-addr", turnserver.DefaultAddr, "STUN/TURN listen address, UDP and TCP")
	fs.StringVar(&f.publicIP, "turn-public-ip", "", "IPv4 address the relay advertises (default: detected from the interfaces, and logged)")
	fs.StringVar(&f.host, "turn-host", "", "host name or IP put in the STUN/TURN URLs given to browsers (default: --turn-public-ip if set, else the host the browser used to reach duet)")
	fs.StringVar(&f.ports, "turn-ports", fmt.Sprintf("%d-%d", turnserver.DefaultMinPort, turnserver.DefaultMaxPort), "relay UDP port range MIN-MAX")
	fs.StringVar(&f.secret, "turn-secret", "", "TURN REST shared secret (coturn static-auth-secret); generated at start when unset, never logged")
	fs.DurationVar(&f.ttl, "turn-ttl", turnserver.DefaultTTL, "lifetime of the TURN credentials handed to browsers")
	fs.StringVar(&f.url, "turn-url", "", "use this external TURN server (e.g. coturn) instead of the embedded one: comma-separated turn:/turns:/stun: URLs; needs --turn-secret")
	fs.Var(&f.allowPeers, "turn-allow-peer", "CIDR the relay may reach although the default policy refuses it (loopback, private, ...); repeatable or comma-separated")
	fs.IntVar(&f.maxAllocs, "turn-max-allocations", turnserver.DefaultMaxAllocations, "live TURN allocations allowed in total")
	fs.IntVar(&f.maxPerUser, "turn-max-allocations-per-user", turnserver.DefaultMaxAllocationsPerUser, "live TURN allocations allowed per TURN username")
	fs.Int64Var(&f.bandwidth, "turn-bandwidth", 0, "cap on each allocation's relayed bytes per second in each direction; 0 means none")
	fs.DurationVar(&f.maxAge, "turn-max-allocation-age", turnserver.DefaultMaxAllocationAge, "close any allocation this old, however often refreshed; negative means never")
	fs.IntVar(&f.readLoops, "turn-read-loops", 0, "UDP sockets (SO_REUSEPORT) on the TURN port, each with its own reader; 0 means one per two CPUs")
	fs.BoolVar(&f.selfTest, "turn-self-test", true, "relay a datagram through the embedded server on loopback at start")
	return f
}

// external reports whether --turn-url points at a TURN server of our own.
func (f *turnFlags) external() bool { return f.url != "" }

// config turns the flags into a turnserver.Config. It generates the secret
// when none was given.
func (f *turnFlags) config() (turnserver.Config, error) {
	cfg := turnserver.Config{
		Addr:                  f.addr,
		Secret:                f.secret,
		AllowPeers:            f.allowPeers,
		MaxAllocations:        f.maxAllocs,
		MaxAllocationsPerUser: f.maxPerUser,
		BandwidthBytes:        f.bandwidth,
		MaxAllocationAge:      f.maxAge,
		ReadLoops:             f.readLoops,
		SelfTest:              f.selfTest,
	}
	if f.publicIP != "" {
		ip, err := netip.ParseAddr(f.publicIP)
		if err != nil {
			return cfg, fmt.Errorf("--turn-public-ip: %w", err)
		}
		cfg.PublicIP = ip
	}
	lo, hi, ok := strings.Cut(f.ports, "-")
	min, err1 := strconv.ParseUint(lo, 10, 16)
	max, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return cfg, fmt.Errorf("--turn-ports %q: want MIN-MAX, e.g. 49152-65535", f.ports)
	}
	cfg.MinPort, cfg.MaxPort = uint16(min), uint16(max)
	if f.ttl <= 0 {
		return cfg, fmt.Errorf("--turn-ttl %v: must be positive", f.ttl)
	}
	if cfg.Secret == "" {
		s, err := turncred.NewSecret()
		if err != nil {
			return cfg, err
		}
		cfg.Secret = s
	}
	return cfg, cfg.Validate()
}

// ice describes what browsers get for a TURN server listening on port.
func (f *turnFlags) ice(secret string, port int) *turnserver.ICE {
	host := f.host
	if host == "" {
		host = f.publicIP
	}
	return &turnserver.ICE{Host: host, Port: port, Secret: secret, TTL: f.ttl}
}

// startTURN is what `duet serve` calls: it starts the embedded STUN/TURN
// server and returns the ICE servers to hand out and the function that stops
// it. With --turn-url it starts nothing and returns the external server's
// ICE config (and a stop that does nothing). For LAN mode do not call it:
// a nil *turnserver.ICE hands out no servers.
func (f *turnFlags) startTURN(ctx context.Context, log *slog.Logger) (*turnserver.ICE, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if f.external() {
		ice, err := f.externalICE()
		if err != nil {
			return nil, nil, err
		}
		log.Info("turn: using an external TURN server; the embedded one is not started", "urls", ice.URLs)
		return ice, noop, nil
	}
	generated := f.secret == ""
	cfg, err := f.config()
	if err != nil {
		return nil, nil, err
	}
	if generated {
		log.Info("turn: generated a TURN secret for this run (set --turn-secret to keep credentials valid across restarts)")
	}
	srv, err := turnserver.New(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, nil, err
	}
	f.srv = srv
	return f.ice(cfg.Secret, srv.UDPAddr().Port), srv.Shutdown, nil
}

// embedded is the server startTURN started, for its Stats (metrics); nil
// before, in LAN mode and with --turn-url.
func (f *turnFlags) embedded() *turnserver.Server { return f.srv }

// externalICE checks --turn-url and builds the ICE config for it. A stun:
// URL on the same host and port is added for each turn: URL, as coturn
// answers STUN there too.
func (f *turnFlags) externalICE() (*turnserver.ICE, error) {
	if f.secret == "" {
		return nil, errors.New("--turn-url needs --turn-secret, the static-auth-secret of that TURN server")
	}
	if f.ttl <= 0 {
		return nil, fmt.Errorf("--turn-ttl %v: must be positive", f.ttl)
	}
	var urls, stuns []string
	for _, u := range strings.Split(f.url, ",") {
		u = strings.TrimSpace(u)
		scheme, rest, ok := strings.Cut(u, ":")
		hostport, _, _ := strings.Cut(rest, "?")
		if !ok || hostport == "" || (scheme != "turn" && scheme != "turns" && scheme != "stun" && scheme != "stuns") {
			return nil, fmt.Errorf("--turn-url %q: want turn:host[:port][?transport=udp|tcp], turns: or stun:", u)
		}
		urls = append(urls, u)
		if scheme == "turn" {
			if s := "stun:" + hostport; !contains(stuns, s) && !contains(urls, s) {
				stuns = append(stuns, s)
			}
		}
	}
	return &turnserver.ICE{URLs: append(stuns, urls...), Secret: f.secret, TTL: f.ttl}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// prefixList is a repeatable CIDR flag. A comma-separated value is split, so
// DUET_TURN_ALLOW_PEER=127.0.0.0/8,10.0.0.0/8 works too. A bare address
// means just that address.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(part)
		if err != nil {
			ip, err2 := netip.ParseAddr(part)
			if err2 != nil {
				return fmt.Errorf("%q is not a CIDR: %w", part, err)
			}
			pfx = netip.PrefixFrom(ip, ip.BitLen())
		}
		*p = append(*p, pfx.Masked())
	}
	return nil
}
