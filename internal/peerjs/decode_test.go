package peerjs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		typ     string
		dst     string
		payload string
	}{
		{`{"type":"OFFER","dst":"b","payload":{"x":1}}`, true, "OFFER", "b", `{"x":1}`},
		{` {"payload":{"x":[1,{"y":"}"}]},"src":{"ignored":true},"type":"ANSWER","dst":"b"} `, true, "ANSWER", "b", `{"x":[1,{"y":"}"}]}`},
		{`{"type":"HEARTBEAT"}`, true, "HEARTBEAT", "", ""},
		{`{"type":"LEAVE","dst":"b","payload":null}`, true, "LEAVE", "b", ""},
		{`{"type":"OFFER","dst":"b","extra":[1,2,{"z":null}]}`, true, "OFFER", "b", ""},
		{`{"type":"OFFER","dst":"b","payload":{"x":1}} trailing`, false, "", "", ""},
		{`{"type":"OFFER","dst":"b","payload":{"x":1}}{}`, false, "", "", ""},
		{`{"type":"OFFER","type":"ANSWER"}`, false, "", "", ""}, // duplicate names
		{`{"type":"OFFER","dst":"b","payload":{"x":1,"x":2}}`, false, "", "", ""},
		{`{"type":"OFFER","dst":"b","payload":{"x":1}, "src":"forged"`, false, "", "", ""},
		{`{"type":"OFFER","dst":"b","payload":"{}"}`, false, "", "", ""},
		{`{"type":"OFFER","dst":"b","payload":[]}`, false, "", "", ""},
		{`{"type":1}`, false, "", "", ""},
		{`{"type":"OFFER","dst":{"a":1}}`, false, "", "", ""},
		{"{\"type\":\"OFFER\",\"dst\":\"b\xff\"}", false, "", "", ""}, // invalid UTF-8
		{`[]`, false, "", "", ""},
		{``, false, "", "", ""},
		{`null`, false, "", "", ""},
	}
	for _, tc := range tests {
		m, ok := decode([]byte(tc.in))
		if ok != tc.ok || (ok && (m.Type != tc.typ || m.Dst != tc.dst || string(m.Payload) != tc.payload)) {
			t.Errorf("decode(%s) = %+v %v (payload %s)", tc.in, m, ok, m.Payload)
		}
	}
}

// FuzzDecode checks that whatever decode accepts, the re-encoded relay is
// valid JSON with exactly the fields the server means to send: no input
// can make the server emit a frame with a src of the client's choosing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"OFFER","dst":"b","payload":{"x":1}}`,
		`{"type":"CANDIDATE","dst":"b","payload":{"candidate":{"candidate":"c","sdpMid":"0"}},"src":"x"}`,
		`{"type":"LEAVE","payload":null}`,
		`{"type":"OFFER","dst":"b\"","payload":{"a":"\u0000"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := decode(data)
		if !ok {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("decode accepted invalid JSON %q", data)
		}
		m.Src = "server-set"
		out, err := encode(m)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("relay %q is not a JSON object: %v", out, err)
		}
		var src string
		json.Unmarshal(back["src"], &src)
		if src != "server-set" {
			t.Fatalf("relay %q has src %q", out, src)
		}
		for k := range back {
			if !strings.Contains(" type src dst payload ", " "+k+" ") {
				t.Fatalf("relay %q has field %q", out, k)
			}
		}
	})
}

func BenchmarkDecodeOffer(b *testing.B) {
	offer := []byte(`{"type":"OFFER","payload":{"sdp":{"type":"offer","sdp":"` +
		strings.Repeat(`a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n`, 50) +
		`"},"type":"data","connectionId":"dc_123","label":"x","reliable":true,"serialization":"binary"},"dst":"bob"}`)
	b.SetBytes(int64(len(offer)))
	for b.Loop() {
		if _, ok := decode(offer); !ok {
			b.Fatal("not decoded")
		}
	}
}
