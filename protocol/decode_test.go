package protocol

import (
	"errors"
	"testing"
)

func TestDecodeClient(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code Code   // "" when it decodes
		ref  string // the refusal's ref
	}{
		{"join v 1", `{"type":"join","v":1,"room":"r"}`, "", ""},
		{"join v 1.0 (Python's json.dumps(1.0))", `{"type":"join","v":1.0,"room":"r"}`, "", ""},
		{"join v 1e0", `{"type":"join","v":1e0,"room":"r"}`, "", ""},
		{"join v 2", `{"type":"join","v":2,"room":"r"}`, CodeBadVersion, "join"},
		{"join v 1.5", `{"type":"join","v":1.5,"room":"r"}`, CodeBadVersion, "join"},
		{"join v huge", `{"type":"join","v":1e300,"room":"r"}`, CodeBadVersion, "join"},
		{"join without v", `{"type":"join","room":"r"}`, CodeBadVersion, "join"},
		{"join v as a string", `{"type":"join","v":"1","room":"r"}`, CodeBadMessage, "join"},
		{"join bad room", `{"type":"join","v":1,"room":"a b"}`, CodeBadRoom, "join"},
		{"unknown type", `{"type":"hello"}`, CodeUnknownType, "hello"},
		{"unknown type too long to echo", `{"type":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, CodeUnknownType, ""},
		{"type not a string", `{"type":5}`, CodeBadMessage, ""},
		{"missing type", `{"v":1}`, CodeBadMessage, ""},
		{"not JSON", `{"type":`, CodeBadJSON, ""},
		{"not an object", `[1]`, CodeBadJSON, ""},
		{"server-only type", `{"type":"joined"}`, CodeNotAllowed, "joined"},
		{"rollback without sdp", `{"type":"description","description":{"type":"rollback"}}`, "", ""},
		{"offer without sdp", `{"type":"description","description":{"type":"offer"}}`, CodeBadMessage, "description"},
		{"end of candidates", `{"type":"candidate","candidate":{"candidate":""}}`, "", ""},
		{"candidate with null sdpMid", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host","sdpMid":null,"sdpMLineIndex":0}}`, "", ""},
		{"candidate without mid or index", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host"}}`, CodeBadMessage, "candidate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeClient([]byte(tc.in))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if j, ok := m.(*Join); ok && j.V != 1 {
					t.Fatalf("v decoded as %d", j.V)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Ref != tc.ref {
				t.Fatalf("got %#v, want code %s ref %q", err, tc.code, tc.ref)
			}
		})
	}
}
