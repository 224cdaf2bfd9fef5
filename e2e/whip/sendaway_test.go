package whip

import (
	"net/http"
	"strings"
	"testing"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/whip"
	"github.com/pion/webrtc/v4"
)

// TestAppShowsKindAndSendsAway: the app tells the person that the other
// place is a WHEP player or a WHIP publisher, not a person, and its "Send
// away" button dismisses it: the tool's session is gone (its DELETE
// finds nothing), the app is alone again, and the room refuses another
// WHIP/WHEP session for the cooldown.
func TestAppShowsKindAndSendsAway(t *testing.T) {
	for _, tc := range []struct {
		kind, says string
	}{
		{"whep", "player (WHEP)"},
		{"whip", "broadcast tool (WHIP)"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			d := startDuet(t, whip.Config{})
			b := browsertest.New(t)
			room := newRoom()
			page := openApp(t, b, d, room)
			var location string
			if tc.kind == "whep" {
				p := play(t, d.URL(), d.URL()+"/whep/"+room, false)
				p.waitVideo(5, connectTimeout)
				location = p.location
			} else {
				wc := startWHIPClient(t, d.URL()+"/whip/"+room, "-V", vp8Pipeline)
				t.Cleanup(wc.stop)
				waitDecoding(t, page)
			}
			must(t, browsertest.WaitFor(page, `!document.querySelector('[data-testid="peer-kind"]').hidden`, stepTimeout))
			text, err := browsertest.Text(page, "peer-kind")
			must(t, err)
			if !strings.Contains(text, tc.says) {
				t.Errorf("the kind notice says %q; want it to name the %s", text, tc.says)
			}
			must(t, browsertest.Click(page, "send-away-button"))
			must(t, browsertest.WaitFor(page, `window.duet.state() === "peer-left"`, stepTimeout))
			must(t, browsertest.WaitFor(page, `document.querySelector('[data-testid="peer-kind"]').hidden`, stepTimeout))
			sessions(t, d, 0, stepTimeout)
			if location != "" {
				p := &player{t: t}
				if s := p.do(http.MethodDelete, d.URL()+location, "", "", "").status; s != http.StatusNotFound {
					t.Errorf("DELETE of the dismissed session: %d, want 404", s)
				}
			}
			again := (&player{t: t}).do(http.MethodPost, d.URL()+"/whep/"+room, "application/sdp", testOfferSDP(t), "")
			if again.status != http.StatusForbidden || !strings.Contains(again.body, "dismissed") {
				t.Errorf("a new WHEP POST right after the dismiss: %d %s, want 403 dismissed", again.status, again.body)
			}
		})
	}
}

// testOfferSDP is a receive-only video offer from a fresh pion connection.
func testOfferSDP(t testing.TB) string {
	t.Helper()
	pc := newPlayerPC(t)
	_, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	must(t, err)
	offer, err := pc.CreateOffer(nil)
	must(t, err)
	return offer.SDP
}
