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
//	base64url( ver(1) | expiry unix s (8) | polite (1) | peer id (16) | room | mac(16) )
//
// mac is HMAC-SHA256 over everything before it, cut to 16 bytes.
const (
	tokenVersion = 1
	peerIDLen    = 16
	macLen       = 16
	tokenHead    = 1 + 8 + 1 + peerIDLen
)

type resumeToken struct {
	expiry time.Time
	polite bool
	peerID string // base64url of peerIDLen random bytes
	room   string
}

func newPeerID() string {
	b := make([]byte, peerIDLen)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *Hub) mintToken(t resumeToken) string {
	id, err := base64.RawURLEncoding.DecodeString(t.peerID)
	if err != nil || len(id) != peerIDLen {
		panic("signal: malformed peer id")
	}
	buf := make([]byte, 0, tokenHead+len(t.room)+macLen)
	buf = append(buf, tokenVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.expiry.Unix()))
	if t.polite {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = append(buf, id...)
	buf = append(buf, t.room...)
	buf = append(buf, h.tokenMAC(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// parseToken returns the token's contents if its MAC checks and it has not
// expired; otherwise ok is false and the join proceeds as a fresh one.
func (h *Hub) parseToken(s string, now time.Time) (t resumeToken, ok bool) {
	if len(s) > 256 {
		return t, false
	}
	buf, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(buf) < tokenHead+macLen || buf[0] != tokenVersion {
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
	t.peerID = base64.RawURLEncoding.EncodeToString(body[10:tokenHead])
	t.room = string(body[tokenHead:])
	return t, true
}

func (h *Hub) tokenMAC(b []byte) []byte {
	m := hmac.New(sha256.New, h.cfg.ResumeSecret)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}
