package turnserver

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

func TestRefuseCredentials(t *testing.T) {
	tests := []struct {
		name     string
		username func(t *testing.T) (string, string)
		reason   string
	}{
		{"wrong password", func(t *testing.T) (string, string) {
			u, _ := creds(t, "mallory", time.Hour)
			return u, "not-the-hmac"
		}, ReasonBadPassword},
		{"other secret", func(t *testing.T) (string, string) {
			u, _ := creds(t, "mallory", time.Hour)
			return u, "3vKFS8VXIoaD7/BCguzVJ5DeRko="
		}, ReasonBadPassword},
		{"expired", func(t *testing.T) (string, string) {
			return creds(t, "late", -time.Minute)
		}, ReasonExpired},
		{"not a REST username", func(t *testing.T) (string, string) {
			return "alice", "secret"
		}, ReasonBadUsername},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, allowLoopback)
			u, p := tc.username(t)
			c := newClient(t, s, u, p)
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatal("Allocate succeeded with a bad credential")
			}
			if got := s.Stats().Refused[tc.reason]; got == 0 {
				t.Fatalf("Refused[%s] = 0 after refusal; stats %+v", tc.reason, s.Stats())
			}
			if s.Stats().AllocationsCreated != 0 {
				t.Fatal("an allocation was created")
			}
		})
	}
}

// TestRefusePeers checks the default policy end to end: a real client's
// CreatePermission and ChannelBind to refused peers get 403 over UDP and no
// datagram reaches them (TCP: TestRefusePeerOverTCPIs403).
func TestRefusePeers(t *testing.T) {
	s := startServer(t, nil) // default policy: loopback refused
	u, p := creds(t, "alice", time.Hour)
	c := newClient(t, s, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	defer relay.Close()

	peer := echoPeer(t)
	peers := []struct {
		addr   *net.UDPAddr
		reason string
	}{
		{peer.LocalAddr().(*net.UDPAddr), ReasonLoopback},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 9}, ReasonLoopback},
		{&net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 9}, ReasonPrivate},
		{&net.UDPAddr{IP: net.ParseIP("192.168.1.1"), Port: 9}, ReasonPrivate},
		{&net.UDPAddr{IP: net.ParseIP("100.64.0.1"), Port: 9}, ReasonCGNAT},
		{&net.UDPAddr{IP: net.ParseIP("169.254.169.254"), Port: 80}, ReasonLinkLocal},
		{&net.UDPAddr{IP: net.ParseIP("2002:7f00:1::"), Port: 9}, ReasonLoopback},
		{&net.UDPAddr{IP: net.ParseIP("64:ff9b::a00:1"), Port: 9}, ReasonPrivate},
	}
	for _, pr := range peers {
		before := s.Stats().Refused[pr.reason]
		err := c.CreatePermission(pr.addr)
		if code := turnCode(err); code != 403 {
			t.Errorf("CreatePermission(%v) = %v (code %d), want 403", pr.addr, err, code)
		}
		if after := s.Stats().Refused[pr.reason]; after != before+1 {
			t.Errorf("Refused[%s] went %d → %d for %v", pr.reason, before, after, pr.addr)
		}
	}

	// Sending makes pion's client try a ChannelBind (then a permission);
	// neither may get anything to the peer.
	_, _ = relay.WriteTo([]byte("must not arrive"), peer.LocalAddr())
	_ = peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := peer.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("refused peer received %d bytes", n)
	}
	if s.Stats().Refused[ReasonLoopback] < 2 {
		t.Fatalf("ChannelBind refusal not counted: %+v", s.Stats().Refused)
	}
}

func TestQuota(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*Config)
		sameUser bool
		reason   string
	}{
		{"per user", func(c *Config) { c.MaxAllocationsPerUser = 1 }, true, ReasonQuotaUser},
		{"total", func(c *Config) { c.MaxAllocations = 1 }, false, ReasonQuotaTotal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.mod)
			u1, p1 := creds(t, "first", time.Hour)
			u2, p2 := u1, p1
			if !tc.sameUser {
				u2, p2 = creds(t, "second", time.Hour)
			}
			r1, err := newClient(t, s, u1, p1).Allocate()
			if err != nil {
				t.Fatalf("first Allocate: %v", err)
			}
			defer r1.Close()
			r2, err := newClient(t, s, u2, p2).Allocate()
			if err == nil {
				r2.Close()
				t.Fatal("second Allocate succeeded over quota")
			}
			if code := turnCode(err); code != int(stun.CodeAllocQuotaReached) {
				t.Fatalf("second Allocate = %v (code %d), want 486", err, code)
			}
			if s.Stats().Refused[tc.reason] == 0 {
				t.Fatalf("Refused[%s] = 0: %+v", tc.reason, s.Stats().Refused)
			}
		})
	}
}

// An allocation made with a valid credential keeps working after the
// credential expires (browsers refresh with it), while a new allocation
// with it is refused.
func TestExpiredCredentialKeepsExistingAllocation(t *testing.T) {
	s := startServer(t, allowLoopback)
	u, p := creds(t, "alice", time.Minute)
	c := newClient(t, s, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	defer relay.Close()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	s.clock.Store(&later)
	peer := echoPeer(t)
	relayRoundTrip(t, relay, peer.LocalAddr(), "still here")
	if _, err := newClient(t, s, u, p).Allocate(); err == nil {
		t.Fatal("new Allocate with an expired credential succeeded")
	}
	if s.Stats().Refused[ReasonExpired] == 0 {
		t.Fatal("expired credential not counted")
	}
}

func TestMaxAllocationAge(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxAllocationAge = 100 * time.Millisecond })
	u, p := creds(t, "alice", time.Hour)
	relay, err := newClient(t, s, u, p).Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	defer relay.Close()
	waitFor(t, func() bool { return s.Stats().Allocations == 0 && s.Stats().Refused[ReasonMaxAge] == 1 })
}

// waitFor polls cond until it holds or 10 s pass (a hang guard, not a timing).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The self-test relays to a loopback peer although the default policy
// refuses loopback, and the bypass ends with it.
func TestSelfTest(t *testing.T) {
	s := startServer(t, func(c *Config) { c.SelfTest = true })
	st := s.Stats()
	if st.SelfTest != "passed" {
		t.Fatalf("self-test: %q", st.SelfTest)
	}
	if st.AllocationsCreated != 1 || st.Refused[ReasonLoopback] != 0 {
		t.Fatalf("stats after self-test: %+v", st)
	}
	u, p := creds(t, "alice", time.Hour)
	c := newClient(t, s, u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); turnCode(err) != 403 {
		t.Fatalf("loopback permission after the self-test: %v, want 403", err)
	}
}
