package signal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// A reader that stops reading is cut off, its partner is told, and another
// room keeps relaying all the while.
func TestSlowConsumerIsCutOffOthersFlow(t *testing.T) {
	h, url := startHub(t, Config{SendQueue: 8, WriteTimeout: 500 * time.Millisecond})
	a, _ := slowPair(t, url, "slow") // the second client never reads again
	c, d := pair(t, url, "fast")

	big := &protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: strings.Repeat("a=x\r\n", 6000)}}
	frame, _ := protocol.Encode(big)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Enough to fill the loopback socket buffers many times over.
		for range 400 {
			if a.conn.WriteMessage(websocket.TextMessage, frame) != nil {
				return
			}
		}
	}()
	for i := range 20 {
		c.send(candidate(i))
		if got := expect[*protocol.Candidate](d); got.Candidate.Candidate != candidate(i).Candidate.Candidate {
			t.Fatalf("fast room got %q", got.Candidate.Candidate)
		}
	}
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("reason = %q, want disconnected", pl.Reason)
	}
	<-done
	waitFor(t, "slow peer removed", func() bool { return h.Stats().Peers == 3 })
	c.send(candidate(99))
	expect[*protocol.Candidate](d)
}

// A client that stops answering pings is dropped and its slot freed.
func TestKeepaliveFreesDeadConnection(t *testing.T) {
	h, url := startHub(t, Config{PingInterval: 50 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, ResumeGrace: 100 * time.Millisecond})
	a, _ := pair(t, url, "ka") // the second client never reads, so never pongs
	// a reads (and so answers pings) while it waits.
	if pl := expect[*protocol.PeerLeft](a); pl.Reason != protocol.ReasonDisconnected {
		t.Fatalf("reason = %q", pl.Reason)
	}
	waitFor(t, "slot freed", func() bool { return h.Stats().Peers == 1 })
	// a itself stayed: it answered every ping while reading.
	a.send(&protocol.Ping{})
	expect[*protocol.Pong](a)
}

func TestShutdownSaysByeAndRefusesNewcomers(t *testing.T) {
	h, url := startHub(t, Config{})
	a, b := pair(t, url, "bye")
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- h.Shutdown(ctx)
	}()
	for _, c := range []*wsClient{a, b} {
		if bye := expect[*protocol.Bye](c); bye.Reason != "shutdown" {
			t.Fatalf("bye reason = %q", bye.Reason)
		}
		// bye is the last message: no peer-left after it, although the
		// partner's connection closes meanwhile.
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("after bye got %s (err %v), want only the 1001 close", data, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if st := h.Stats(); st.Sessions != 0 || st.Rooms != 0 {
		t.Fatalf("after shutdown: %+v", st)
	}
	late := dial(t, url)
	if code := late.expectClose(); code != websocket.CloseGoingAway {
		t.Fatalf("late client close code = %d, want 1001", code)
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}
