package gopeer

import (
	"context"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
)

// TestAppExtrasIgnoredByGoPeer: what the web app adds to the chat channel
// (media state, a display name, a file as file-offer, binary chunks and
// file-end) reaches a Go peer that knows none of it; the peer ignores it
// all, as docs/protocol.md promises, and the next chat line is the only
// one it reports, in both directions.
func TestAppExtrasIgnoredByGoPeer(t *testing.T) {
	b := browsertest.New(t)
	srv := startServer(t)
	room := newRoom(t)
	got := make(chan string, 8)
	call := dial(t, srv, room, client.WithOnChat(func(s string) { got <- s }))
	page := openApp(t, b, srv, room, "browser")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := call.WaitChat(ctx); err != nil {
		t.Fatalf("chat never opened on the Go side: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(browsertest.WaitFor(page, `window.duet.chatOpen()`, 30*time.Second))
	// A name (sent as hello), mute and camera off (media), and a 200 KiB
	// file, which the app sends whole: nobody acknowledges it.
	must(browsertest.Click(page, "devices-button"))
	must(browsertest.Type(page, "display-name", "Browser"))
	must(browsertest.Eval(page, browsertest.TestID("display-name")+`.dispatchEvent(new Event("change")), true`, nil))
	must(browsertest.Click(page, "mute-button"))
	must(browsertest.Click(page, "camera-button"))
	must(browsertest.Eval(page, `(() => { const dt = new DataTransfer();
		dt.items.add(new File([new Uint8Array(200 * 1024).fill(7)], "for-go.bin"));
		const input = `+browsertest.TestID("file-input")+`; input.files = dt.files; input.dispatchEvent(new Event("change")); return true; })()`, nil))
	must(browsertest.WaitFor(page, `window.duet.files().length === 1 && window.duet.files()[0].state === "done"`, 30*time.Second))
	must(browsertest.Type(page, "chat-input", "after the extras"))
	must(browsertest.Click(page, "chat-send"))
	select {
	case s := <-got:
		if s != "after the extras" {
			t.Fatalf("the Go peer reported %q first, want only the chat line", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the chat line after the extras never reached the Go peer")
	}
	// And the Go peer's lines still reach the app, whose badges say
	// nothing about a peer that never sent a media message.
	must(call.SendChat("from Go after the extras"))
	must(browsertest.WaitFor(page, browsertest.TestID("chat-log")+`.textContent.includes("from Go after the extras")`, 30*time.Second))
	var remoteMuted bool
	must(browsertest.Eval(page, `!`+browsertest.TestID("remote-muted")+`.hidden`, &remoteMuted))
	if remoteMuted {
		t.Error("the app shows a Go peer that sent no media message as muted")
	}
	select {
	case s := <-got:
		t.Errorf("the Go peer reported %q after the last chat line", s)
	default:
	}
}
