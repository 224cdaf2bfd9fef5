package turnserver

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/pion/turn/v4"
)

// Refusal reasons beyond the peer policy ones in policy.go.
const (
	ReasonBadPassword = "bad-password"
	ReasonExpired     = "expired"
	ReasonBadUsername = "bad-username"
	ReasonQuotaUser   = "quota-user"
	ReasonQuotaTotal  = "quota-total"
	ReasonBandwidth   = "bandwidth"
	ReasonSelfPort    = "self-port"
	ReasonMaxAge      = "max-age"
	// ReasonQuotaClient: the client address (IPv6 /64) holds
	// MaxAllocationsPerClient allocations.
	ReasonQuotaClient = "quota-client"
	// ReasonConnsClient: a TCP/TLS connection refused because its client
	// address holds MaxConnsPerClient of them.
	ReasonConnsClient = "conns-client"
	// ReasonIdle: a TCP/TLS connection closed for holding no allocation.
	ReasonIdle = "idle"
	// ReasonUnauthorized: Config.Authorize refused a new allocation.
	ReasonUnauthorized = "unauthorized"
)

var allReasons = []string{
	ReasonLoopback, ReasonPrivate, ReasonCGNAT, ReasonLinkLocal, ReasonMulticast,
	ReasonUnspecified, ReasonReserved, ReasonOwnAddress, ReasonInvalid,
	ReasonBadPassword, ReasonExpired, ReasonBadUsername, ReasonQuotaUser,
	ReasonQuotaTotal, ReasonBandwidth, ReasonSelfPort, ReasonMaxAge,
	ReasonQuotaClient, ReasonConnsClient, ReasonIdle, ReasonUnauthorized,
}

var errQuota = errors.New("allocation quota reached")

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Allocations is the number of live allocations.
	Allocations int
	// AllocationsCreated counts allocations since Start.
	AllocationsCreated uint64
	// Permissions is the number of live permissions (allocation, peer IP),
	// including those a ChannelBind installed.
	Permissions int
	// PermissionsCreated counts permissions installed since Start, by
	// CreatePermission or ChannelBind, for a peer IP the allocation had no
	// live permission for; refreshes of a live permission are not counted.
	PermissionsCreated uint64
	// RelayedBytesToPeer and RelayedBytesToClient count payload bytes
	// relayed since Start (Send indication and ChannelData data; datagrams
	// from peers), headers excluded, datagrams dropped by the bandwidth cap
	// or the self-port rule excluded, the start-up self-test included.
	RelayedBytesToPeer   uint64
	RelayedBytesToClient uint64
	// Refused counts refusals by reason (the Reason* constants). Bandwidth
	// and self-port count dropped datagrams; the others count requests.
	Refused map[string]uint64
	// SelfTest is "passed", "failed: <why>", or "" when it did not run.
	SelfTest string
	// StreamConns is the number of open TURN TCP and TLS connections.
	StreamConns int
}

// users tracks live allocations per username and per client address (for
// the quotas), and which client addresses hold one under which username
// (for letting an allocation outlive its credential, see authHandler).
type users struct {
	mu      sync.Mutex
	count   map[string]int       // username → live allocations
	owners  map[string]int       // src address + username → live allocations
	clients map[netip.Prefix]int // client address (IPv6 /64) → live allocations
}

func ownerKey(src net.Addr, username string) string { return src.String() + "\x00" + username }

// authHandler returns the long-term key for a REST username. An expired
// credential is refused for new allocations but accepted from a client that
// already holds an allocation under it: browsers keep refreshing with the
// credential they allocated with, and a call must not drop when it expires.
// MaxAllocationAge bounds such allocations instead.
func (s *Server) authHandler(username, realm string, src net.Addr) ([]byte, bool) {
	if err := turncred.Check(username, s.now()); err != nil {
		if errors.Is(err, turncred.ErrExpired) && s.holdsAllocation(src, username) {
			return turncred.Key(s.secret, username, realm), true
		}
		reason := ReasonBadUsername
		if errors.Is(err, turncred.ErrExpired) {
			reason = ReasonExpired
		}
		s.refuse(reason, "credential refused", "client", src.String(), "username", username, "err", err)
		return nil, false
	}
	return turncred.Key(s.secret, username, realm), true
}

func (s *Server) holdsAllocation(src net.Addr, username string) bool {
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	return s.users.owners[ownerKey(src, username)] > 0
}

