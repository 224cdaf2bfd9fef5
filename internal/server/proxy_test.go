package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/metrics"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// dialAs opens /ws with the given extra headers and reads its first
// answer to a ping: pong when admitted, the refusal's error otherwise.
func dialAs(t *testing.T, s *Server, hdr http.Header) (*websocket.Conn, protocol.Message) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/ws", hdr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.WriteJSON(&protocol.Ping{Type: protocol.TypePing})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return c, m
}

func forwardedFor(ip string) http.Header {
	return http.Header{"X-Forwarded-For": {ip}}
}

// Behind a trusted proxy, every client has limits of its own: with two
// connections allowed per client, 150 clients (all arriving from the
// proxy's address) are admitted while a third connection of one of them
// is refused. From a peer that is not trusted, X-Forwarded-For changes
// nothing: before, the limits applied to the whole site behind a proxy,
// and any client could name its own address.
func TestLimitsKeyOnTheForwardedClient(t *testing.T) {
	trusted := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := start(t, Config{Clients: trusted, Signal: signal.Config{MaxConnsPerIP: 2}})
	for i := range 150 {
		if _, m := dialAs(t, s, forwardedFor(fmt.Sprintf("198.51.%d.%d", i/200, i%200+1))); m.MessageType() != protocol.TypePong {
			t.Fatalf("client %d refused: %+v", i, m)
		}
	}
	dialAs(t, s, forwardedFor("198.51.0.1"))
	if _, m := dialAs(t, s, forwardedFor("198.51.0.1")); !isError(m, protocol.CodeTooManyConns) {
		t.Fatalf("third connection of one client: %+v, want too-many-connections", m)
	}
	// IPv6 clients count by their /64.
	dialAs(t, s, forwardedFor("2001:db8:1:2::a"))
	dialAs(t, s, forwardedFor("2001:db8:1:2::b"))
	if _, m := dialAs(t, s, forwardedFor("2001:db8:1:2::c")); !isError(m, protocol.CodeTooManyConns) {
		t.Fatalf("third connection from one /64: %+v, want too-many-connections", m)
	}

	untrusting := start(t, Config{Signal: signal.Config{MaxConnsPerIP: 2}})
	dialAs(t, untrusting, forwardedFor("203.0.113.1"))
	dialAs(t, untrusting, forwardedFor("203.0.113.2"))
	if _, m := dialAs(t, untrusting, forwardedFor("203.0.113.3")); !isError(m, protocol.CodeTooManyConns) {
		t.Fatalf("forged X-Forwarded-For from an untrusted peer: %+v, want its own address's limit", m)
	}
}

func isError(m protocol.Message, code protocol.Code) bool {
	e, ok := m.(*protocol.ErrorMessage)
	return ok && e.Code == code
}

// nginx passes its upstream's name as Host unless told otherwise; with
// X-Forwarded-Host from a trusted proxy the origin check compares the
// page's origin with the host the browser asked for.
func TestOriginCheckBehindAProxy(t *testing.T) {
	check, err := OriginChecker(nil)
	if err != nil {
		t.Fatal(err)
	}
	trusted := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	proxied := start(t, Config{Clients: trusted, Signal: signal.Config{CheckOrigin: check}})
	direct := start(t, Config{Signal: signal.Config{CheckOrigin: check}})
	hdr := http.Header{"Origin": {"https://call.example.org"}, "X-Forwarded-Host": {"call.example.org"}, "X-Forwarded-Proto": {"https"}}
	url := func(s *Server) string { return "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws" }
	c, _, err := websocket.DefaultDialer.Dial(url(proxied), hdr)
	if err != nil {
		t.Fatalf("behind a trusted proxy: %v", err)
	}
	c.Close()
	if _, resp, err := websocket.DefaultDialer.Dial(url(direct), hdr); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("X-Forwarded-Host from an untrusted peer was believed (err %v)", err)
	}
}

// --metrics-addr moves /metrics off the app's port.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	s := start(t, Config{Metrics: metrics.New(), MetricsAddr: "127.0.0.1:0"})
	if resp, body := get(t, s.URL()+"/metrics"); resp.StatusCode == 200 && strings.Contains(body, "duet_signal_connections") {
		t.Fatal("/metrics is still served on the app's port")
	}
	if resp, body := get(t, "http://"+s.MetricsAddr().String()+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, "duet_signal_connections") {
		t.Fatalf("metrics address: %d %.100s", resp.StatusCode, body)
	}
}

// One client's flood of call reports is refused without costing anyone
// else theirs; before, one limiter for all let a flood drop every real
// report.
func TestCallReportsLimitedPerClient(t *testing.T) {
	trusted := clientaddr.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	s := start(t, Config{Clients: trusted, Metrics: metrics.New(), ReportRate: 0.001, ReportBurst: 3})
	post := func(client string) int {
		req, _ := http.NewRequest("POST", s.URL()+"/api/call-report", strings.NewReader(`{"outcome":"connected","path":"direct","setupMs":5}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		if code := post("198.51.100.1"); code != http.StatusNoContent {
			t.Fatalf("report %d: %d", i, code)
		}
	}
	if code := post("198.51.100.1"); code != http.StatusTooManyRequests {
		t.Fatalf("flooding client: %d, want 429", code)
	}
	if code := post("198.51.100.2"); code != http.StatusNoContent {
		t.Fatalf("another client during the flood: %d, want 204", code)
	}
}

// A request's header is bounded well below net/http's 1 MB default.
func TestHeaderBytesBounded(t *testing.T) {
	s := start(t, Config{})
	req, _ := http.NewRequest("GET", s.URL()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: %d, want 431", resp.StatusCode)
	}
}
