package signal

import (
	"time"

	"github.com/duet-call/duet/protocol"
)

// Observer hears what the hub does, for metrics. Its methods are called on
// hot paths, some with Hub.mu held: they must be quick and must not call
// back into the hub. Prometheus counters are; a nil Observer means none.
type Observer interface {
	Connected()                 // a connection was admitted
	Disconnected()              // an admitted connection ended
	Refused(code protocol.Code) // a request or connection was refused with code
	Joined(resumed bool)        // a peer took a place in a room
	Paired(wait time.Duration)  // a room became two peers; wait is since the first joined
	Left(reason string)         // a place was freed (protocol.Reason*)
	Relayed()                   // a message was queued for the partner
	// RelayTime is how long a relay took inside the server: from the
	// client's frame reaching the session to its copy being written to
	// the partner's socket (or queued, if the socket was full or the
	// partner is on another node).
	RelayTime(d time.Duration)
	Dropped()  // a relay was dropped: no partner, or it is a ghost
	Overflow() // a session's send queue was full: cut off as slow
}

type nopObserver struct{}

func (nopObserver) Connected()              {}
func (nopObserver) Disconnected()           {}
func (nopObserver) Refused(protocol.Code)   {}
func (nopObserver) Joined(bool)             {}
func (nopObserver) Paired(time.Duration)    {}
func (nopObserver) Left(string)             {}
func (nopObserver) Relayed()                {}
func (nopObserver) RelayTime(time.Duration) {}
func (nopObserver) Dropped()                {}
func (nopObserver) Overflow()               {}