// quotaHandler is consulted by pion before each allocation. Counts come from
// the allocation events, so two Allocates racing on different read loops can
// overshoot the per-user quota by one; the total is also enforced exactly by
// relayGen, which refuses to open more relay sockets.
func (s *Server) quotaHandler(username, _ string, src net.Addr) bool {
	if n := int(s.relays.Load()); n >= s.cfg.MaxAllocations {
		s.refuse(ReasonQuotaTotal, "allocation refused: server full", "client", src.String(), "limit", s.cfg.MaxAllocations)
		return false
	}
	if s.bypassPolicy(src) {
		return true // the self-test
	}
	if !s.authorized(username) {
		// The guard answers these 403 first; this is the backstop.
		s.refuse(ReasonUnauthorized, "allocation refused: user not authorized", "client", src.String(), "username", username)
		return false
	}
	key := clientKey(src)
	s.users.mu.Lock()
	n, perClient := s.users.count[username], s.users.clients[key]
	s.users.mu.Unlock()
	if n >= s.cfg.MaxAllocationsPerUser {
		s.refuse(ReasonQuotaUser, "allocation refused: user quota", "client", src.String(), "username", username,
			"limit", s.cfg.MaxAllocationsPerUser)
		return false
	}
	if limit := s.cfg.MaxAllocationsPerClient; limit > 0 && perClient >= limit {
		s.refuse(ReasonQuotaClient, "allocation refused: client address quota", "client", src.String(), "limit", limit)
		return false
	}
	return true
}

// authorized asks Config.Authorize about the user part of a REST username.
func (s *Server) authorized(username string) bool {
	if s.cfg.Authorize == nil {
		return true
	}
	_, user, err := turncred.Parse(username)
	return err == nil && s.cfg.Authorize(user)
}

// clientKey is the per-client quota's key for a client address.
func clientKey(src net.Addr) netip.Prefix {
	ap, _ := addrPortOf(src)
	return clientPrefix(ap.Addr())
}

func (s *Server) permissionHandler(src net.Addr, peer net.IP) bool {
	reason := s.policy.CheckIP(peer)
	if reason == "" || s.bypassPolicy(src) {
		return true
	}
	s.refuse(reason, "peer refused by relay policy", "client", src.String(), "peer", peer.String())
	return false
}

func (s *Server) eventHandler() turn.EventHandler {
	return turn.EventHandler{
		OnAuth: func(src, _ net.Addr, _, username, _, method string, ok bool) {
			if !ok {
				s.refuse(ReasonBadPassword, "credential refused", "client", src.String(), "username", username, "method", method)
			}
		},
		OnAllocationCreated: func(src, dst net.Addr, _, username, _ string, relay net.Addr, _ int) {
			s.created.Add(1)
			s.users.mu.Lock()
			s.users.count[username]++
			s.users.owners[ownerKey(src, username)]++
			s.users.clients[clientKey(src)]++
			s.users.mu.Unlock()
			if st := s.streamSet(); st != nil {
				st.allocation(src, dst, true)
			}
			s.log.Debug("turn allocation", "client", src.String(), "relay", relay.String(), "username", username)
		},
		OnPermissionCreated: func(_, _ net.Addr, _, _, _ string, relay net.Addr, peer net.IP) {
			s.perms.add(relay, peer)
		},
		OnPermissionDeleted: func(_, _ net.Addr, _, _, _ string, relay net.Addr, peer net.IP) {
			s.perms.remove(relay, peer)
		},
		OnChannelCreated: func(src, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			s.channelCreated(src, relay, peer, number)
		},
		OnChannelDeleted: func(src, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			s.channelDeleted(src, relay, peer, number)
		},
		OnAllocationDeleted: func(src, dst net.Addr, _, username, _ string) {
			if s.bypassPolicy(src) {
				s.selfTestClient.Store(nil)
			}
			s.users.mu.Lock()
			decr(s.users.count, username)
			decr(s.users.owners, ownerKey(src, username))
			if k := clientKey(src); s.users.clients[k] <= 1 {
				delete(s.users.clients, k)
			} else {
				s.users.clients[k]--
			}
			s.users.mu.Unlock()
			if st := s.streamSet(); st != nil {
				st.allocation(src, dst, false)
			}
		},
	}
}

// decr lowers m[k] and deletes it at zero so the maps do not grow with every
// username ever seen.
func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// count adds one to a reason's counter without logging.
func (s *Server) count(reason string) {
	if c := s.refused[reason]; c != nil {
		c.Add(1)
	}
}

// refuse counts a refusal and logs it once, at most refusalLogRate lines per
// second overall so that a client hammering the server cannot flood the log.
func (s *Server) refuse(reason, msg string, attrs ...any) {
	s.count(reason)
	if !s.logLimit.Allow() {
		return
	}
	s.log.Info("turn: "+msg, append([]any{"reason", reason}, attrs...)...)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		AllocationsCreated:   s.created.Load(),
		Permissions:          s.perms.count(),
		PermissionsCreated:   s.perms.created.Load(),
		RelayedBytesToPeer:   s.relayed.toPeer.Load(),
		RelayedBytesToClient: s.relayed.toClient.Load(),
		Refused:              make(map[string]uint64, len(s.refused)),
	}
	if ts := s.turnServer(); ts != nil {
		st.Allocations = ts.AllocationCount()
	}
	if ss := s.streamSet(); ss != nil {
		st.StreamConns = ss.open()
	}
	if r := s.selfTestResult.Load(); r != nil {
		st.SelfTest = *r
	}
	for r, c := range s.refused {
		st.Refused[r] = c.Load()
	}
	return st
}

func newCounters() map[string]*atomic.Uint64 {
	m := make(map[string]*atomic.Uint64, len(allReasons))
	for _, r := range allReasons {
		m[r] = new(atomic.Uint64)
	}
	return m
}
