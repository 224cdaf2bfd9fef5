package natsbus

import (
	"encoding/binary"
	"errors"

	"github.com/duet-call/duet/internal/bus"
)

// The wire form of a bus.Envelope between nodes. Binary rather than JSON:
// a relayed offer is the bulk of it and is carried as is.
//
//	ver(1) kind(1) flags(1) then, each as uvarint length + bytes:
//	room, to, from, fromNode, reason, data
const codecVersion = 1

const (
	flagPolite  = 1 << 0
	flagResumed = 1 << 1
)

var errBadEnvelope = errors.New("natsbus: malformed envelope")

func encode(e bus.Envelope) []byte {
	n := 3 + 6*binary.MaxVarintLen32 + len(e.Room) + len(e.To) + len(e.From) + len(e.FromNode) + len(e.Reason) + len(e.Data)
	b := make([]byte, 0, n)
	var flags byte
	if e.Polite {
		flags |= flagPolite
	}
	if e.Resumed {
		flags |= flagResumed
	}
	b = append(b, codecVersion, byte(e.Kind), flags)
	for _, s := range []string{e.Room, e.To, e.From, e.FromNode, e.Reason} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	return append(b, e.Data...)
}

// decode parses b; Data aliases b, which the caller must not reuse.
func decode(b []byte) (bus.Envelope, error) {
	var e bus.Envelope
	if len(b) < 3 || b[0] != codecVersion || b[1] < byte(bus.Relay) || b[1] > byte(bus.Evict) {
		return e, errBadEnvelope
	}
	e.Kind, e.Polite, e.Resumed = bus.Kind(b[1]), b[2]&flagPolite != 0, b[2]&flagResumed != 0
	b = b[3:]
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, true
	}
	for _, s := range []*string{&e.Room, &e.To, &e.From, &e.FromNode, &e.Reason} {
		f, ok := field()
		if !ok {
			return e, errBadEnvelope
		}
		*s = string(f)
	}
	data, ok := field()
	if !ok || len(b) != 0 {
		return e, errBadEnvelope
	}
	if len(data) > 0 {
		e.Data = data
	}
	return e, nil
}
