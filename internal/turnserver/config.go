// Package turnserver is duet's embedded STUN/TURN server, built on pion/turn.
// It adds what a public relay needs and pion leaves to the caller: TURN REST
// credentials (internal/turncred), a peer address policy that refuses
// loopback, private and other special-purpose peers in every IPv4-in-IPv6
// spelling, allocation quotas, a per-allocation bandwidth cap, a bound on an
// allocation's age, large socket buffers and several read loops per port.
//
// Use it like an embedded nats-server: New validates, Start opens every socket
// and then serves in goroutines it owns, Shutdown stops them all.
package turnserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultAddr                  = ":3478"
	DefaultRealm                 = "duet"
	DefaultMinPort               = 49152
	DefaultMaxPort               = 65535
	DefaultMaxAllocations        = 1000
	DefaultMaxAllocationsPerUser = 8
	DefaultMaxAllocationAge      = 12 * time.Hour
	DefaultSocketBuffer          = 32 << 20
	// DefaultMaxAllocationsPerClient bounds the allocations of one client
	// address (an IPv6 /64): a browser holds three to six (UDP, TCP and TLS
	// URLs on each network it has), so 32 is five or more callers behind one
	// NAT, while one address can take at most 3 % of the default total.
	DefaultMaxAllocationsPerClient = 32
	// DefaultMaxConnsPerClient bounds the TURN TCP and TLS connections of
	// one client address (an IPv6 /64); a browser opens at most two per
	// network (the TCP and the TLS URL).
	DefaultMaxConnsPerClient = 32
	// DefaultIdleTimeout closes a TURN TCP or TLS connection that has no
	// allocation this long after it was accepted (after its TLS handshake),
	// or after its allocation ended. A browser allocates within a few round
	// trips.
	DefaultIdleTimeout = 5 * time.Second
	// DefaultHandshakeTimeout bounds a TURN TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultBandwidthBytes caps each allocation at 1 MiB/s (8.4 Mbit/s) in
	// each direction. A relayed 1080p Chromium call peaked at 3.2 Mbit/s
	// (0.39 MB/s) in one second, key frames included (libwebrtc caps 1080p
	// video at 2.5 Mbit/s; docs/benchmarks.md has the measurement), so a
	// call with a screen share beside the camera still fits.
	DefaultBandwidthBytes = 1 << 20
)

