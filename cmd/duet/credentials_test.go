package main

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"

	"github.com/duet-call/duet/protocol"
)

// The relay credentials of joined open allocations while their place is
// held, and stop as soon as it is given up: a credential copied out of a
// call is no relay for anyone once the call is over. Before, any GET of
// /api/ice-servers handed out an hour's credential to anybody.
func TestRelayCredentialsLastAsLongAsThePlace(t *testing.T) {
	base, _ := startServe(t, "--turn-addr", "127.0.0.1:0", "--turn-tls-addr", "")
	c := wsJoin(t, base, "creds")
	// wsJoin consumed joined; join again elsewhere to read the credentials.
	c.WriteJSON(&protocol.Leave{Type: protocol.TypeLeave})
	b, _ := protocol.Encode(&protocol.Join{V: protocol.Version, Room: "creds2"})
	c.WriteMessage(1, b)
	j, ok := wsNext(t, c).(*protocol.Joined)
	if !ok {
		t.Fatal("second join refused")
	}
	var addr, user, pass string
	for _, s := range j.ICEServers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "transport=udp") {
				addr = strings.TrimSuffix(strings.TrimPrefix(u, "turn:"), "?transport=udp")
				user, pass = s.Username, s.Credential
			}
		}
	}
	if addr == "" || !strings.HasSuffix(user, ":"+j.PeerID) {
		t.Fatalf("joined's ICE servers %+v: want a turn: URL with a credential for the place %s", j.ICEServers, j.PeerID)
	}
	if err := allocate(t, addr, user, pass); err != nil {
		t.Fatalf("allocation with the credentials of a place in a room: %v", err)
	}
	c.WriteJSON(&protocol.Leave{Type: protocol.TypeLeave})
	c.WriteJSON(&protocol.Ping{Type: protocol.TypePing})
	if _, ok := wsNext(t, c).(*protocol.Pong); !ok {
		t.Fatal("no pong after leave")
	}
	err := allocate(t, addr, user, pass)
	var te *stun.TurnError
	if !errors.As(err, &te) || te.ErrorCodeAttr.Code != stun.CodeForbidden {
		t.Fatalf("allocation after the place was given up: %v, want 403", err)
	}
}

func allocate(t *testing.T, addr, user, pass string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: "duet", RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		relay.Close()
	}
	return err
}
