package turnserver

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
)

// The permission and relayed-byte counters match what a real client did,
// over UDP (fast path once the channel is bound, pion's Send and Data
// indications before) and over TCP (pion relays everything, through
// tcpConn).
func TestRelayedStats(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			s := startServer(t, allowLoopback)
			u, p := creds(t, "alice", time.Hour)
			var c *turn.Client
			if transport == "udp" {
				c = newClient(t, s, u, p)
			} else {
				conn, err := net.Dial("tcp", s.TCPAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				c = clientOn(t, turn.NewSTUNConn(conn), s.TCPAddr().String(), u, p)
			}
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			defer relay.Close()
			peer := listenLoopback(t, 0)
			peerAddr := peer.LocalAddr().(*net.UDPAddr)

			// pion reports a permission before it answers the request, so
			// the counts are exact as soon as CreatePermission returns.
			wantPerms := func(live int, created uint64) {
				t.Helper()
				if st := s.Stats(); st.Permissions != live || st.PermissionsCreated != created {
					t.Fatalf("Permissions = %d, PermissionsCreated = %d; want %d, %d",
						st.Permissions, st.PermissionsCreated, live, created)
				}
			}
			wantPerms(0, 0)
			if err := c.CreatePermission(peerAddr); err != nil {
				t.Fatalf("CreatePermission: %v", err)
			}
			wantPerms(1, 1)
			// The same IP on another port refreshes that permission: not new.
			if err := c.CreatePermission(&net.UDPAddr{IP: peerAddr.IP, Port: peerAddr.Port + 1}); err != nil {
				t.Fatalf("CreatePermission again: %v", err)
			}
			wantPerms(1, 1)
			if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}); err != nil {
				t.Fatalf("CreatePermission 127.0.0.2: %v", err)
			}
			wantPerms(2, 2)

			// Odd sizes: ChannelData and DATA are padded on the wire, and
			// the padding is not payload. At least 5 bytes: pion's
			// STUNConn waits for a 9th byte before it frames a TCP
			// message, so a ChannelData of 4 bytes or less stalls there.
			var toPeer, toClient uint64
			buf := make([]byte, 2048)
			for i := range 20 {
				msg := bytes.Repeat([]byte{byte(i)}, 7+i*61)
				if _, err := relay.WriteTo(msg, peerAddr); err != nil {
					t.Fatalf("relay WriteTo: %v", err)
				}
				_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, from, err := peer.ReadFrom(buf)
				if err != nil || !bytes.Equal(buf[:n], msg) {
					t.Fatalf("peer got %d bytes (%v), want %d", n, err, len(msg))
				}
				toPeer += uint64(n)

				reply := msg[:len(msg)-2]
				if _, err := peer.WriteTo(reply, from); err != nil {
					t.Fatal(err)
				}
				_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _, err = relay.ReadFrom(buf)
				if err != nil || !bytes.Equal(buf[:n], reply) {
					t.Fatalf("client got %d bytes (%v), want %d", n, err, len(reply))
				}
				toClient += uint64(n)
				if i == 0 && transport == "udp" {
					// pion's client binds a channel after its first send;
					// from then on the peer's datagrams take the fast path.
					waitFor(t, func() bool { return channels(s) == 1 })
				}
			}
			// The relay counts after its write returns, which may be after
			// the datagram arrived; wait for the count to reach the total,
			// then require it exact (an overcount would pass the wait).
			waitFor(t, func() bool {
				st := s.Stats()
				return st.RelayedBytesToPeer >= toPeer && st.RelayedBytesToClient >= toClient
			})
			if st := s.Stats(); st.RelayedBytesToPeer != toPeer || st.RelayedBytesToClient != toClient {
				t.Fatalf("relayed to peer %d, to client %d; want %d, %d",
					st.RelayedBytesToPeer, st.RelayedBytesToClient, toPeer, toClient)
			}
			// The permissions go with the allocation; the counter stays.
			// pion removes them before it closes the relay socket.
			relay.Close()
			waitFor(t, func() bool { return s.relays.Load() == 0 })
			wantPerms(0, 2)
		})
	}
}

func channels(s *Server) int {
	m := s.channels.p.Load()
	if m == nil {
		return 0
	}
	return len(*m)
}

// payloadToClient finds the payload in what pion writes to clients.
func TestPayloadToClient(t *testing.T) {
	dataInd := func(peer net.IP, data []byte) []byte {
		m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodData, stun.ClassIndication),
			xorPeer{peer}, rawAttr{stun.AttrData, data}, stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		return m.Raw
	}
	ok, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse),
		rawAttr{stun.AttrData, []byte("not relayed")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
		want int
	}{
		{"channel data padded", []byte{0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0}, 3},
		{"channel data empty", []byte{0x7f, 0xff, 0x00, 0x00}, 0},
		{"data indication v4 odd", dataInd(net.IPv4(127, 0, 0, 1), []byte("hello")), 5},
		{"data indication v6", dataInd(net.ParseIP("2001:db8::1"), make([]byte, 1200)), 1200},
		{"data indication empty", dataInd(net.IPv4(127, 0, 0, 1), nil), 0},
		{"other STUN message", ok.Raw, 0},
		{"data indication truncated", dataInd(net.IPv4(127, 0, 0, 1), []byte("hello"))[:30], 0},
		{"short", []byte{0x40}, 0},
	}
	for _, tc := range tests {
		if got := payloadToClient(tc.b); got != tc.want {
			t.Errorf("%s: payloadToClient = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// rawAttr adds an attribute as it is, for messages pion's setters cannot make.
type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (a rawAttr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

// xorPeer is XOR-PEER-ADDRESS, which has XOR-MAPPED-ADDRESS's encoding.
type xorPeer struct{ ip net.IP }

func (a xorPeer) AddTo(m *stun.Message) error {
	return (&stun.XORMappedAddress{IP: a.ip, Port: 9}).AddToAs(m, stun.AttrXORPeerAddress)
}
