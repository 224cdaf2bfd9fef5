package protocol

// A room's other place may be held not by a person's app but by a media
// tool through duet's WHIP or WHEP endpoint (docs/whip.md). Such a place
// is announced by PeerKind in joined and peer-joined, and it differs from
// a person's in two ways the peer beside it must respect:
//
//   - It only offers, never answers: the tool sent its SDP offer over
//     HTTP and has no way to receive one. The peer answers that offer and
//     never sends one of its own (no renegotiation, no ICE restart; the
//     tool restarts ICE itself). An offer sent anyway is refused with
//     CodeOfferRefused.
//   - The person may send it away with Dismiss.

// Kinds of peer in Joined.PeerKind and PeerJoined.PeerKind.
const (
	KindWHIP = "whip" // a WHIP publisher (RFC 9725): it sends media, takes none
	KindWHEP = "whep" // a WHEP player: it takes what this peer sends, sends none
)

// TypeDismiss is the client message that sends a WHIP/WHEP place away.
const TypeDismiss = "dismiss"

// ReasonDismissed is the PeerLeft reason the dismissing peer gets.
const ReasonDismissed = "dismissed"

// Dismiss ends the WHIP or WHEP session beside this peer and frees its
// place. It is refused with CodeCannotDismiss when the other place is
// empty or held by a person: people are not sent away.
type Dismiss struct {
	Type string `json:"type"`
}

func (Dismiss) MessageType() string { return TypeDismiss }

// Error codes of the WHIP/WHEP place (listed with the others in
// docs/protocol.md).
const (
	// CodeOfferRefused: a description of type offer was sent to a WHIP or
	// WHEP place, which cannot take one. The offer was not delivered;
	// roll it back.
	CodeOfferRefused Code = "offer-refused"
	// CodeCannotDismiss: dismiss with no WHIP or WHEP client beside you.
	CodeCannotDismiss Code = "cannot-dismiss"
)
