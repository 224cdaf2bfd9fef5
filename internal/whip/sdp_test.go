package whip

import (
	"strings"
	"testing"

	"github.com/duet-call/duet/protocol"
)

// A bundled audio+video offer as webrtcbin writes it (trimmed).
const testOffer = "v=0\r\n" +
	"o=- 1 0 IN IP4 0.0.0.0\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE video0 audio1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:offU\r\n" +
	"a=ice-pwd:offPwd\r\n" +
	"a=mid:video0\r\n" +
	"a=sendonly\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=candidate:1 1 UDP 2015363327 192.0.2.1 40000 typ host\r\n" +
	"a=end-of-candidates\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 97\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:offU\r\n" +
	"a=ice-pwd:offPwd\r\n" +
	"a=mid:audio1\r\n" +
	"a=sendonly\r\n" +
	"a=rtpmap:97 OPUS/48000/2\r\n"

// The answer as Chromium writes it: credentials in each section, no
// candidates (they are trickled).
const testAnswer = "v=0\r\n" +
	"o=- 2 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE video0 audio1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"a=ice-ufrag:ansU\r\n" +
	"a=ice-pwd:ansPwd\r\n" +
	"a=mid:video0\r\n" +
	"a=recvonly\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 97\r\n" +
	"a=ice-ufrag:ansU\r\n" +
	"a=ice-pwd:ansPwd\r\n" +
	"a=mid:audio1\r\n" +
	"a=recvonly\r\n"

func ptr[T any](v T) *T { return &v }

func TestReadOffer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sdp   string
		mids  []string
		ufrag string
		bad   bool
	}{
		{"bundled webrtcbin offer", testOffer, []string{"video0", "audio1"}, "offU", false},
		{"LF line ends", strings.ReplaceAll(testOffer, "\r\n", "\n"), []string{"video0", "audio1"}, "offU", false},
		{"no mid", "v=0\r\nm=video 9 RTP/AVP 96\r\n", []string{""}, "", false},
		{"empty", "", nil, "", true},
		{"not SDP", "hello", nil, "", true},
		{"JSON", `{"type":"offer","sdp":"v=0"}`, nil, "", true},
		{"no media", "v=0\r\ns=-\r\n", nil, "", true},
		{"a junk line", "v=0\r\nm=video 9 RTP/AVP 96\r\njunk\r\n", nil, "", true},
		{"a lone CR", "v=0\r\nm=video 9 RTP/AVP 96\ra=x\r\n", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := readOffer(tc.sdp)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want bad=%v", err, tc.bad)
			}
			if tc.bad {
				return
			}
			if strings.Join(info.mids, ",") != strings.Join(tc.mids, ",") || info.ufrag != tc.ufrag {
				t.Errorf("got mids %q ufrag %q, want %q %q", info.mids, info.ufrag, tc.mids, tc.ufrag)
			}
		})
	}
}

