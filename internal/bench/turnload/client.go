// Package turnload is a load generator for TURN relays: K allocations with
// TURN REST credentials send ChannelData at a chosen rate to a sink peer
// through the relay, and the sink counts what arrives. It speaks plain TURN,
// so it measures duet's embedded server, coturn, or anything else alike.
//
// It does the TURN handshake itself with pion/stun rather than through
// pion/turn's client, whose data path copies every datagram through a
// channel: the load generator must cost much less CPU than the server it
// measures, on the same machine.
package turnload

import (
	"crypto/md5" //nolint:gosec // RFC 5389 long-term credential key.
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/pion/stun/v3"
)

// channel is the TURN channel number every allocation binds (each client has
// its own socket, so they need not differ).
const channel = 0x4000

// allocation is one client socket with an allocation and a channel bound to
// the sink.
type allocation struct {
	conn   *net.UDPConn // connected to the TURN server (UDP)
	stream *stream      // or TURN over TLS
	relay  *net.UDPAddr
	auth   []stun.Setter // username, realm, nonce, integrity, fingerprint
}

// writer is where pace sends: the UDP socket or the TLS stream.
func (a *allocation) writer() interface{ Write([]byte) (int, error) } {
	if a.stream != nil {
		return a.stream
	}
	return a.conn
}

// allocate performs Allocate (with the 401 nonce round) and ChannelBind to
// peer, with a REST credential for user.
func allocate(server *net.UDPAddr, secret, user string, peer *net.UDPAddr, sockBuf int) (*allocation, error) {
	conn, err := net.DialUDP("udp4", nil, server)
	if err != nil {
		return nil, fmt.Errorf("turnload: dial %v: %w", server, err)
	}
	forceBuffers(conn, sockBuf)
	a := &allocation{conn: conn}
	if err := a.handshake(secret, user, peer); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return a, nil
}

var reqTransportUDP = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

func (a *allocation) handshake(secret, user string, peer *net.UDPAddr) error {
	res, err := a.roundTrip(stun.MustBuild(stun.TransactionID,
		stun.NewType(stun.MethodAllocate, stun.ClassRequest), reqTransportUDP, stun.Fingerprint))
	if err != nil {
		return fmt.Errorf("turnload: allocate: %w", err)
	}
	var nonce stun.Nonce
	var realm stun.Realm
	if nonce.GetFrom(res) != nil || realm.GetFrom(res) != nil {
		return errors.New("turnload: allocate: no nonce/realm in the challenge")
	}
	username, password, err := turncred.Mint([]byte(secret), user, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	key := md5.Sum([]byte(username + ":" + realm.String() + ":" + password)) //nolint:gosec
	auth := []stun.Setter{stun.NewUsername(username), realm, nonce, stun.MessageIntegrity(key[:]), stun.Fingerprint}

	res, err = a.roundTrip(stun.MustBuild(append([]stun.Setter{stun.TransactionID,
		stun.NewType(stun.MethodAllocate, stun.ClassRequest), reqTransportUDP}, auth...)...))
	if err != nil {
		return fmt.Errorf("turnload: allocate: %w", err)
	}
	if err := wantSuccess(res); err != nil {
		return fmt.Errorf("turnload: allocate: %w", err)
	}
	var relay stun.XORMappedAddress
	if err := relay.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
		return fmt.Errorf("turnload: allocate: relayed address: %w", err)
	}
	a.relay = &net.UDPAddr{IP: relay.IP, Port: relay.Port}
	a.auth = auth
	if peer == nil {
		return nil // allocation only (AllocRate)
	}

	peerAttr := stun.XORMappedAddress{IP: peer.IP, Port: peer.Port}
	bind := stun.MustBuild(append([]stun.Setter{stun.TransactionID,
		stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{channel >> 8, channel & 0xff, 0, 0}},
		setterFunc(func(m *stun.Message) error { return peerAttr.AddToAs(m, stun.AttrXORPeerAddress) })},
		auth...)...)
	res, err = a.roundTrip(bind)
	if err != nil {
		return fmt.Errorf("turnload: channel bind: %w", err)
	}
	if err := wantSuccess(res); err != nil {
		return fmt.Errorf("turnload: channel bind to %v: %w", peer, err)
	}
	return nil
}

type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }

func wantSuccess(m *stun.Message) error {
	if m.Type.Class == stun.ClassSuccessResponse {
		return nil
	}
	var code stun.ErrorCodeAttribute
	if code.GetFrom(m) == nil {
		return fmt.Errorf("error %d %s", code.Code, code.Reason)
	}
	return fmt.Errorf("unexpected %v", m.Type)
}

// roundTrip sends req and returns the response with its transaction id,
// retransmitting a few times (UDP).
func (a *allocation) roundTrip(req *stun.Message) (*stun.Message, error) {
	if a.stream != nil {
		return a.stream.roundTrip(req)
	}
	buf := make([]byte, 1500)
	for try := 0; try < 4; try++ {
		if _, err := a.conn.Write(req.Raw); err != nil {
			return nil, err
		}
		_ = a.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, err := a.conn.Read(buf)
			if err != nil {
				break // timeout: retransmit
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() == nil && res.TransactionID == req.TransactionID {
				_ = a.conn.SetReadDeadline(time.Time{})
				return res, nil
			}
		}
	}
	return nil, errors.New("no response")
}

// close closes the socket; servers reclaim a UDP allocation when it
// expires, a TLS one with its connection (see release).
func (a *allocation) close() {
	if a.stream != nil {
		_ = a.stream.Close()
		return
	}
	_ = a.conn.Close()
}

// release frees the allocation at once (Refresh with LIFETIME 0) and
// closes the socket.
func (a *allocation) release() error {
	defer a.close()
	if a.stream != nil {
		return nil // the server deletes it with the connection
	}
	lifetime := stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 0, 0}}
	res, err := a.roundTrip(stun.MustBuild(append([]stun.Setter{stun.TransactionID,
		stun.NewType(stun.MethodRefresh, stun.ClassRequest), lifetime}, a.auth...)...))
	if err != nil {
		return fmt.Errorf("turnload: refresh: %w", err)
	}
	var code stun.ErrorCodeAttribute
	if code.GetFrom(res) == nil && code.Code == stun.CodeAllocMismatch {
		// A retransmitted Refresh whose first copy freed it already.
		return nil
	}
	return wantSuccess(res)
}

// channelData frames payload for the bound channel; len(payload) must be a
// multiple of 4 (no padding is added).
func channelData(payload []byte) []byte {
	b := make([]byte, 4+len(payload))
	b[0], b[1] = channel>>8, channel&0xff
	b[2], b[3] = byte(len(payload)>>8), byte(len(payload))
	copy(b[4:], payload)
	return b
}
