package turncred

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v4"
)

// The vectors were computed with openssl, independently of this package:
//
//	printf '%s' 1732500000:alice | openssl dgst -sha1 -hmac north-wind -binary | base64
//	echo -n "1732500000:alice:duet:<that>" | md5sum
func TestPasswordAndKeyVectors(t *testing.T) {
	secret := []byte("north-wind")
	if got, want := Password(secret, "1732500000:alice"), "3vKFS8VXIoaD7/BCguzVJ5DeRko="; got != want {
		t.Fatalf("Password = %q, want %q", got, want)
	}
	if got, want := hex.EncodeToString(Key(secret, "1732500000:alice", "duet")), "16d7105296eea23e3393fdbb1d29ed37"; got != want {
		t.Fatalf("Key = %s, want %s", got, want)
	}
}

// pion/turn's own REST helper is a second, independent implementation.
func TestMintMatchesPion(t *testing.T) {
	secret := "s3cr3t"
	u, p, err := turn.GenerateLongTermTURNRESTCredentials(secret, "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify([]byte(secret), u, p, time.Now()); err != nil {
		t.Fatalf("Verify(pion credential %q) = %v", u, err)
	}
	exp, user, err := Parse(u)
	if err != nil || user != "bob" {
		t.Fatalf("Parse(%q) = %v, %q, %v", u, exp, user, err)
	}
	mu, mp, err := Mint([]byte(secret), "bob", exp)
	if err != nil || mu != u || mp != p {
		t.Fatalf("Mint = %q, %q, %v; pion made %q, %q", mu, mp, err, u, p)
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_700_000_000, 0)
	good, goodPw, _ := Mint(secret, "u1", now.Add(time.Hour))
	old, oldPw, _ := Mint(secret, "u1", now.Add(-time.Second))
	edge, edgePw, _ := Mint(secret, "u1", now)
	tests := []struct {
		name, user, pass string
		want             error
	}{
		{"valid", good, goodPw, nil},
		{"wrong password", good, Password([]byte("other"), good), ErrBadPassword},
		{"empty password", good, "", ErrBadPassword},
		{"expired", old, oldPw, ErrExpired},
		{"expires now", edge, edgePw, ErrExpired},
		{"tampered user", strings.Replace(good, "u1", "u2", 1), goodPw, ErrBadPassword},
		{"tampered expiry", "9" + good, goodPw, ErrBadPassword},
		{"malformed", "alice", Password(secret, "alice"), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(secret, tc.user, tc.pass, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify(%q) = %v, want %v", tc.user, err, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		wantSec  int64
		wantUser string
		ok       bool
	}{
		{"1732500000:alice", 1732500000, "alice", true},
		{"1732500000", 1732500000, "", true},
		{"1732500000:", 1732500000, "", true},
		{"0:x", 0, "x", true},
		{"1732500000:a:b", 1732500000, "a:b", true}, // only the first colon splits
		{"1732500000:ünï", 1732500000, "ünï", true},
		{"", 0, "", false},
		{":alice", 0, "", false},
		{"alice:1732500000", 0, "", false},
		{"-1:alice", 0, "", false},
		{"+1732500000:a", 0, "", false},
		{" 1732500000:a", 0, "", false},
		{"1732500000 :a", 0, "", false},
		{"1e9:a", 0, "", false},
		{"0x10:a", 0, "", false},
		{"１２３:a", 0, "", false}, // full-width digits are not ASCII digits
		{"1234567890123456789:a", 0, "", false},
		{"99999999999999999999999:a", 0, "", false},
		{"1732500000\x00:a", 0, "", false},
		{strings.Repeat("1", 10) + ":" + strings.Repeat("u", MaxUsernameLen), 0, "", false},
	}
	for _, tc := range tests {
		exp, user, err := Parse(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("Parse(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) err = %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if exp.Unix() != tc.wantSec || user != tc.wantUser {
			t.Errorf("Parse(%q) = %d, %q; want %d, %q", tc.in, exp.Unix(), user, tc.wantSec, tc.wantUser)
		}
	}
}

func TestMintRejectsColon(t *testing.T) {
	if _, _, err := Mint([]byte("k"), "a:b", time.Now()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Mint(user with colon) err = %v, want ErrMalformed", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) < 40 || a == b {
		t.Fatalf("NewSecret gave %q and %q", a, b)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// round-trips through Mint.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1732500000:alice", "1", ":", "", "1:2:3", "-0:x", "9999999999999999999", "12\xff:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, user, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) err = %v, not ErrMalformed", s, err)
			}
			return
		}
		if exp.Unix() < 0 || len(s) > MaxUsernameLen {
			t.Fatalf("Parse(%q) accepted expiry %d", s, exp.Unix())
		}
		if strings.ContainsRune(user, ':') {
			return // accepted on parse, but we never mint such names
		}
		u, _, err := Mint([]byte("k"), user, exp)
		if err != nil {
			t.Fatalf("Mint(%q, %d) = %v", user, exp.Unix(), err)
		}
		e2, u2, err := Parse(u)
		if err != nil || !e2.Equal(exp) || u2 != user {
			t.Fatalf("round trip %q -> %q -> %v %q %v", s, u, e2, u2, err)
		}
	})
}