func TestWithCandidates(t *testing.T) {
	host := protocol.ICECandidate{Candidate: "candidate:7 1 udp 2122260223 127.0.0.1 50000 typ host", SDPMid: ptr("video0")}
	byIndex := protocol.ICECandidate{Candidate: "candidate:8 1 udp 2122260223 127.0.0.1 50001 typ host", SDPMLineIndex: ptr(uint16(1))}
	unknownMid := protocol.ICECandidate{Candidate: "candidate:9 1 udp 1 127.0.0.1 50002 typ host", SDPMid: ptr("nope")}
	for _, tc := range []struct {
		name     string
		cands    []protocol.ICECandidate
		complete bool
		// want lists the lines expected in each section, in order.
		video, audio []string
	}{
		{"by mid, complete", []protocol.ICECandidate{host, {Candidate: ""}}, true,
			[]string{"a=" + host.Candidate, "a=end-of-candidates"}, []string{"a=end-of-candidates"}},
		{"by index", []protocol.ICECandidate{byIndex}, false, nil, []string{"a=" + byIndex.Candidate}},
		{"unknown mid goes first", []protocol.ICECandidate{unknownMid}, false, []string{"a=" + unknownMid.Candidate}, nil},
		{"duplicates once", []protocol.ICECandidate{host, host}, false, []string{"a=" + host.Candidate}, nil},
		{"no lines smuggled in", []protocol.ICECandidate{{Candidate: "candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=setup:passive", SDPMid: ptr("video0")}}, false, nil, nil},
		{"nothing", nil, false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := withCandidates(testAnswer, tc.cands, tc.complete)
			if !strings.HasSuffix(out, "\r\n") || strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
				t.Fatalf("not CRLF SDP:\n%q", out)
			}
			lines := sdpLines(out)
			secs := sections(lines)
			if len(secs) != 2 {
				t.Fatalf("%d sections, want 2", len(secs))
			}
			check := func(s section, want []string) {
				var got []string
				for _, l := range lines[s.start:s.end] {
					if strings.HasPrefix(l, "a=candidate:") || l == "a=end-of-candidates" {
						got = append(got, l)
					}
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("section %s: candidates %q, want %q", s.mid, got, want)
				}
			}
			check(secs[0], tc.video)
			check(secs[1], tc.audio)
			// Everything else is as it was.
			var rest []string
			for _, l := range lines {
				if !strings.HasPrefix(l, "a=candidate:") && l != "a=end-of-candidates" {
					rest = append(rest, l)
				}
			}
			if joinSDP(rest) != testAnswer {
				t.Errorf("other lines changed:\n%s", joinSDP(rest))
			}
		})
	}
}

func TestReadFrag(t *testing.T) {
	mids := []string{"video0", "audio1"}
	for _, tc := range []struct {
		name   string
		body   string
		ufrag  string
		pwd    string
		cands  []string // candidate strings; "" for end-of-candidates
		onMids []string
		bad    bool
	}{
		{"webrtcbin trickle", "a=ice-ufrag:offU\r\na=ice-pwd:offPwd\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video0\r\na=candidate:2 1 UDP 1 192.0.2.2 40001 typ srflx raddr 0.0.0.0 rport 0\r\n",
			"offU", "offPwd", []string{"candidate:2 1 UDP 1 192.0.2.2 40001 typ srflx raddr 0.0.0.0 rport 0"}, []string{"video0"}, false},
		{"no mid: by m= index", "m=audio 9 RTP/AVP 0\r\nm=audio 9 RTP/AVP 0\r\na=candidate:3 1 UDP 1 192.0.2.3 1 typ host\r\na=end-of-candidates\r\n",
			"", "", []string{"candidate:3 1 UDP 1 192.0.2.3 1 typ host", ""}, []string{"audio1", "audio1"}, false},
		{"no m= at all", "a=candidate:4 1 UDP 1 192.0.2.4 1 typ host\r\n", "", "", []string{"candidate:4 1 UDP 1 192.0.2.4 1 typ host"}, []string{"video0"}, false},
		{"LF only", "a=ice-ufrag:u\na=ice-pwd:p\n", "u", "p", nil, nil, false},
		{"junk", "hello world\r\n", "", "", nil, nil, true},
		{"a lone CR", "a=ice-ufrag:u\rv\r\n", "", "", nil, nil, true},
		{"too many", strings.Repeat("a=candidate:5 1 UDP 1 192.0.2.5 1 typ host\r\n", maxFragCandidates+1), "", "", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := readFrag(tc.body, mids)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want bad=%v", err, tc.bad)
			}
			if tc.bad {
				return
			}
			if f.ufrag != tc.ufrag || f.pwd != tc.pwd || len(f.cands) != len(tc.cands) {
				t.Fatalf("got %+v", f)
			}
			for i, c := range f.cands {
				if c.Candidate != tc.cands[i] || c.SDPMid == nil || *c.SDPMid != tc.onMids[i] {
					t.Errorf("candidate %d = %q on %v, want %q on %q", i, c.Candidate, c.SDPMid, tc.cands[i], tc.onMids[i])
				}
				if (tc.ufrag != "") != (c.UsernameFragment != nil) {
					t.Errorf("candidate %d usernameFragment = %v", i, c.UsernameFragment)
				}
			}
		})
	}
}

