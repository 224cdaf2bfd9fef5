package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkRelayDecode is the server's work on a relayed offer: decode a
// client frame and encode what goes to the other peer.
func BenchmarkRelayDecode(b *testing.B) {
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"offer-3KB", &Description{Description: SessionDescription{Type: "offer", SDP: strings.Repeat("a=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\n", 55)}}},
		{"candidate-200B", &Candidate{Candidate: ICECandidate{Candidate: strings.Repeat("c", 180), SDPMid: new(string)}}},
	} {
		data, err := Encode(tc.m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				m, err := DecodeClient(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
