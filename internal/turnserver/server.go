package turnserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v4"
	"golang.org/x/time/rate"
)

// refusalLogRate bounds refusal log lines per second (counters see them all).
const refusalLogRate = 20

// Server is the embedded STUN/TURN server. Create it with New.
type Server struct {
	cfg       Config
	log       *slog.Logger
	secret    []byte
	publicIP  netip.Addr
	policy    *Policy
	relaySelf bool                             // relayConn holds datagrams to publicIP to the relay ports
	clock     atomic.Pointer[func() time.Time] // tests move time; nil means time.Now

	relays   atomic.Int64 // open relay sockets
	created  atomic.Uint64
	refused  map[string]*atomic.Uint64 // read-only map after New
	logLimit *rate.Limiter
	users    users
	perms    permissions
	relayed  relayedBytes

	// Fast path (fastpath.go): bound channels by client, relay sockets by
	// port, and the listener socket that sends to clients.
	channels   cowMap[fastKey, *fastChan]
	relayPorts cowMap[uint16, *relayConn]
	fastOut    *net.UDPConn // set in Start before any allocation exists

	selfTestClient atomic.Pointer[string] // the one client the peer policy lets through, during Start
	selfTestResult atomic.Pointer[string]

	streams atomic.Pointer[streams] // TCP, TLS and handed-over connections; set in Start

	mu       sync.Mutex // guards the fields below
	started  bool
	udp      []*net.UDPConn
	tcp      net.Listener
	tlsLn    net.Listener
	ts       *turn.Server
	shutdown bool
}

// New validates cfg and prepares a server; it opens no socket.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		secret:   []byte(cfg.Secret),
		refused:  newCounters(),
		logLimit: rate.NewLimiter(refusalLogRate, refusalLogRate),
		users:    users{count: map[string]int{}, owners: map[string]int{}, clients: map[netip.Prefix]int{}},
		perms:    permissions{live: map[permKey]struct{}{}},
	}
	s.publicIP = cfg.PublicIP
	if !s.publicIP.IsValid() {
		ip, err := DetectPublicIP()
		if err != nil {
			return nil, err
		}
		s.publicIP = ip
		log.Info("turn: relay address detected from the interfaces; set --turn-public-ip if peers cannot reach it",
			"relay_ip", ip.String())
	}
	s.publicIP = Normalize(s.publicIP)
	if !s.publicIP.Is4() {
		return nil, fmt.Errorf("turnserver: relay address %s: pion/turn relays over IPv4 only", s.publicIP)
	}
	own, err := ownAddresses()
	if err != nil {
		return nil, fmt.Errorf("turnserver: list own addresses: %w", err)
	}
	own[s.publicIP] = true
	s.policy = &Policy{Allow: cfg.AllowPeers, Own: own, RelayIP: s.publicIP}
	// Peers may reach a public relay IP so that two clients of this server
	// can relay to each other; relayConn then holds them to the relay ports,
	// unless the operator opened the relay IP's range on purpose. A private
	// or loopback relay IP is refused by the policy anyway.
	s.relaySelf = (&Policy{}).Check(s.publicIP) == ""
	for _, p := range cfg.AllowPeers {
		if p.Contains(s.publicIP) {
			s.relaySelf = false
		}
	}
	return s, nil
}

