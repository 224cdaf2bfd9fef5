package client

// State is where a call stands. A call moves Waiting → Connecting →
// Connected, back to PeerLeft (and Connecting again) as peers come and go,
// and ends in Closed; Failed reports an ICE/DTLS failure with the current
// peer, after which the call waits for the peer to leave or rejoin.
type State int

const (
	StateWaiting    State = iota // joined, alone in the room
	StateConnecting              // the peer is present; negotiating
	StateConnected               // ICE and DTLS are up with the peer
	StatePeerLeft                // the peer left; waiting for the next one
	StateFailed                  // ICE or DTLS failed with the current peer
	StateClosed                  // the call is over; see Call.Err
)

var stateNames = [...]string{"waiting", "connecting", "connected", "peer-left", "failed", "closed"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}
