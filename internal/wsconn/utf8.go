package wsconn

import (
	"encoding/binary"
	"unicode/utf8"
)

// RFC 6455 section 8.1: a text message must be valid UTF-8, and an endpoint
// that finds it is not closes with 1007. duet checks as the bytes arrive, a
// fragment (or the part of a frame that is here) at a time, so a bad byte
// ends the connection before the rest of the message is sent, and a
// sequence split across fragments is still read as one.

// utf8Stream checks UTF-8 (RFC 3629) that arrives in pieces. It fails at the
// first byte that cannot belong to a valid sequence, even when the sequence
// began in an earlier piece: overlong forms, surrogates (U+D800–DFFF) and
// values above U+10FFFF are refused at their second byte. The zero value is
// ready; after a complete, valid message it is zero again.
type utf8Stream struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // the range the next one must be in
}

// feed checks the next piece of a message.
func (v *utf8Stream) feed(p []byte) bool {
	i := 0
	for ; v.need > 0 && i < len(p); i++ {
		if !v.cont(p[i]) {
			return false
		}
	}
	p = p[i:]
	if len(p) == 0 {
		return true
	}
	// Whole sequences go to the standard library's checker, which is fast
	// on ASCII; only a sequence cut off at the end of p is walked here and
	// carried over to the next piece.
	cut := incompleteTail(p)
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if !v.step(b) {
			return false
		}
	}
	return true
}

// complete reports whether the message may end here: no sequence is cut.
func (v *utf8Stream) complete() bool { return v.need == 0 }

// step takes one byte, starting a sequence when none is open.
func (v *utf8Stream) step(b byte) bool {
	if v.need > 0 {
		return v.cont(b)
	}
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
		return true
	case b >= 0xC2 && b <= 0xDF:
		v.need = 1
	case b == 0xE0:
		v.need, v.lo = 2, 0xA0 // below A0 is an overlong form
	case b == 0xED:
		v.need, v.hi = 2, 0x9F // above 9F is a surrogate
	case b >= 0xE1 && b <= 0xEF:
		v.need = 2
	case b == 0xF0:
		v.need, v.lo = 3, 0x90 // below 90 is an overlong form
	case b >= 0xF1 && b <= 0xF3:
		v.need = 3
	case b == 0xF4:
		v.need, v.hi = 3, 0x8F // above 8F is beyond U+10FFFF
	default: // a continuation byte with no lead, C0, C1, F5–FF
		return false
	}
	return true
}

// cont takes one continuation byte of an open sequence.
func (v *utf8Stream) cont(b byte) bool {
	if b < v.lo || b > v.hi {
		return false
	}
	v.need--
	v.lo, v.hi = 0x80, 0xBF
	return true
}

// incompleteTail returns where a sequence that p does not finish begins, or
// len(p) if p ends on a sequence boundary (or on bytes that are invalid
// anyway, which utf8.Valid then reports).
func incompleteTail(p []byte) int {
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		b := p[j]
		if b&0xC0 == 0x80 {
			continue // a continuation byte: its lead is further back
		}
		n := 0
		switch {
		case b >= 0xC2 && b <= 0xDF:
			n = 2
		case b >= 0xE0 && b <= 0xEF:
			n = 3
		case b >= 0xF0 && b <= 0xF4:
			n = 4
		}
		if n > len(p)-j {
			return j
		}
		return len(p)
	}
	return len(p)
}

// unmaskText is unmask for a text payload at offset off of its frame's
// payload: it also reports whether every byte is ASCII, which lets the
// UTF-8 check be skipped. The test costs one OR per eight bytes on top of
// the XOR (BenchmarkTextCheck).
func unmaskText(p []byte, key [4]byte, off int) (ascii bool) {
	key = [4]byte{key[off&3], key[(off+1)&3], key[(off+2)&3], key[(off+3)&3]}
	k := binary.LittleEndian.Uint32(key[:])
	k8 := uint64(k) | uint64(k)<<32
	var high uint64
	i := 0
	for ; i+8 <= len(p); i += 8 {
		w := binary.LittleEndian.Uint64(p[i:]) ^ k8
		binary.LittleEndian.PutUint64(p[i:], w)
		high |= w
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
		high |= uint64(p[i])
	}
	return high&0x8080808080808080 == 0
}
