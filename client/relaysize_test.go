package client_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/protocol"
)

// A 12 KB description full of "<" from the call partner reaches the SDK
// without ending its signaling connection (issue 14: escaped to 72 KB by
// the server's relay, it was past the SDK's read limit and `duet peer`
// lost its server).
func TestLargeDescriptionKeepsSignaling(t *testing.T) {
	srv := startServer(t)
	st := newStates()
	call := dial(t, srv.URL(), "big-sdp", st.option(), client.WithoutReconnect())

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	write := func(m protocol.Message) {
		t.Helper()
		b, err := protocol.Encode(m)
		if err == nil {
			err = ws.WriteMessage(websocket.TextMessage, b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	write(&protocol.Join{V: protocol.Version, Room: "big-sdp"})
	st.waitFor(t, client.StateConnecting)
	sdp := "v=0\r\na=x-note:" + strings.Repeat("<", 12<<10) + "\r\n"
	write(&protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: sdp}})
	// Leave and come back: only a call whose signaling is up hears both.
	write(&protocol.Leave{})
	st.waitFor(t, client.StatePeerLeft)
	write(&protocol.Join{V: protocol.Version, Room: "big-sdp"})
	st.waitFor(t, client.StateConnecting)
	select {
	case <-call.Done():
		t.Fatalf("the call ended after a 12 KB description: %v", call.Err())
	default:
	}
}
