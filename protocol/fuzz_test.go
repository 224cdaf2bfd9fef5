package protocol

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// maxGrowth is what a re-encoding may add: fields the sender left out
// (a candidate message without its candidate object adds 29 bytes).
const maxGrowth = 32

var knownCodes = map[Code]bool{
	CodeBadJSON: true, CodeBadMessage: true, CodeUnknownType: true, CodeBadVersion: true,
	CodeBadRoom: true, CodeNotAllowed: true,
}

// FuzzDecodeClient: any frame either decodes to a client message that
// survives an encode/decode round trip unchanged, or fails with one of the
// decoder's documented codes. Seeds live in testdata/fuzz/FuzzDecodeClient.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","v":1,"room":"abc"}`,
		`{"type":"join","v":1,"room":"abc","resume":"AQ"}`,
		`{"type":"description","description":{"type":"offer","sdp":"v=0"}}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"leave"}`, `{"type":"ping"}`, `{"type":"joined"}`, `[]`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeClient(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !knownCodes[pe.Code] {
				t.Fatalf("DecodeClient(%q) error %v has no documented code", data, err)
			}
			return
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", m, err)
		}
		// What the server relays is no longer than what it read, but for
		// a field the sender left out (an empty "sdp" or "candidate"):
		// wsconn hands over only valid UTF-8, and nothing is escaped
		// that JSON does not require.
		if utf8.Valid(data) && len(b) > len(data)+maxGrowth {
			t.Fatalf("%d bytes re-encoded to %d: %q -> %q", len(data), len(b), data, b)
		}
		m2, err := DecodeClient(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if !reflect.DeepEqual(wireFields(m), wireFields(m2)) {
			t.Fatalf("round trip changed %#v to %#v", m, m2)
		}
	})
}

// wireFields is m without what a decode keeps only for error messages: a
// Join remembers v as it was written ("1.0"), and re-encoding writes 1.
func wireFields(m any) any {
	if j, ok := m.(*Join); ok {
		c := *j
		c.vRaw = ""
		return &c
	}
	return m
}
