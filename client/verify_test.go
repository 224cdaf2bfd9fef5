package client

import (
	"errors"
	"testing"
)

func TestVerifyCodeFromSDP(t *testing.T) {
	// Two descriptions as browsers write them: the fingerprint at session
	// level in one, at media level and in lower case in the other.
	const a = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	const b = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
		"a=fingerprint:SHA-256 01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef\r\n"
	// Computed outside Go from the definition in docs/protocol.md:
	// python3: sorted fingerprints joined by "\n", SHA-256, first 4 bytes
	// big-endian mod 1e6.
	const want = "138 104"
	tests := []struct {
		name       string
		x, y, code string
		err        error
	}{
		{"offer then answer", a, b, want, nil},
		{"answer then offer", b, a, want, nil},
		{"no fingerprint", a, "v=0\r\n", "", ErrNoFingerprint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyCodeFromSDP(tc.x, tc.y)
			if !errors.Is(err, tc.err) || got != tc.code {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.code, tc.err)
			}
		})
	}
	// A different certificate on either side gives a different code.
	c := "a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EE\r\n"
	if got, _ := VerifyCodeFromSDP(a, c); got == want {
		t.Fatalf("a swapped certificate kept the code %q", got)
	}
}
