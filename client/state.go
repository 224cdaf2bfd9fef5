package client

// State is where a call stands. A call moves Waiting → Connecting →
// Connected, back to PeerLeft (and Connecting again) as peers come and go,
// and ends in Closed; Failed reports an ICE/DTLS failure with the current
// peer, after which the call waits for the peer to leave or rejoin.
// Reconnecting reports an outage being repaired: the media path broke
// after connecting and ICE is restarting, or signaling is reconnecting
// while no media path is up (a connected call stays Connected while only
// signaling is down; see Call.SignalingUp).
type State int

const (
	StateWaiting      State = iota // joined, alone in the room
	StateConnecting                // the peer is present; negotiating
	StateConnected                 // ICE and DTLS are up with the peer
	StatePeerLeft                  // the peer left; waiting for the next one
	StateFailed                    // ICE or DTLS failed with the current peer
	StateClosed                    // the call is over; see Call.Err
	StateReconnecting              // restoring a lost media path or signaling connection
)

var stateNames = [...]string{"waiting", "connecting", "connected", "peer-left", "failed", "closed", "reconnecting"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}
