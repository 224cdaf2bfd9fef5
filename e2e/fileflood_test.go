package e2e

import (
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
)

// TestFileOfferFlood: a peer that sends file-offer after file-offer (each
// one cancels the last) gets at most MAX_INCOMING (200) of them listed on
// the other side; the rest are refused, and the call carries on.
func TestFileOfferFlood(t *testing.T) {
	srv := startServer(t)
	b := browsertest.New(t)
	alice, bob := startCall(t, b, srv.URL())
	must(t, browsertest.WaitFor(alice, `window.duet.chatOpen()`, stepTimeout))
	must(t, browsertest.Eval(alice, `(() => {
		const ch = window.duet.channel();
		for (let i = 0; i < 250; i++) ch.send(JSON.stringify({type: "file-offer", id: "flood-" + i, name: "f" + i, size: 10, mime: ""}));
		return true;
	})()`, nil))
	// The channel is ordered: once this line shows, every offer was handled.
	sendChat(t, alice, "after the flood")
	waitChat(t, bob, "after the flood")
	var n int
	must(t, browsertest.Eval(bob, `window.duet.files().length`, &n))
	if n != 200 {
		t.Fatalf("bob lists %d incoming transfers after 250 offers, want the cap of 200", n)
	}
}