// Config configures a Server. The zero value of every field but Secret has a
// working default; Validate fills them in.
type Config struct {
	// Addr is where STUN/TURN listens, on UDP and TCP. Port 0 picks a free
	// UDP port and binds TCP to the same number when it can.
	Addr string
	// PublicIP is the relay address advertised in allocations. When unset it
	// is detected from the interfaces (see DetectPublicIP).
	PublicIP netip.Addr
	// RelayBind is the local address relay sockets bind to; unset means all
	// interfaces of PublicIP's family.
	RelayBind netip.Addr
	// MinPort and MaxPort bound the relay UDP ports (inclusive).
	MinPort, MaxPort uint16
	// Realm is the STUN realm.
	Realm string
	// Secret is the TURN REST shared secret. Required.
	Secret string
	// AllowPeers opens peer ranges the policy refuses by default.
	AllowPeers []netip.Prefix
	// MaxAllocations bounds live allocations in total; MaxAllocationsPerUser
	// bounds them per TURN username.
	MaxAllocations, MaxAllocationsPerUser int
	// MaxAllocationsPerClient bounds live allocations per client address
	// (IPv4 address, or IPv6 /64), so that one address cannot take the
	// whole server however many credentials it holds. Negative means no
	// bound.
	MaxAllocationsPerClient int
	// Authorize, when set, is asked before each new allocation with the
	// user part of the REST username (after "expiry:"); false refuses it
	// with 403 (reason ReasonUnauthorized). Refreshes, permissions and
	// channels of existing allocations are not asked, so an allocation
	// outlives both its credential and its authorization.
	Authorize func(user string) bool
	// BandwidthBytes caps each allocation's relayed bytes per second in each
	// direction. 0 means DefaultBandwidthBytes, negative no cap.
	BandwidthBytes int64
	// TLSAddr, when set, is where TURN over TLS (turns:) listens, with TLS.
	TLSAddr string
	// TLS is the certificate configuration for TURN over TLS, on TLSAddr
	// and for connections handed to ServeConn. It is used as given at every
	// handshake, so a GetCertificate that reloads certificates keeps
	// working; the server only adds the "stun.turn" ALPN protocol (RFC 7443)
	// for clients that ask for it.
	TLS *tls.Config
	// MaxConnsPerClient bounds open TURN TCP and TLS connections per client
	// address (IPv4 address, or IPv6 /64). Negative means no bound.
	MaxConnsPerClient int
	// IdleTimeout closes a TCP or TLS connection that holds no allocation
	// this long after it was accepted (or its allocation ended).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake.
	HandshakeTimeout time.Duration
	// MaxAllocationAge closes an allocation this long after it was created,
	// however often it is refreshed (pion already bounds each refresh to an
	// hour). Negative means no bound.
	MaxAllocationAge time.Duration
	// ReadLoops is the number of UDP sockets (SO_REUSEPORT) serving Addr,
	// each with its own read loop. 0 means one per two CPUs.
	ReadLoops int
	// SocketBuffer is the SO_RCVBUF/SO_SNDBUF asked for on the listening UDP
	// sockets; relay sockets, which carry one allocation each, get at most
	// relaySocketBuffer. At 90,000 datagrams/s, 32 MiB rides out ~150 ms
	// without the read loop being scheduled. Negative leaves the kernel
	// default.
	SocketBuffer int
	// SelfTest allocates through the server on loopback at Start and checks
	// that a datagram comes back through the relay.
	SelfTest bool
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.MinPort == 0 && c.MaxPort == 0 {
		c.MinPort, c.MaxPort = DefaultMinPort, DefaultMaxPort
	}
	if c.MaxAllocations == 0 {
		c.MaxAllocations = DefaultMaxAllocations
	}
	if c.MaxAllocationsPerUser == 0 {
		c.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if c.MaxAllocationAge == 0 {
		c.MaxAllocationAge = DefaultMaxAllocationAge
	}
	if c.SocketBuffer == 0 {
		c.SocketBuffer = DefaultSocketBuffer
	}
	if c.MaxAllocationsPerClient == 0 {
		c.MaxAllocationsPerClient = DefaultMaxAllocationsPerClient
	}
	if c.MaxConnsPerClient == 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.BandwidthBytes == 0 {
		c.BandwidthBytes = DefaultBandwidthBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
}

// Validate fills in defaults and reports the first invalid field.
func (c *Config) Validate() error {
	c.setDefaults()
	if c.Secret == "" {
		return errors.New("turnserver: Secret is required")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("turnserver: Addr %q: %w", c.Addr, err)
	}
	if c.MinPort == 0 || c.MinPort > c.MaxPort {
		return fmt.Errorf("turnserver: relay port range %d-%d is empty", c.MinPort, c.MaxPort)
	}
	if c.PublicIP.IsValid() && c.PublicIP.IsUnspecified() {
		return fmt.Errorf("turnserver: PublicIP %s is not an address peers can reach", c.PublicIP)
	}
	if c.RelayBind.IsValid() && c.PublicIP.IsValid() && c.RelayBind.Is4() != c.PublicIP.Is4() {
		return fmt.Errorf("turnserver: RelayBind %s and PublicIP %s differ in family", c.RelayBind, c.PublicIP)
	}
	if c.MaxAllocations < 0 || c.MaxAllocationsPerUser < 0 {
		return errors.New("turnserver: allocation quotas must be positive")
	}
	if c.IdleTimeout < 0 || c.HandshakeTimeout < 0 {
		return errors.New("turnserver: IdleTimeout and HandshakeTimeout must be positive")
	}
	if c.TLSAddr != "" {
		if c.TLS == nil {
			return errors.New("turnserver: TLSAddr needs a TLS config")
		}
		if _, _, err := net.SplitHostPort(c.TLSAddr); err != nil {
			return fmt.Errorf("turnserver: TLSAddr %q: %w", c.TLSAddr, err)
		}
	}
	if c.ReadLoops < 0 || c.ReadLoops > 64 {
		return fmt.Errorf("turnserver: ReadLoops %d out of 0..64", c.ReadLoops)
	}
	for _, p := range c.AllowPeers {
		if !p.IsValid() {
			return fmt.Errorf("turnserver: invalid allowed peer range %v", p)
		}
	}
	return nil
}

// DetectPublicIP picks the address to advertise when none is configured: the
// first global unicast IPv4 address of an interface that is up, else a
// private one, else loopback (a laptop with no network still gets calls
// between two local tabs). The caller logs the choice.
func DetectPublicIP() (netip.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("turnserver: list interfaces: %w", err)
	}
	var private netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil || !pfx.Addr().Is4() {
				continue
			}
			ip := pfx.Addr()
			if (&Policy{}).Check(ip) == "" {
				return ip, nil
			}
			if !private.IsValid() && ip.IsPrivate() {
				private = ip
			}
		}
	}
	if private.IsValid() {
		return private, nil
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}