// Start opens the UDP and TCP listeners (an error here means nothing is
// listening) and then serves in goroutines owned by pion/turn, which
// Shutdown stops. Start may be called once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.shutdown {
		return errors.New("turnserver: Start called twice or after Shutdown")
	}
	s.started = true

	loops := s.cfg.ReadLoops
	if loops == 0 {
		// One read loop per two CPUs: each loop costs Go scheduler wake-ups,
		// and on two cores one loop relays 90k datagrams/s at coturn's CPU
		// cost, while two loops cost 20-30 % more at 48k/s (docs/benchmarks.md).
		loops = max(1, runtime.NumCPU()/2)
	}
	udp, tcp, err := listenBoth(ctx, s.cfg.Addr, loops, s.cfg.SocketBuffer)
	if err != nil {
		return err
	}
	var tlsLn net.Listener
	if s.cfg.TLSAddr != "" {
		var lc net.ListenConfig
		if tlsLn, err = lc.Listen(ctx, "tcp", s.cfg.TLSAddr); err != nil {
			closeUDP(udp)
			_ = tcp.Close()
			return fmt.Errorf("turnserver: listen tls %s: %w", s.cfg.TLSAddr, err)
		}
	}

	bindHost := "0.0.0.0"
	if s.cfg.RelayBind.IsValid() {
		bindHost = s.cfg.RelayBind.String()
	}
	gen := &relayGen{s: s, bindHost: bindHost, min: s.cfg.MinPort, max: s.cfg.MaxPort,
		lc: listenConfig(false, min(s.cfg.SocketBuffer, relaySocketBuffer))}
	// Any of the SO_REUSEPORT sockets sends from the same address:port.
	s.fastOut = udp[0]
	pcs := make([]turn.PacketConnConfig, len(udp))
	for i, c := range udp {
		pcs[i] = turn.PacketConnConfig{PacketConn: newGuardConn(c, s), RelayAddressGenerator: gen,
			PermissionHandler: s.permissionHandler}
	}
	// Each stream client holds at most one allocation per connection; a
	// little headroom lets clients that are only doing STUN connect.
	st := newStreams(s, s.cfg.MaxAllocations+64)
	ts, err := turn.NewServer(turn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs: []turn.ListenerConfig{{Listener: st, RelayAddressGenerator: gen,
			PermissionHandler: s.permissionHandler}},
		LoggerFactory: &pionLogs{log: s.log},
		Realm:         s.cfg.Realm,
		AuthHandler:   s.authHandler,
		QuotaHandler:  s.quotaHandler,
		EventHandler:  s.eventHandler(),
	})
	if err != nil {
		closeUDP(udp)
		_ = tcp.Close()
		if tlsLn != nil {
			_ = tlsLn.Close()
		}
		return fmt.Errorf("turnserver: start pion/turn: %w", err)
	}
	st.serve(tcp, false)
	if tlsLn != nil {
		st.serve(tlsLn, true)
	}
	s.streams.Store(st)
	s.udp, s.tcp, s.tlsLn, s.ts = udp, tcp, tlsLn, ts
	tlsAddr := "off"
	if tlsLn != nil {
		tlsAddr = tlsLn.Addr().String()
	}
	s.log.Info("turn: listening", "udp", udp[0].LocalAddr().String(), "tcp", tcp.Addr().String(), "tls", tlsAddr,
		"relay_ip", s.publicIP.String(), "relay_ports", strconv.Itoa(int(s.cfg.MinPort))+"-"+strconv.Itoa(int(s.cfg.MaxPort)),
		"read_loops", loops, "udp_rcvbuf", readBufferSize(udp[0]))
	if s.cfg.SelfTest {
		result := "passed"
		if err := s.selfTest(udp[0].LocalAddr().(*net.UDPAddr)); err != nil {
			result = "failed: " + err.Error()
			s.log.Warn("turn: relay self-test failed; relayed calls may not work", "err", err)
		} else {
			s.log.Info("turn: relay self-test passed", "relay_ip", s.publicIP.String())
		}
		s.selfTestResult.Store(&result)
	}

	return nil
}

func closeUDP(cs []*net.UDPConn) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// Shutdown closes the listeners and every allocation, and waits until the
// relay sockets are closed or ctx ends. It is safe to call more than once,
// and before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	ts := s.ts
	already := s.shutdown
	s.shutdown = true
	s.mu.Unlock()
	if ts == nil || already {
		return nil
	}
	err := ts.Close()
	// pion closes each allocation manager after its read loop returns, in its
	// own goroutine; wait for the relay sockets to be gone.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.relays.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("turnserver: shutdown: %d relay sockets still open: %w", s.relays.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	if err != nil {
		return fmt.Errorf("turnserver: shutdown: %w", err)
	}
	return nil
}

// UDPAddr is the address the UDP listeners are bound to (nil before Start).
func (s *Server) UDPAddr() *net.UDPAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.udp) == 0 {
		return nil
	}
	return s.udp[0].LocalAddr().(*net.UDPAddr)
}

// TCPAddr is the address the TCP listener is bound to (nil before Start).
func (s *Server) TCPAddr() *net.TCPAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr().(*net.TCPAddr)
}

// TLSAddr is the address the TURN-over-TLS listener is bound to (nil before
// Start or without Config.TLSAddr).
func (s *Server) TLSAddr() *net.TCPAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr().(*net.TCPAddr)
}

// ServeConn serves TURN on c, a connection another listener accepted (and,
// for TLS, completed the handshake of): the one-port mode of
// internal/tlsmux, where TURN over TLS shares the HTTPS port. c counts
// against the per-client connection cap and the idle timeout like any TCP
// or TLS client, and is closed by Shutdown. It returns once c is handed to
// the TURN server (or closed: before Start, after Shutdown, over a cap).
func (s *Server) ServeConn(c net.Conn) {
	st := s.streamSet()
	if st == nil {
		_ = c.Close()
		return
	}
	if sc := st.admit(c); sc != nil {
		st.hand(sc)
	}
}

// RelayIP is the address advertised in allocations.
func (s *Server) RelayIP() netip.Addr { return s.publicIP }

// Secret is the REST secret, for minting credentials (see ICE). Never log it.
func (s *Server) Secret() string { return s.cfg.Secret }

// Realm is the STUN realm.
func (s *Server) Realm() string { return s.cfg.Realm }

// now is the server's clock for credential expiry.
func (s *Server) now() time.Time {
	if f := s.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

func (s *Server) streamSet() *streams { return s.streams.Load() }

func (s *Server) turnServer() *turn.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ts
}
