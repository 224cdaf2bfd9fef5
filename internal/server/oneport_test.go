package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/turn/v4"
	"rsc.io/qr"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/duet-call/duet/internal/turnserver"
	"github.com/duet-call/duet/protocol"
)

// One-port mode: signaling over wss and TURN over TLS share the HTTPS
// listener. The WebSocket client sends no ALPN, so its connection is the
// peeked kind (tlsmux.Conn): the origin check must still see an HTTPS
// request and wsconn must read through TLS, not under it.
func TestOnePortSignalingAndTURN(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	ts, err := turnserver.New(turnserver.Config{Addr: "127.0.0.1:0", PublicIP: lo, RelayBind: lo, Secret: "s", ReadLoops: 1,
		MinPort: 46000, MaxPort: 46999}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Shutdown(context.Background()) })
	cfg, _, err := SelfSignedTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Config{TLS: cfg, TURN: ts.ServeConn})
	host := strings.TrimPrefix(s.URL(), "https://")
	insecure := &tls.Config{InsecureSkipVerify: true} // the mux is under test, not the certificate

	d := websocket.Dialer{TLSClientConfig: insecure, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("wss://"+host+"/ws", http.Header{"Origin": {"https://" + host}})
	if err != nil {
		t.Fatalf("wss dial with a same-origin https Origin: %v", err)
	}
	defer c.Close()
	if err := c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: "one-port"}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	var env struct{ Type string }
	if err != nil || json.Unmarshal(msg, &env) != nil || env.Type != protocol.TypeJoined {
		t.Fatalf("after join: %s, %v", msg, err)
	}
	// The room QR code encodes https:// only for a request seen as TLS.
	noALPN := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&tls.Dialer{Config: insecure}).DialContext(ctx, network, addr)
		}}}
	res, err := noALPN.Get("https://" + host + "/qr/one-port")
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want, _ := qr.Encode("https://"+host+"/r/one-port", qr.M)
	want.Scale = 6
	if !bytes.Equal(png, want.PNG()) {
		t.Fatal("the QR code of a request without ALPN does not encode an https:// link: r.TLS was not set")
	}

	tc, err := tls.Dial("tcp", host, insecure)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	user, pass, _ := turncred.Mint([]byte("s"), "x", time.Now().Add(time.Hour))
	tcl, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: host, TURNServerAddr: host, Conn: turn.NewSTUNConn(tc),
		Username: user, Password: pass, Realm: turnserver.DefaultRealm})
	if err != nil {
		t.Fatal(err)
	}
	defer tcl.Close()
	if err := tcl.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := tcl.Allocate()
	if err != nil {
		t.Fatalf("Allocate through the HTTPS port: %v", err)
	}
	defer relay.Close()
	if ra := relay.LocalAddr().(*net.UDPAddr); !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("relay address %v", ra)
	}
}
