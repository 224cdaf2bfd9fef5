package protocol

import (
	"errors"
	"reflect"
	"testing"
)

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
		m2, err := DecodeClient(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed %#v to %#v", m, m2)
		}
	})
}
