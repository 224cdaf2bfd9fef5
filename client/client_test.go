package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
	"github.com/pion/webrtc/v4"
)

func TestChatRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		firstSpeaks bool // the first to join (impolite) sends first
	}{
		{"first joiner speaks first", true},
		{"second joiner speaks first", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			inA, inB := newInbox(), newInbox()
			a := dial(t, srv.URL(), "chat-room", inA.option())
			b := dial(t, srv.URL(), "chat-room", inB.option())
			if a.Polite() == b.Polite() {
				t.Fatalf("both peers have polite=%v", a.Polite())
			}
			waitChat(t, a, b)
			first, second, inFirst, inSecond := a, b, inA, inB
			if !tc.firstSpeaks {
				first, second, inFirst, inSecond = b, a, inB, inA
			}
			if err := first.SendChat("hello ünïcode"); err != nil {
				t.Fatal(err)
			}
			inSecond.expect(t, "hello ünïcode")
			if err := second.SendChat("hi back"); err != nil {
				t.Fatal(err)
			}
			inFirst.expect(t, "hi back")
		})
	}
}

func TestPlayedVP8Arrives(t *testing.T) {
	srv := startServer(t)
	src, err := media.Open("../testdata/media/vp8.ivf", true)
	if err != nil {
		t.Fatal(err)
	}
	type arrival struct {
		mime   string
		frames int
	}
	got := make(chan arrival, 1)
	recv := client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		frames := 0
		for frames < 20 {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				break
			}
			if pkt.Marker && len(pkt.Payload) > 0 { // the last packet of a frame
				frames++
			}
		}
		got <- arrival{tr.Codec().MimeType, frames}
		for { // drain until the connection closes
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	sender := dial(t, srv.URL(), "vp8-room", client.WithTracks(src.Track()))
	dial(t, srv.URL(), "vp8-room", recv)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	_ = sender
	select {
	case a := <-got:
		if a.mime != webrtc.MimeTypeVP8 {
			t.Errorf("codec %q, want %q", a.mime, webrtc.MimeTypeVP8)
		}
		if a.frames < 20 {
			t.Errorf("only %d frames before the track ended", a.frames)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no VP8 track arrived")
	}
}

func TestDialErrors(t *testing.T) {
	srv := startServer(t)
	dial(t, srv.URL(), "full", client.WithOnChat(func(string) {}))
	dial(t, srv.URL(), "full")
	tests := []struct {
		name, url, room string
		want            error
	}{
		{"room full", srv.URL(), "full", client.ErrRoomFull},
		{"bad room", srv.URL(), "no spaces!", client.ErrBadRoom},
		{"nothing listening", "http://127.0.0.1:1", "r", client.ErrUnreachable},
		{"not a duet server", srv.URL() + "/nowhere/", "r", nil}, // /ws is appended: still reaches duet
		{"bad scheme", "ftp://127.0.0.1", "r", client.ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, tc.url, tc.room)
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Dial: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestServerGoneMidCall: a server that stays away ends the call with
// ErrServerGone, at once without reconnecting, or once the reconnect
// policy's total has run out.
func TestServerGoneMidCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  client.Option
	}{
		{"without reconnect", client.WithoutReconnect()},
		{"reconnect gives up", client.WithReconnect(client.Reconnect{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Total: 2 * time.Second})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			sig := make(chan bool, 8)
			a := dial(t, srv.URL(), "gone", tc.opt, client.WithOnSignalingChange(func(up bool) { sig <- up }))
			b := dial(t, srv.URL(), "gone", tc.opt)
			waitChat(t, a, b)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			select {
			case <-a.Done():
			case <-time.After(20 * time.Second):
				t.Fatal("call did not end when the server went away")
			}
			if err := a.Err(); !errors.Is(err, client.ErrServerGone) {
				t.Fatalf("Err() = %v, want ErrServerGone", err)
			}
			if err := a.Close(); !errors.Is(err, client.ErrServerGone) {
				t.Fatalf("Close() = %v, want ErrServerGone", err)
			}
			// Reconnecting reports the drop before giving up; without it,
			// the call just ends.
			select {
			case up := <-sig:
				if up || tc.name == "without reconnect" {
					t.Fatalf("signaling change %v reported", up)
				}
			default:
				if tc.name != "without reconnect" {
					t.Fatal("the drop was never reported")
				}
			}
		})
	}
}

// TestNextPeer: when the peer leaves, the call waits and then connects to
// whoever joins next, with a fresh peer connection and chat channel.
func TestNextPeer(t *testing.T) {
	srv := startServer(t)
	inA, st := newInbox(), newStates()
	a := dial(t, srv.URL(), "next", inA.option(), st.option())
	b := dial(t, srv.URL(), "next")
	waitChat(t, a, b)
	st.waitFor(t, client.StateConnected)
	b.Close()
	st.waitFor(t, client.StatePeerLeft)
	// a may learn of the leave from b's DTLS close before the server has
	// read b's close frame; the next peer joins once the place is free.
	for deadline := time.Now().Add(10 * time.Second); srv.Hub().Stats().Peers != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("b's place never freed: %+v", srv.Hub().Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := dial(t, srv.URL(), "next")
	waitChat(t, a, c)
	if err := c.SendChat("I am the next one"); err != nil {
		t.Fatal(err)
	}
	inA.expect(t, "I am the next one")
}

func TestSendChatBeforePeer(t *testing.T) {
	srv := startServer(t)
	a := dial(t, srv.URL(), "alone")
	if err := a.SendChat("anyone?"); !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("SendChat alone: %v, want ErrNotConnected", err)
	}
	if a.State() != client.StateWaiting {
		t.Fatalf("state %v, want waiting", a.State())
	}
}

// TestAddTrackMidCall: a track added after the call is up renegotiates,
// whichever role adds it, and arrives at the other side.
func TestAddTrackMidCall(t *testing.T) {
	for _, politeAdds := range []bool{false, true} {
		t.Run(fmt.Sprintf("polite adds %v", politeAdds), func(t *testing.T) {
			srv := startServer(t)
			kinds := make(chan string, 4)
			onTrack := client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				kinds <- tr.Codec().MimeType
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
				}
			})
			a := dial(t, srv.URL(), "renegotiate", onTrack) // impolite
			b := dial(t, srv.URL(), "renegotiate", onTrack) // polite
			waitChat(t, a, b)
			adder := a
			if politeAdds {
				adder = b
			}
			addOpus(t, adder)
			expectOpus(t, kinds, "the added track")
			if err := a.SendChat("still here"); err != nil {
				t.Fatalf("chat after renegotiation: %v", err)
			}
		})
	}
}

// TestVerifyCodeMatches: both sides of a call derive the same code from
// the DTLS fingerprints they exchanged, and another call gets another.
func TestVerifyCodeMatches(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	codes := map[string]bool{}
	for _, room := range []string{"verify-1", "verify-2"} {
		a, b := dial(t, srv.URL(), room), dial(t, srv.URL(), room)
		waitChat(t, a, b)
		ca, err := a.VerifyCode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := b.VerifyCode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ca != cb || len(ca) != 7 || ca[3] != ' ' {
			t.Fatalf("%s: codes %q and %q, want the same \"ddd ddd\"", room, ca, cb)
		}
		codes[ca] = true
	}
	// Fresh certificates per call: two calls sharing a code would be a
	// one-in-a-million coincidence.
	if len(codes) != 2 {
		t.Fatalf("two calls gave the same code %v", codes)
	}
}
