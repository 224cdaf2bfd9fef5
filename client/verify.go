package client

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoFingerprint is returned by VerifyCode when a description carries no
// a=fingerprint line (no DTLS: not a duet call).
var ErrNoFingerprint = errors.New("duet: no DTLS fingerprint in the session description")

// VerifyCode returns the call's six-digit verify code, "123 456": the same
// on both sides of a call and in the web app, and different if anyone in
// the middle (a compromised signaling server included) replaced either
// side's DTLS certificate. Reading it aloud over the call proves the keys.
// It fails with ErrNotConnected until both descriptions are set. The
// derivation is in docs/protocol.md ("Verify code").
func (c *Call) VerifyCode(ctx context.Context) (string, error) {
	var local, remote string
	err := c.do(ctx, func() error {
		if c.peer == nil {
			return ErrNotConnected
		}
		l, r := c.peer.pc.CurrentLocalDescription(), c.peer.pc.CurrentRemoteDescription()
		if l == nil || r == nil {
			return ErrNotConnected
		}
		local, remote = l.SDP, r.SDP
		return nil
	})
	if err != nil {
		return "", err
	}
	return VerifyCodeFromSDP(local, remote)
}

// VerifyCodeFromSDP derives the verify code from the two session
// descriptions of a call, in either order.
func VerifyCodeFromSDP(a, b string) (string, error) {
	fa, err := sdpFingerprint(a)
	if err != nil {
		return "", err
	}
	fb, err := sdpFingerprint(b)
	if err != nil {
		return "", err
	}
	return verifyCode(fa, fb), nil
}

// sdpFingerprint is the first a=fingerprint of an SDP (session or media
// level), normalised to "<algorithm lower-case> <HEX:UPPER>".
func sdpFingerprint(sdp string) (string, error) {
	for line := range strings.Lines(sdp) {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:")
		if !ok {
			continue
		}
		alg, hash, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			return "", fmt.Errorf("duet: bad fingerprint line %q", line)
		}
		return strings.ToLower(alg) + " " + strings.ToUpper(strings.TrimSpace(hash)), nil
	}
	return "", ErrNoFingerprint
}

// verifyCode: the two normalised fingerprints sorted, joined by "\n",
// SHA-256; the first four bytes as a big-endian number modulo 1,000,000,
// printed as six digits in two groups of three.
func verifyCode(f1, f2 string) string {
	fs := []string{f1, f2}
	slices.Sort(fs)
	sum := sha256.Sum256([]byte(fs[0] + "\n" + fs[1]))
	n := binary.BigEndian.Uint32(sum[:4]) % 1_000_000
	return fmt.Sprintf("%03d %03d", n/1000, n%1000)
}
