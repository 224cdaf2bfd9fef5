package schematest

import "testing"

func TestSchema(t *testing.T) {
	tests := []struct {
		name       string
		fromClient bool
		frame      string
		valid      bool
	}{
		{"join", true, `{"type":"join","v":1,"room":"abc_-9"}`, true},
		{"join v 1.0", true, `{"type":"join","v":1.0,"room":"r"}`, true},
		{"join v 2", true, `{"type":"join","v":2,"room":"r"}`, false},
		{"join v string", true, `{"type":"join","v":"1","room":"r"}`, false},
		{"join bad room", true, `{"type":"join","v":1,"room":"a b"}`, false},
		{"join unknown field", true, `{"type":"join","v":1,"room":"r","x":1}`, true},
		{"offer", true, `{"type":"description","description":{"type":"offer","sdp":"v=0"}}`, true},
		{"offer empty sdp", true, `{"type":"description","description":{"type":"offer","sdp":""}}`, false},
		{"rollback", true, `{"type":"description","description":{"type":"rollback"}}`, true},
		{"end of candidates", true, `{"type":"candidate","candidate":{"candidate":"","sdpMid":null}}`, true},
		{"candidate no mid", true, `{"type":"candidate","candidate":{"candidate":"candidate:1"}}`, false},
		{"candidate null mid, index", true, `{"type":"candidate","candidate":{"candidate":"candidate:1","sdpMid":null,"sdpMLineIndex":0}}`, true},
		{"client sends joined", true, `{"type":"joined","v":1,"room":"r","polite":false,"peerPresent":false,"iceServers":[],"peerId":"p","resume":"t"}`, false},
		{"joined", false, `{"type":"joined","v":1,"room":"r","polite":false,"peerPresent":false,"iceServers":[],"peerId":"p","resume":"t"}`, true},
		{"joined present without peer", false, `{"type":"joined","v":1,"room":"r","polite":true,"peerPresent":true,"iceServers":[],"peerId":"p","resume":"t"}`, false},
		{"joined extra field", false, `{"type":"joined","v":1,"room":"r","polite":false,"peerPresent":false,"iceServers":[],"peerId":"p","resume":"t","x":1}`, false},
		{"relayed rollback", false, `{"type":"description","description":{"type":"rollback","sdp":""}}`, true},
		{"relayed candidate with null", false, `{"type":"candidate","candidate":{"candidate":"","sdpMid":null}}`, false},
		{"relayed candidate", false, `{"type":"candidate","candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}`, true},
		{"error", false, `{"type":"error","code":"unknown-type","message":"m","ref":"hello"}`, true},
		{"error unknown code", false, `{"type":"error","code":"oops","message":"m"}`, false},
		{"bye", false, `{"type":"bye","reason":"shutdown"}`, true},
		{"peer-left", false, `{"type":"peer-left","reason":"left"}`, true},
		{"dismiss", true, `{"type":"dismiss"}`, true},
		{"peer-joined whip", false, `{"type":"peer-joined","peer":"p","peerKind":"whip"}`, true},
		{"peer-joined other kind", false, `{"type":"peer-joined","peer":"p","peerKind":"sip"}`, false},
		{"joined beside whep", false, `{"type":"joined","v":1,"room":"r","polite":true,"peerPresent":true,"iceServers":[],"peerId":"p","peer":"q","resume":"t","resumed":true,"peerKind":"whep"}`, true},
		{"peer-left dismissed", false, `{"type":"peer-left","reason":"dismissed"}`, true},
		{"error offer-refused", false, `{"type":"error","code":"offer-refused","message":"m","ref":"description"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.fromClient, []byte(tc.frame))
			if (err == nil) != tc.valid {
				t.Fatalf("valid %v, want %v: %v", err == nil, tc.valid, err)
			}
		})
	}
}
