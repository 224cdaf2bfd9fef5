package natsbus

import (
	"reflect"
	"testing"

	"github.com/duet-call/duet/internal/bus"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []bus.Envelope{
		{Kind: bus.Relay, Room: "r1", To: "peer-b", From: "peer-a", FromNode: "n1", Data: []byte(`{"type":"candidate"}`)},
		{Kind: bus.Joined, Room: "r", To: "b", From: "a", FromNode: "n2", Polite: true, Resumed: true},
		{Kind: bus.Left, Room: "r", To: "b", From: "a", FromNode: "n2", Reason: "disconnected"},
		{Kind: bus.Evict, Room: "x", To: "a", FromNode: "n3"},
	}
	for _, e := range tests {
		got, err := decode(encode(e))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", e, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
	}
}

func TestCodecRefusesGarbage(t *testing.T) {
	good := encode(bus.Envelope{Kind: bus.Relay, Room: "r", To: "b", From: "a", FromNode: "n", Data: []byte("xyz")})
	tests := map[string][]byte{
		"empty":          nil,
		"short":          {codecVersion, 1},
		"bad version":    append([]byte{9}, good[1:]...),
		"bad kind":       append([]byte{codecVersion, 0}, good[2:]...),
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"huge length":    {codecVersion, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range tests {
		if _, err := decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// FuzzDecode: nothing on the wire may crash a node.
func FuzzDecode(f *testing.F) {
	f.Add(encode(bus.Envelope{Kind: bus.Joined, Room: "r", To: "b", From: "a", FromNode: "n"}))
	f.Add([]byte{codecVersion, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err == nil {
			if _, err := decode(encode(e)); err != nil {
				t.Fatalf("re-encoded envelope does not decode: %v", err)
			}
		}
	})
}
