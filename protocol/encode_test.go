package protocol

import (
	"bytes"
	"strings"
	"testing"
)

// Encode escapes only what JSON requires: HTML's < > & and U+2028/U+2029
// go out as they are, so a relayed message keeps its size (issue 14: a
// description of "<" grew six times when each became \u003c).
func TestEncodeDoesNotEscapeHTML(t *testing.T) {
	sdp := "v=0\r\n<tag> & \u2028\u2029 \"quoted\" back\\slash \x01"
	b, err := Encode(&Description{Description: SessionDescription{Type: "offer", SDP: sdp}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"description","description":{"type":"offer","sdp":"v=0\r\n<tag> & ` + "\u2028\u2029" + ` \"quoted\" back\\slash \u0001"}}`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	m, err := DecodeClient(b)
	if err != nil || m.(*Description).Description.SDP != sdp {
		t.Fatalf("round trip: %v %+v", err, m)
	}
}

// A frame of the largest size, all "<", re-encodes to no more bytes.
func TestReencodedSizeIsKept(t *testing.T) {
	head := `{"type":"description","description":{"type":"offer","sdp":"`
	tail := `"}}`
	in := []byte(head + strings.Repeat("<", MaxMessageSize-len(head)-len(tail)) + tail)
	m, err := DecodeClient(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > len(in) || !bytes.Equal(out, in) {
		t.Fatalf("a %d-byte frame re-encoded to %d bytes", len(in), len(out))
	}
}
