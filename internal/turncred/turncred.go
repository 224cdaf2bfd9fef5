// Package turncred implements the TURN REST credential scheme that coturn
// calls use-auth-secret / static-auth-secret (draft-uberti-behave-turn-rest):
// the username is "<expiry-unix-time>:<user>" and the password is
// base64(HMAC-SHA1(secret, username)). The server needs no database: anyone
// holding the secret can mint a credential, and the server checks it by
// recomputing the HMAC and comparing the expiry with its clock.
package turncred

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // RFC 5389 long-term credentials are defined with MD5.
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is defined with HMAC-SHA1.
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Parse and Verify. The TURN server counts refusals by
// these, so each names one reason.
var (
	ErrMalformed   = errors.New("turncred: malformed username")
	ErrExpired     = errors.New("turncred: credential expired")
	ErrBadPassword = errors.New("turncred: wrong password")
)

// MaxUsernameLen bounds a username. STUN allows 513 bytes for USERNAME; a
// REST username is a 10–19 digit time, a colon and a short user id.
const MaxUsernameLen = 513

// maxTimeDigits keeps the expiry within int64 seconds.
const maxTimeDigits = 18

// NewSecret returns a random secret suitable for --turn-secret: 32 bytes,
// URL-safe base64 so it can be pasted into a coturn config unchanged.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("turncred: generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Password is base64(HMAC-SHA1(secret, username)), the password coturn expects
// for username.
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Mint returns a username and password for user that expire at expiry. user
// must not contain a colon, which would make the username ambiguous to
// servers that split at the last colon.
func Mint(secret []byte, user string, expiry time.Time) (username, password string, err error) {
	if strings.ContainsRune(user, ':') {
		return "", "", fmt.Errorf("%w: user id %q contains ':'", ErrMalformed, user)
	}
	username = strconv.FormatInt(expiry.Unix(), 10)
	if user != "" {
		username += ":" + user
	}
	if len(username) > MaxUsernameLen {
		return "", "", fmt.Errorf("%w: %d bytes", ErrMalformed, len(username))
	}
	return username, Password(secret, username), nil
}

// Parse splits a REST username into its expiry and user id. The expiry is
// decimal digits only (no sign, space or exponent); the user part may be
// empty or absent, as coturn accepts a bare timestamp.
func Parse(username string) (expiry time.Time, user string, err error) {
	if len(username) == 0 || len(username) > MaxUsernameLen {
		return time.Time{}, "", fmt.Errorf("%w: length %d", ErrMalformed, len(username))
	}
	ts, user, _ := strings.Cut(username, ":")
	if ts == "" || len(ts) > maxTimeDigits {
		return time.Time{}, "", fmt.Errorf("%w: expiry %q", ErrMalformed, ts)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return time.Time{}, "", fmt.Errorf("%w: expiry %q", ErrMalformed, ts)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: expiry %q: %v", ErrMalformed, ts, err)
	}
	return time.Unix(sec, 0), user, nil
}

// Check parses username and refuses it when it has expired at now. It is what
// a server runs before it trusts the HMAC: the password it derives is only
// valid for an unexpired username.
func Check(username string, now time.Time) error {
	expiry, _, err := Parse(username)
	if err != nil {
		return err
	}
	if !now.Before(expiry) {
		return fmt.Errorf("%w at %s", ErrExpired, expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

// Verify checks a username/password pair at now: well formed, not expired,
// and the password is the HMAC of the username.
func Verify(secret []byte, username, password string, now time.Time) error {
	if err := Check(username, now); err != nil {
		return err
	}
	want := Password(secret, username)
	if subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return ErrBadPassword
	}
	return nil
}

// Key is the RFC 5389 long-term credential key MD5(username:realm:password)
// for a REST username: what a TURN server checks MESSAGE-INTEGRITY with.
func Key(secret []byte, username, realm string) []byte {
	h := md5.New() //nolint:gosec // required by RFC 5389 §15.4.
	h.Write([]byte(username + ":" + realm + ":" + Password(secret, username)))
	return h.Sum(nil)
}
