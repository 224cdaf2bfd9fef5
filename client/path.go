package client

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/pion/webrtc/v4"
)

// Path is the ICE candidate pair a call's media and chat flow over: which
// way through the network ICE chose. Relay on either end means the media
// goes through a TURN server.
type Path struct {
	Local, Remote PathEnd
}

// PathEnd is one candidate of a Path.
type PathEnd struct {
	Type     string // host, srflx, prflx or relay
	Address  string // ip:port
	Protocol string // the candidate's transport: udp or tcp
	// RelayProtocol is how this peer reaches its TURN server (udp, tcp,
	// tls) for a local relay candidate, and empty otherwise.
	RelayProtocol string
}

// Path reports the candidate pair ICE selected with the current peer. It
// fails with ErrNotConnected while no pair is selected.
func (c *Call) Path(ctx context.Context) (Path, error) {
	var pc *webrtc.PeerConnection
	err := c.do(ctx, func() error {
		if c.peer == nil {
			return ErrNotConnected
		}
		pc = c.peer.pc
		return nil
	})
	if err != nil {
		return Path{}, err
	}
	// pion is safe for concurrent use; the loop only lent us the pointer.
	sctp := pc.SCTP()
	if sctp == nil {
		return Path{}, ErrNotConnected
	}
	pair, ok := sctp.Transport().ICETransport().GetSelectedCandidatePairStats()
	if !ok {
		return Path{}, ErrNotConnected
	}
	report := pc.GetStats()
	local, ok1 := report[pair.LocalCandidateID].(webrtc.ICECandidateStats)
	remote, ok2 := report[pair.RemoteCandidateID].(webrtc.ICECandidateStats)
	if !ok1 || !ok2 {
		return Path{}, fmt.Errorf("duet: selected pair %s has no candidate stats: %w", pair.ID, ErrNotConnected)
	}
	return Path{Local: pathEnd(local), Remote: pathEnd(remote)}, nil
}

func pathEnd(s webrtc.ICECandidateStats) PathEnd {
	return PathEnd{
		Type:          s.CandidateType.String(),
		Address:       net.JoinHostPort(s.IP, strconv.Itoa(int(s.Port))),
		Protocol:      s.Protocol,
		RelayProtocol: s.RelayProtocol,
	}
}

// String is the path as `duet peer` prints it, key=value pairs.
func (p Path) String() string {
	s := fmt.Sprintf("local=%s remote=%s local-addr=%s remote-addr=%s protocol=%s",
		p.Local.Type, p.Remote.Type, p.Local.Address, p.Remote.Address, p.Local.Protocol)
	if p.Local.RelayProtocol != "" {
		s += " relay-protocol=" + p.Local.RelayProtocol
	}
	return s
}
