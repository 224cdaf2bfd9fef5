package whip

import (
	"strings"
	"testing"

	"github.com/duet-call/duet/protocol"
)

// FuzzSDP feeds a client's bodies — offers and fragments — through every
// reader and writer the server applies to them: none may panic, and the
// writers keep the SDP's m-sections where they were.
func FuzzSDP(f *testing.F) {
	f.Add(testOffer, "a=ice-ufrag:x\r\na=ice-pwd:y\r\nm=video 9 RTP/AVP 96\r\na=mid:video0\r\na=candidate:1 1 UDP 1 192.0.2.1 1 typ host\r\na=end-of-candidates\r\n")
	f.Add(testAnswer, "m=audio 9 RTP/AVP 0\r\nm=audio 9 RTP/AVP 0\r\na=candidate:3 1 UDP 1 192.0.2.3 1 typ host\r\n")
	f.Add("v=0\nm=\na=mid:\n", "m=\na=mid:\n\n\na=candidate:")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, sdp, body string) {
		info, err := readOffer(sdp)
		fr, ferr := readFrag(body, info.mids)
		acceptsMedia(sdp)
		answerFrag(sdp)
		if err != nil || ferr != nil {
			return
		}
		before := len(sections(sdpLines(sdp)))
		out := withCandidates(sdp, fr.cands, true)
		if got := len(sections(sdpLines(out))); got != before {
			t.Fatalf("withCandidates: %d sections became %d", before, got)
		}
		if fr.ufrag != "" && !strings.ContainsAny(fr.ufrag+fr.pwd, "\r\n") {
			r := restartOffer(sdp, fr)
			if got := len(sections(sdpLines(r))); got != before {
				t.Fatalf("restartOffer: %d sections became %d", before, got)
			}
		}
		for _, c := range fr.cands {
			if _, err := protocol.DecodeClient(mustEncode(t, &protocol.Candidate{Candidate: c})); err != nil {
				return // the hub refuses it; Local.Send reports that
			}
		}
	})
}

func mustEncode(t *testing.T, m protocol.Message) []byte {
	b, err := protocol.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
