package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/duet-call/duet/protocol"
)

// turnFlags are the STUN/TURN flags shared by `duet serve` and `duet turn`.
type turnFlags struct {
	addr, publicIP, host, ports, secret, url string
	tlsAddr                                  string
	ttl, maxAge, idleTimeout                 time.Duration
	allowPeers                               prefixList
	maxAllocs, maxPerUser, readLoops         int
	maxPerClient, maxConnsPerClient          int
	bandwidth                                int64
	selfTest, shareHTTPS                     bool

	// tls is duet's own certificate configuration, set by the caller
	// before startTURN when it has one: TURN over TLS then listens on
	// tlsAddr (and, with shareHTTPS, on the HTTPS port).
	tls *tls.Config
	// authorize, when set before startTURN, is asked before each new
	// allocation whether the credential's user (a place) may have one.
	authorize func(user string) bool

	srv    *turnserver.Server             // set by startTURN
	handed atomic.Pointer[turnserver.ICE] // what iceServers hands out
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
	fs.DurationVar(&f.ttl, "turn-ttl", 0, "how long TURN credentials handed to browsers may open new allocations (default: 12h with the embedded server on one node, where they are good only while their place in a room is held; 1h otherwise)")
	fs.StringVar(&f.url, "turn-url", "", "use this external TURN server (e.g. coturn) instead of the embedded one: comma-separated turn:/turns:/stun: URLs; needs --turn-secret")
	fs.Var(&f.allowPeers, "turn-allow-peer", "CIDR the relay may reach although the default policy refuses it (loopback, private, ...); repeatable or comma-separated")
	fs.IntVar(&f.maxAllocs, "turn-max-allocations", turnserver.DefaultMaxAllocations, "live TURN allocations allowed in total")
	fs.IntVar(&f.maxPerUser, "turn-max-allocations-per-user", turnserver.DefaultMaxAllocationsPerUser, "live TURN allocations allowed per TURN username")
	fs.IntVar(&f.maxPerClient, "turn-max-allocations-per-client", turnserver.DefaultMaxAllocationsPerClient, "live TURN allocations allowed per client address (IPv6: per /64), whatever its credentials; 0 means no bound")
	fs.IntVar(&f.maxConnsPerClient, "turn-max-conns-per-client", turnserver.DefaultMaxConnsPerClient, "open TURN TCP and TLS connections allowed per client address (IPv6: per /64); 0 means no bound")
	fs.DurationVar(&f.idleTimeout, "turn-idle-timeout", turnserver.DefaultIdleTimeout, "close a TURN TCP or TLS connection that holds no allocation this long")
	fs.Int64Var(&f.bandwidth, "turn-bandwidth", turnserver.DefaultBandwidthBytes, "cap on each allocation's relayed bytes per second in each direction (the default fits a 1080p call with a screen share); 0 means none")
	fs.StringVar(&f.tlsAddr, "turn-tls-addr", ":5349", "TURN over TLS (turns:) listen address, with duet's certificate; used only when duet has one; empty for none")
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
		Addr:                    f.addr,
		Secret:                  f.secret,
		AllowPeers:              f.allowPeers,
		MaxAllocations:          f.maxAllocs,
		MaxAllocationsPerUser:   f.maxPerUser,
		MaxAllocationsPerClient: noBound(f.maxPerClient),
		MaxConnsPerClient:       noBound(f.maxConnsPerClient),
		IdleTimeout:             f.idleTimeout,
		BandwidthBytes:          noBound64(f.bandwidth),
		MaxAllocationAge:        f.maxAge,
		ReadLoops:               f.readLoops,
		SelfTest:                f.selfTest,
	}
	if f.tls != nil && f.tlsAddr != "" {
		cfg.TLSAddr, cfg.TLS = f.tlsAddr, f.tls
	}
	if f.tls != nil && f.shareHTTPS {
		cfg.TLS = f.tls // for the connections the HTTPS port hands over
	}
	if f.idleTimeout <= 0 {
		return cfg, fmt.Errorf("--turn-idle-timeout %v: must be positive", f.idleTimeout)
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
	if f.ttl < 0 {
		return cfg, fmt.Errorf("--turn-ttl %v: must be positive", f.ttl)
	}
	cfg.Authorize = f.authorize
	if cfg.Secret == "" {
		s, err := turncred.NewSecret()
		if err != nil {
			return cfg, err
		}
		cfg.Secret = s
	}
	return cfg, cfg.Validate()
}

// credentialTTL is --turn-ttl, or its default. Where the embedded server
// asks whether a credential's place is still held (authorize), the place
// bounds the credential and the expiry only needs to outlast a long wait
// for the other person; elsewhere the expiry is all there is.
func (f *turnFlags) credentialTTL() time.Duration {
	switch {
	case f.ttl > 0:
		return f.ttl
	case f.authorize != nil:
		return 12 * time.Hour
	default:
		return turnserver.DefaultTTL
	}
}

// noBound turns a flag's "0 means no bound" into the Config's negative.
func noBound(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func noBound64(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// ice describes what browsers get for a TURN server listening on port (and
// on tlsPort over TLS, when not 0). The turns: host is --turn-host when
// set, else the host the browser used, which the certificate covers;
// never --turn-public-ip, a bare address no certificate names.
func (f *turnFlags) ice(secret string, port, tlsPort int) *turnserver.ICE {
	host := f.host
	if host == "" {
		host = f.publicIP
	}
	return &turnserver.ICE{Host: host, Port: port, TLSPort: tlsPort, TLSHost: f.host, Secret: secret, TTL: f.credentialTTL()}
}

// addShareFlag declares duet serve's --turn-share-https.
func (f *turnFlags) addShareFlag(fs *flag.FlagSet) {
	fs.BoolVar(&f.shareHTTPS, "turn-share-https", true, "also serve TURN over TLS on the HTTPS port itself (one-port mode: a network that lets only 443 out still relays); when duet serves HTTPS")
}

// iceServers is the signaling config's ICEServers: what startTURN set up,
// with the HTTPS port in the turns: URL once onHTTPS knows it.
func (f *turnFlags) iceServers(host, user string) []protocol.ICEServer {
	return f.handed.Load().ServersFor(host, user)
}

// onePort returns where the HTTPS port sends TURN connections in one-port
// mode (server.Config.TURN), or nil when that mode is off.
func (f *turnFlags) onePort() func(net.Conn) {
	if f.srv == nil || f.tls == nil || !f.shareHTTPS {
		return nil
	}
	return f.srv.ServeConn
}

// onHTTPS is told the HTTPS listener's address once it listens; in
// one-port mode the turns: URL then names that port.
func (f *turnFlags) onHTTPS(addr net.Addr) {
	ta, ok := addr.(*net.TCPAddr)
	if f.onePort() == nil || !ok {
		return
	}
	ice := *f.handed.Load()
	ice.TLSPort = ta.Port
	f.handed.Store(&ice)
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
		f.handed.Store(ice)
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
	tlsPort := 0
	if a := srv.TLSAddr(); a != nil {
		tlsPort = a.Port
	}
	ice := f.ice(cfg.Secret, srv.UDPAddr().Port, tlsPort)
	f.handed.Store(ice)
	return ice, srv.Shutdown, nil
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
	if f.ttl < 0 {
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
	return &turnserver.ICE{URLs: append(stuns, urls...), Secret: f.secret, TTL: f.credentialTTL()}, nil
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
