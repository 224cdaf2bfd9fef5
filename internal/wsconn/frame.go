package wsconn

import (
	"encoding/binary"
	"unicode/utf8"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes (RFC 6455 section 7.4.1) used by duet.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseNoStatus        = 1005 // received without a code; never sent
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseTryAgainLater   = 1013
)

// header is a parsed client frame header.
type header struct {
	fin    bool
	op     byte
	length int64
	mask   [4]byte
	size   int // bytes of the header itself
}

// frameError is a broken frame: the connection closes with code.
type frameError struct {
	code int
	text string
}

// parseHeader reads a client frame header from b. It returns ok false when
// b does not hold the whole header yet. Clients must mask every frame and
// use no extensions (none are negotiated).
func parseHeader(b []byte) (h header, ok bool, fe *frameError) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0f
	if b[0]&0x70 != 0 {
		return h, false, &frameError{CloseProtocolError, "reserved bits set"}
	}
	if b[1]&0x80 == 0 {
		return h, false, &frameError{CloseProtocolError, "client frame not masked"}
	}
	switch h.op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || b[1]&0x7f > 125 {
			return h, false, &frameError{CloseProtocolError, "bad control frame"}
		}
	default:
		return h, false, &frameError{CloseProtocolError, "unknown opcode"}
	}
	n := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		n += 2
		if len(b) < n+4 {
			return h, false, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		n += 8
		if len(b) < n+4 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return h, false, &frameError{CloseProtocolError, "bad frame length"}
		}
		h.length = int64(u)
	default:
		h.length = int64(l)
	}
	if len(b) < n+4 {
		return h, false, nil
	}
	copy(h.mask[:], b[n:])
	h.size = n + 4
	return h, true, nil
}

// unmask XORs p with the key, starting at key offset 0.
func unmask(p []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k8 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// appendHeader appends the header of an unmasked server frame with FIN
// set and an n-byte payload.
func appendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}

// appendFrame appends a whole unmasked server frame with FIN set.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	return append(appendHeader(dst, op, len(payload)), payload...)
}

// closePayload is a close frame's body: the code and a reason cut to fit
// the 125 bytes a control frame may carry.
func closePayload(code int, text string) []byte {
	if code == CloseNoStatus || code == 0 {
		return nil
	}
	if len(text) > 123 {
		text = text[:123]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	return append([]byte{byte(code >> 8), byte(code)}, text...)
}

// parseClose reads the code of a received close frame and checks it
// (RFC 6455 section 7.4).
func parseClose(p []byte) (int, *frameError) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, nil
	case len(p) == 1:
		return 0, &frameError{CloseProtocolError, "bad close frame"}
	}
	code := int(binary.BigEndian.Uint16(p))
	valid := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
	if !valid {
		return 0, &frameError{CloseProtocolError, "bad close code"}
	}
	if !utf8.Valid(p[2:]) {
		return 0, &frameError{CloseInvalidPayload, "close reason is not UTF-8"}
	}
	return code, nil
}
