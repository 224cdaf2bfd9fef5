package signal

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// Text that is not UTF-8 closes the signaling connection with 1007 (RFC
// 6455 section 8.1), before the hub sees it; valid UTF-8 outside ASCII is
// handled as any message.
func TestInvalidUTF8Closes1007(t *testing.T) {
	_, url := startHub(t, Config{})
	ok := dial(t, url)
	ok.sendRaw(`{"type":"ping","note":"κόσμε"}`)
	expect[*protocol.Pong](ok)
	for _, bad := range []string{"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"} {
		c := dial(t, url)
		c.sendRaw(`{"type":"ping","note":"` + bad + `"}`)
		if code := c.expectClose(); code != websocket.CloseInvalidFramePayloadData {
			t.Fatalf("%q: close %d, want 1007", bad, code)
		}
	}
}
