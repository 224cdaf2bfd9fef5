package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// roomRE is what a new room id must look like: 16 random bytes in unpadded
// URL-safe base64.
var roomRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// TestCall is the story: one person starts a call, a second joins,
// both see each other, a third is turned away, they chat, one hangs up and
// the other sees it, and the one who left can come back to the same link.
func TestCall(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	clock := newStopwatch(t)

	// Alice starts a new call from the home page.
	alice := b.NewPage(t, browsertest.PageName("alice"))
	must(t, browsertest.Navigate(alice, srv.URL()+"/"))
	must(t, browsertest.Click(alice, "new-call-button"))
	must(t, browsertest.WaitFor(alice, `location.pathname.startsWith("/r/") && window.duet.state() === "waiting"`, stepTimeout))
	var room string
	must(t, browsertest.Eval(alice, `window.duet.room()`, &room))
	if !roomRE.MatchString(room) {
		t.Fatalf("new room id %q is not 22 characters of URL-safe base64", room)
	}
	var link string
	must(t, browsertest.Eval(alice, browsertest.TestID("room-link")+`.value`, &link))
	if want := srv.URL() + "/r/" + room; link != want {
		t.Fatalf("shared link = %q, want %q", link, want)
	}
	if s := statusText(t, alice); !strings.Contains(s, "Waiting") {
		t.Errorf("alice's call-status while alone = %q, want it to say she is waiting", s)
	}
	clock.step("alice waiting in " + room)

	// Bob joins by typing the code on the home page.
	bob := b.NewPage(t, browsertest.PageName("bob"))
	must(t, browsertest.Navigate(bob, srv.URL()+"/"))
	must(t, browsertest.Type(bob, "join-code", "not a room!"))
	must(t, browsertest.Click(bob, "join-button"))
	must(t, browsertest.WaitFor(bob, `!`+browsertest.TestID("join-error")+`.hidden && location.pathname === "/"`, stepTimeout))
	must(t, browsertest.Type(bob, "join-code", room))
	must(t, browsertest.Click(bob, "join-button"))

	// Both see and hear each other.
	waitState(t, alice, "connected", connectTimeout)
	waitState(t, bob, "connected", connectTimeout)
	clock.step("both connected")
	waitVideo(t, alice)
	waitVideo(t, bob)
	var audio int
	must(t, browsertest.Eval(bob, `window.duet.pc().getReceivers().filter((r) => r.track.kind === "audio" && r.track.readyState === "live").length`, &audio))
	if audio != 1 {
		t.Errorf("bob receives %d live audio tracks, want 1", audio)
	}
	clock.step("both decoding video")

	// Chat over the data channel, both ways.
	sendChat(t, alice, "hello from alice")
	waitChat(t, bob, "hello from alice")
	sendChat(t, bob, "hi alice, bob here")
	waitChat(t, alice, "hi alice, bob here")
	// Over the protocol's 16 KiB a line is refused, not sent.
	must(t, browsertest.Type(alice, "chat-input", strings.Repeat("é", 9000)))
	must(t, browsertest.Click(alice, "chat-send"))
	var lines [2]int
	for i, p := range []context.Context{alice, bob} {
		must(t, browsertest.Eval(p, browsertest.TestID("chat-log")+`.children.length`, &lines[i]))
	}
	if lines != [2]int{2, 2} {
		t.Errorf("after an 18,000-byte chat line: %v lines in alice's and bob's logs, want 2 each", lines)
	}
	clock.step("chat both ways")

	// A third person with the link is told the room is full, and the
	// call goes on.
	carol := b.NewPage(t, browsertest.PageName("carol"), browsertest.Isolated())
	must(t, browsertest.Navigate(carol, link))
	waitState(t, carol, "room-full", stepTimeout)
	if s := statusText(t, carol); !strings.Contains(s, "two people") {
		t.Errorf("carol's call-status = %q, want it to say the call is full", s)
	}
	var pcCarol bool
	must(t, browsertest.Eval(carol, `window.duet.pc() !== null`, &pcCarol))
	if pcCarol {
		t.Error("carol has a peer connection in a full room")
	}
	waitState(t, alice, "connected", stepTimeout)
	clock.step("carol turned away")

	// Alice hangs up; Bob sees that she left and waits on the same link.
	must(t, browsertest.Click(alice, "hangup-button"))
	waitState(t, alice, "ended", stepTimeout)
	waitState(t, bob, "peer-left", stepTimeout)
	if s := statusText(t, bob); !strings.Contains(s, "left") {
		t.Errorf("bob's call-status after alice hung up = %q, want it to say she left", s)
	}
	var pcBob bool
	must(t, browsertest.Eval(bob, `window.duet.pc() !== null`, &pcBob))
	if pcBob {
		t.Error("bob still has a peer connection after alice left")
	}
	var tracksLive int
	must(t, browsertest.Eval(alice, browsertest.TestID("local-video")+`.srcObject ? 1 : 0`, &tracksLive))
	if tracksLive != 0 {
		t.Error("alice's camera preview is still on after hanging up")
	}
	clock.step("alice hung up, bob told")

	// Alice comes back to the same link: a fresh connection, now as the
	// second to join, so the roles are the other way round.
	must(t, browsertest.Click(alice, "rejoin-button"))
	waitState(t, alice, "connected", connectTimeout)
	waitState(t, bob, "connected", connectTimeout)
	waitVideo(t, alice)
	waitVideo(t, bob)
	clock.step("alice rejoined, video both ways again")
}
