// Package proxy tests duet behind Debian's nginx and Caddy, configured as
// docs/deploy.md says: TLS ends at the proxy, and duet trusts the
// proxy's forwarded headers (--trusted-proxies) and no one else's.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/internal/proxytest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/testca"
	"github.com/duet-call/duet/protocol"
)

// perClient is the connection limit per client in these tests: small, so
// that one client reaching it is quick to show.
const perClient = 2

// startDuet runs duet on loopback, trusting only the proxy's address
// (127.0.0.1; the test's clients come from other loopback addresses).
func startDuet(t testing.TB, perClient int) *server.Server {
	t.Helper()
	check, err := server.OriginChecker(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Addr:    "127.0.0.1:0",
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Clients: clientaddr.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}),
		Signal:  signal.Config{CheckOrigin: check, MaxConnsPerIP: perClient, JoinBurst: 1000, JoinRate: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

type proxyCase struct {
	name  string
	start func(testing.TB, proxytest.Options) *proxytest.Proxy
}

var proxies = []proxyCase{{"nginx", proxytest.StartNginx}, {"caddy", proxytest.StartCaddy}}

// TestCallThroughProxy: two Chromium pages call each other through the
// proxy over HTTPS (signaling on wss through it; media peer to peer),
// with video decoded both ways.
func TestCallThroughProxy(t *testing.T) {
	ca, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf(t.TempDir(), "", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.WithFlag("ignore-certificate-errors-spki-list", leaf.SPKI))
	for _, pc := range proxies {
		t.Run(pc.name, func(t *testing.T) {
			duet := startDuet(t, perClient)
			p := pc.start(t, proxytest.Options{Upstream: duet.Addr().String(), Leaf: leaf})
			link := p.URL("localhost") + "/r/proxy-" + pc.name
			first := b.NewPage(t, browsertest.PageName(pc.name+"-first"))
			must(t, browsertest.Navigate(first, link))
			must(t, browsertest.WaitFor(first, `window.duet && window.duet.state() === "waiting"`, 30*time.Second))
			second := b.NewPage(t, browsertest.PageName(pc.name+"-second"))
			must(t, browsertest.Navigate(second, link))
			for _, page := range []context.Context{first, second} {
				// Deadlines bound a hang on a loaded machine; they are not targets.
				js := `(async () => { const s = await ` + browsertest.InboundVideoJS + `;
					return window.duet.state() === "connected" && s.framesDecoded > 0 && ` + browsertest.RemoteVideoJS + `.videoWidth > 0; })()`
				if err := browsertest.WaitFor(page, js, 90*time.Second); err != nil {
					t.Fatalf("%s: %v\n%s log:\n%s", browsertest.Name(page), err, p.Name, p.Log())
				}
			}
			// The link the app shares names the proxy's https origin, as
			// the browser saw it, and the QR code says the same.
			var origin string
			must(t, browsertest.Eval(first, `location.origin`, &origin))
			if origin != p.URL("localhost") {
				t.Fatalf("page origin %q, want %q", origin, p.URL("localhost"))
			}
		})
	}
}

// TestLimitsThroughProxy: through the real proxy, 150 clients from
// distinct addresses are all admitted while one client past its limit is
// refused; a forged X-Forwarded-For sent straight to duet (not from the
// trusted proxy) changes nothing.
func TestLimitsThroughProxy(t *testing.T) {
	for _, pc := range proxies {
		t.Run(pc.name, func(t *testing.T) {
			duet := startDuet(t, perClient)
			p := pc.start(t, proxytest.Options{Upstream: duet.Addr().String()})
			proxied := "ws://" + p.Addr + "/ws"
			for i := range 150 {
				// Any 127.x.y.z is this machine: each client its own address.
				src := fmt.Sprintf("127.0.%d.%d", 10+i/200, i%200+2)
				if m := connect(t, src, proxied, nil); m.MessageType() != protocol.TypePong {
					t.Fatalf("client %d (%s) through %s refused: %+v", i, src, p.Name, m)
				}
			}
			for range perClient - 1 {
				connect(t, "127.0.10.2", proxied, nil)
			}
			if m := connect(t, "127.0.10.2", proxied, nil); !isError(m, protocol.CodeTooManyConns) {
				t.Fatalf("one client past its limit through %s: %+v, want too-many-connections", p.Name, m)
			}
			if st := duet.Hub().Stats(); st.Sessions != 150+perClient-1 {
				t.Fatalf("%d sessions, want %d", st.Sessions, 150+perClient-1)
			}

			// Straight to duet from an address it does not trust: the
			// header is ignored, so the forger meets its own limit.
			direct := "ws://" + duet.Addr().String() + "/ws"
			for i := range perClient {
				connect(t, "127.0.20.2", direct, http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i+1)}})
			}
			if m := connect(t, "127.0.20.2", direct, http.Header{"X-Forwarded-For": {"198.51.100.99"}}); !isError(m, protocol.CodeTooManyConns) {
				t.Fatalf("forged X-Forwarded-For from an untrusted peer: %+v, want its own address's limit", m)
			}
		})
	}
}

// connect opens a WebSocket from the local address src and returns the
// answer to a ping: pong when admitted, the refusal otherwise.
func connect(t *testing.T, src, url string, hdr http.Header) protocol.Message {
	t.Helper()
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
	}
	c, _, err := d.Dial(url, hdr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", url, src, err)
	}
	t.Cleanup(func() { c.Close() })
	c.WriteJSON(&protocol.Ping{Type: protocol.TypePing})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read from %s: %v", src, err)
	}
	m, err := protocol.DecodeServer(data)
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func isError(m protocol.Message, code protocol.Code) bool {
	e, ok := m.(*protocol.ErrorMessage)
	return ok && e.Code == code
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