func TestRestartOffer(t *testing.T) {
	f := frag{ufrag: "newU", pwd: "newPwd", cands: []protocol.ICECandidate{
		{Candidate: "candidate:9 1 UDP 5 192.0.2.9 41000 typ host", SDPMid: ptr("video0")}, {Candidate: "", SDPMid: ptr("video0")},
	}}
	out := restartOffer(testOffer, f)
	for _, gone := range []string{"ice-ufrag:offU", "ice-pwd:offPwd", "192.0.2.1 40000"} {
		if strings.Contains(out, gone) {
			t.Errorf("restart offer still has %q", gone)
		}
	}
	if n := strings.Count(out, "a=ice-ufrag:newU\r\n"); n != 2 {
		t.Errorf("new ufrag in %d sections, want 2", n)
	}
	if !strings.Contains(out, "a=mid:video0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\na=candidate:9 1 UDP 5 192.0.2.9 41000 typ host\r\na=end-of-candidates\r\n") {
		t.Errorf("new candidate not in the video section:\n%s", out)
	}
	info, err := readOffer(out)
	if err != nil || info.ufrag != "newU" {
		t.Errorf("restart offer reads as %+v, %v", info, err)
	}
}

func TestAnswerFrag(t *testing.T) {
	ans := withCandidates(testAnswer, []protocol.ICECandidate{{Candidate: "candidate:1 1 udp 9 127.0.0.1 5000 typ host", SDPMid: ptr("video0")}}, true)
	want := "a=group:BUNDLE video0 audio1\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
		"a=mid:video0\r\n" +
		"a=ice-ufrag:ansU\r\n" +
		"a=ice-pwd:ansPwd\r\n" +
		"a=candidate:1 1 udp 9 127.0.0.1 5000 typ host\r\n" +
		"a=end-of-candidates\r\n"
	if got := answerFrag(ans); got != want {
		t.Errorf("bundled answer frag:\n%s\nwant\n%s", got, want)
	}
	// Without BUNDLE every section has its own transport; credentials at
	// session level are repeated in each.
	unbundled := "v=0\r\na=ice-ufrag:S\r\na=ice-pwd:P\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\nm=video 9 RTP/AVP 96\r\na=mid:v\r\na=candidate:2 1 udp 1 127.0.0.1 6 typ host\r\n"
	want = "m=audio 9 RTP/AVP 0\r\na=mid:a\r\na=ice-ufrag:S\r\na=ice-pwd:P\r\n" +
		"m=video 9 RTP/AVP 96\r\na=mid:v\r\na=ice-ufrag:S\r\na=ice-pwd:P\r\na=candidate:2 1 udp 1 127.0.0.1 6 typ host\r\n"
	if got := answerFrag(unbundled); got != want {
		t.Errorf("unbundled answer frag:\n%s\nwant\n%s", got, want)
	}
}

func TestICELinks(t *testing.T) {
	got := iceLinks([]protocol.ICEServer{
		{URLs: []string{"stun:duet.example:3478"}},
		{URLs: []string{"turn:duet.example:3478?transport=udp", "bad<url>"}, Username: `1700000000:ab"c`, Credential: `p\w`},
	})
	want := []string{
		`<stun:duet.example:3478>; rel="ice-server"`,
		`<turn:duet.example:3478?transport=udp>; rel="ice-server"; username="1700000000:ab\"c"; credential="p\\w"; credential-type="password"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("links:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAcceptsMedia(t *testing.T) {
	for sdp, want := range map[string]bool{
		testAnswer: true,
		strings.ReplaceAll(testAnswer, "m=video 9 ", "m=video 0 "):                                                 true, // audio taken
		strings.ReplaceAll(strings.ReplaceAll(testAnswer, "m=video 9 ", "m=video 0 "), "m=audio 9 ", "m=audio 0 "): false,
		"v=0\r\n": false,
	} {
		if got := acceptsMedia(sdp); got != want {
			t.Errorf("acceptsMedia = %v, want %v for\n%s", got, want, sdp)
		}
	}
}
