package peerjs

import (
	"fmt"
	"testing"

	"github.com/gorilla/websocket"
)

// /peerjs runs on wsconn too: text that is not UTF-8 closes with 1007
// (RFC 6455 section 8.1) instead of being dropped without a word.
func TestInvalidUTF8Closes1007(t *testing.T) {
	_, hs := start(t, Config{})
	for i, bad := range []string{"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		c := open(t, hs, fmt.Sprint("utf8-", i))
		c.sendRaw(websocket.TextMessage, []byte(`{"type":"HEARTBEAT","x":"`+bad+`"}`))
		if code := c.closed(); code != websocket.CloseInvalidFramePayloadData {
			t.Fatalf("%q: close %d, want 1007", bad, code)
		}
	}
}
