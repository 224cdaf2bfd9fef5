package signal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// A resume token lets a peer take its place back after its connection drops
// or the server restarts. It is self-contained, so a restarted server with
// the same secret rebuilds the room from the peers' resumes:
//
//	base64url( ver(1)=2 | expiry unix s (8) | polite (1) | gen (4) |
//	           life (8) | len(node) (1) | node | peer id (16) | room | mac(16) )
//
// mac is HMAC-SHA256 over everything before it, cut to 16 bytes. Version 1
// tokens (no gen, life or node) are still read, as generation 0 from an
// earlier life.
//
// Each token is good for one resume. gen counts the resumes of a place: a
// resume with generation g gets a token of g+1, and the place remembers
// g+1, so the older token no longer matches it. life is the random id of
// the hub that issued the token, node its node on the bus: a hub that
// issued a token and no longer holds its place knows the place was ended
// (a leave, a grace that ran out, a newer resume), while a token from
// another life (before a restart) or from a node that is gone rebuilds its
// place. docs/protocol.md (Resume) says what is guaranteed.
const (
	tokenVersion   = 2
	tokenVersionV1 = 1
	peerIDLen      = 16
	lifeLen        = 8
	macLen         = 16
	tokenHeadV1    = 1 + 8 + 1 + peerIDLen
	maxNodeLen     = 64
)

type resumeToken struct {
	expiry time.Time
	polite bool
	gen    uint32
	life   [lifeLen]byte // zero for a version 1 token
	node   string
	peerID string // base64url of peerIDLen random bytes
	room   string
}

func newPeerID() string {
	b := make([]byte, peerIDLen)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newLife() (l [lifeLen]byte) {
	rand.Read(l[:])
	return l
}

// mintToken signs t, issued by this hub: its life and node are filled in.
func (h *Hub) mintToken(t resumeToken) string {
	id, err := base64.RawURLEncoding.DecodeString(t.peerID)
	if err != nil || len(id) != peerIDLen {
		panic("signal: malformed peer id")
	}
	node := h.node
	if len(node) > maxNodeLen {
		node = node[:maxNodeLen]
	}
	buf := make([]byte, 0, 1+8+1+4+lifeLen+1+len(node)+peerIDLen+len(t.room)+macLen)
	buf = append(buf, tokenVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.expiry.Unix()))
	if t.polite {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = binary.BigEndian.AppendUint32(buf, t.gen)
	buf = append(buf, h.life[:]...)
	buf = append(buf, byte(len(node)))
	buf = append(buf, node...)
	buf = append(buf, id...)
	buf = append(buf, t.room...)
	buf = append(buf, h.tokenMAC(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// parseToken returns the token's contents if its MAC checks and it has not
// expired; otherwise ok is false and the join proceeds as a fresh one.
func (h *Hub) parseToken(s string, now time.Time) (t resumeToken, ok bool) {
	if len(s) > 300 {
		return t, false
	}
	buf, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(buf) < tokenHeadV1+macLen {
		return t, false
	}
	body, mac := buf[:len(buf)-macLen], buf[len(buf)-macLen:]
	if !hmac.Equal(mac, h.tokenMAC(body)) {
		return t, false
	}
	t.expiry = time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	if now.After(t.expiry) {
		return t, false
	}
	t.polite = body[9] == 1
	rest := body[10:]
	switch body[0] {
	case tokenVersionV1:
	case tokenVersion:
		if len(rest) < 4+lifeLen+1 {
			return t, false
		}
		t.gen = binary.BigEndian.Uint32(rest)
		copy(t.life[:], rest[4:])
		n := int(rest[4+lifeLen])
		rest = rest[4+lifeLen+1:]
		if len(rest) < n+peerIDLen {
			return t, false
		}
		t.node, rest = string(rest[:n]), rest[n:]
	default:
		return t, false
	}
	t.peerID = base64.RawURLEncoding.EncodeToString(rest[:peerIDLen])
	t.room = string(rest[peerIDLen:])
	return t, true
}

func (h *Hub) tokenMAC(b []byte) []byte {
	m := hmac.New(sha256.New, h.cfg.ResumeSecret)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// resumableLocked reports whether, as far as this hub knows, t may take its
// place back in room r (nil: no such room here). A place held here (live
// or ghost) goes back only to a token at least as new as the one it was
// last given. A place this hub's own life issued the token for and no
// longer holds was ended here. Anything else (a token from before a
// restart, or from another node) is for the bus to settle.
func (h *Hub) resumableLocked(r *room, t resumeToken) bool {
	if r != nil {
		for _, p := range r.peers {
			if p != nil && p.remote == "" && p.peerID == t.peerID {
				return t.gen >= p.gen
			}
		}
	}
	return t.life != h.life
}
