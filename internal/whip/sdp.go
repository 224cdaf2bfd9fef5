package whip

import (
	"errors"
	"strconv"
	"strings"

	"github.com/duet-call/duet/protocol"
)

// duet does not interpret media: the SDP is the tool's and the peer's
// business. The server reads only what WHIP needs from it — the m-sections'
// mids, the ICE credentials and candidates — and writes only candidate
// lines and ICE credentials into it. Everything else passes as it came.

var errBadSDP = errors.New("not an SDP offer")

// sdpLines splits an SDP body into lines without their CRLF (or LF).
func sdpLines(s string) []string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func joinSDP(lines []string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// offerInfo is what the server keeps of an offer.
type offerInfo struct {
	mids  []string // per m-section, in order ("" when a section has none)
	ufrag string   // the offerer's first ice-ufrag, session or media level
}

// readOffer checks that body looks like an SDP offer a peer can take and
// reads its mids and ICE username fragment.
func readOffer(body string) (offerInfo, error) {
	var info offerInfo
	lines := sdpLines(body)
	if len(lines) == 0 || lines[0] != "v=0" {
		return info, errBadSDP
	}
	for _, l := range lines {
		if len(l) < 2 || l[1] != '=' || strings.ContainsRune(l, '\r') {
			return info, errBadSDP
		}
		switch {
		case strings.HasPrefix(l, "m="):
			info.mids = append(info.mids, "")
		case strings.HasPrefix(l, "a=mid:") && len(info.mids) > 0:
			info.mids[len(info.mids)-1] = strings.TrimPrefix(l, "a=mid:")
		case strings.HasPrefix(l, "a=ice-ufrag:") && info.ufrag == "":
			info.ufrag = strings.TrimPrefix(l, "a=ice-ufrag:")
		}
	}
	if len(info.mids) == 0 {
		return info, errBadSDP
	}
	return info, nil
}

// acceptsMedia reports whether an answer took any m-section: a rejected
// one has port 0. Firefox without its OpenH264 plugin answers an
// H.264-only offer with every section rejected.
func acceptsMedia(answer string) bool {
	for _, l := range sdpLines(answer) {
		if f := strings.Fields(l); strings.HasPrefix(l, "m=") && len(f) > 1 && f[1] != "0" {
			return true
		}
	}
	return false
}

// section is one m-section of an SDP: lines[start:end].
type section struct {
	mid        string
	start, end int
}

func sections(lines []string) []section {
	var out []section
	for i, l := range lines {
		if strings.HasPrefix(l, "m=") {
			if n := len(out); n > 0 {
				out[n-1].end = i
			}
			out = append(out, section{start: i})
		} else if n := len(out); n > 0 && strings.HasPrefix(l, "a=mid:") && out[n-1].mid == "" {
			out[n-1].mid = strings.TrimPrefix(l, "a=mid:")
		}
	}
	if n := len(out); n > 0 {
		out[n-1].end = len(lines)
	}
	return out
}

// sectionFor picks the m-section a candidate belongs to: by sdpMid, else
// by sdpMLineIndex, else the first.
func sectionFor(secs []section, c protocol.ICECandidate) int {
	if c.SDPMid != nil {
		for i, s := range secs {
			if s.mid == *c.SDPMid {
				return i
			}
		}
	}
	if c.SDPMLineIndex != nil && int(*c.SDPMLineIndex) < len(secs) {
		return int(*c.SDPMLineIndex)
	}
	return 0
}

// withCandidates writes cands into sdp as a=candidate lines of their
// m-sections, skipping those already there, and a=end-of-candidates into
// every section when complete. This is how candidates the peer trickled
// reach a WHIP client, which can only read them from the answer.
func withCandidates(sdp string, cands []protocol.ICECandidate, complete bool) string {
	lines := sdpLines(sdp)
	secs := sections(lines)
	if len(secs) == 0 {
		return sdp
	}
	have := map[string]bool{}
	for _, l := range lines {
		if strings.HasPrefix(l, "a=candidate:") {
			have[l] = true
		}
	}
	add := make([][]string, len(secs))
	for _, c := range cands {
		if c.Candidate == "" || strings.ContainsAny(c.Candidate, "\r\n") {
			continue // nothing the peer sends may add lines of its own
		}
		l := "a=" + c.Candidate
		if have[l] {
			continue
		}
		have[l] = true
		i := sectionFor(secs, c)
		add[i] = append(add[i], l)
	}
	out := make([]string, 0, len(lines)+len(cands)+len(secs))
	out = append(out, lines[:secs[0].start]...)
	for i, s := range secs {
		body := lines[s.start:s.end]
		out = append(out, body...)
		out = append(out, add[i]...)
		if complete && !contains(body, "a=end-of-candidates") {
			out = append(out, "a=end-of-candidates")
		}
	}
	return joinSDP(out)
}

func contains(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}

// frag is a parsed application/trickle-ice-sdpfrag body (RFC 8840).
type frag struct {
	ufrag, pwd string
	cands      []protocol.ICECandidate // end-of-candidates as an empty candidate
}

const maxFragCandidates = 64

var errBadFrag = errors.New("not a trickle-ice-sdpfrag")

// readFrag parses a trickle or restart fragment. A candidate takes the
// mid of the m= line it follows (or its index among the fragment's m=
// lines mapped onto the offer's mids when it has no a=mid), and the
// fragment's ufrag.
func readFrag(body string, offerMids []string) (frag, error) {
	var f frag
	mline, mid := -1, ""
	midOf := func() *string {
		m := mid
		if m == "" && mline >= 0 && mline < len(offerMids) {
			m = offerMids[mline]
		}
		if m == "" && len(offerMids) > 0 {
			m = offerMids[0]
		}
		return &m
	}
	var raw []struct {
		line  string
		mid   *string
		index uint16
	}
	for _, l := range sdpLines(body) {
		if strings.ContainsRune(l, '\r') {
			return f, errBadFrag
		}
		switch {
		case l == "":
		case strings.HasPrefix(l, "m="):
			mline++
			mid = ""
		case strings.HasPrefix(l, "a=mid:"):
			mid = strings.TrimPrefix(l, "a=mid:")
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(l, "a=ice-ufrag:")
		case strings.HasPrefix(l, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(l, "a=ice-pwd:")
		case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
			if len(raw) >= maxFragCandidates {
				return f, errors.New("more than " + strconv.Itoa(maxFragCandidates) + " candidates in one fragment")
			}
			raw = append(raw, struct {
				line  string
				mid   *string
				index uint16
			}{l, midOf(), uint16(max(mline, 0))})
		case len(l) < 2 || l[1] != '=':
			return f, errBadFrag
		}
	}
	for _, r := range raw {
		c := protocol.ICECandidate{SDPMid: r.mid}
		if r.line != "a=end-of-candidates" {
			c.Candidate = strings.TrimPrefix(r.line, "a=")
		}
		if f.ufrag != "" {
			u := f.ufrag
			c.UsernameFragment = &u
		}
		f.cands = append(f.cands, c)
	}
	return f, nil
}

// restartOffer is the offer the peer gets for a WHIP client's ICE restart:
// the last offer with the fragment's credentials and candidates in place
// of the old ones. WHIP never renegotiates anything but ICE, so the rest
// of the session stays as it was offered.
func restartOffer(offer string, f frag) string {
	var kept []string
	for _, l := range sdpLines(offer) {
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			kept = append(kept, "a=ice-ufrag:"+f.ufrag)
		case strings.HasPrefix(l, "a=ice-pwd:"):
			kept = append(kept, "a=ice-pwd:"+f.pwd)
		case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
		default:
			kept = append(kept, l)
		}
	}
	complete := false
	for _, c := range f.cands {
		complete = complete || c.Candidate == ""
	}
	return withCandidates(joinSDP(kept), f.cands, complete)
}

// answerFrag is the body of the answer to an ICE restart PATCH: for each
// m-section of the peer's answer, its m= and mid lines, its ICE
// credentials (session-level ones repeated in it) and its candidates.
// With BUNDLE only the first section has a transport of its own, so only
// it is listed.
func answerFrag(answer string) string {
	lines := sdpLines(answer)
	secs := sections(lines)
	var sessUfrag, sessPwd string
	var out []string
	bundled := false
	end := len(lines)
	if len(secs) > 0 {
		end = secs[0].start
	}
	for _, l := range lines[:end] {
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			sessUfrag = l
		case strings.HasPrefix(l, "a=ice-pwd:"):
			sessPwd = l
		case strings.HasPrefix(l, "a=group:BUNDLE"):
			bundled = true
			out = append(out, l)
		case strings.HasPrefix(l, "a=ice-options:"):
			out = append(out, l)
		}
	}
	for i, s := range secs {
		if bundled && i > 0 {
			break // bundled sections share the first one's transport
		}
		ufrag, pwd := sessUfrag, sessPwd
		var cands []string
		for _, l := range lines[s.start:s.end] {
			switch {
			case strings.HasPrefix(l, "a=ice-ufrag:"):
				ufrag = l
			case strings.HasPrefix(l, "a=ice-pwd:"):
				pwd = l
			case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
				cands = append(cands, l)
			}
		}
		out = append(out, lines[s.start])
		if s.mid != "" {
			out = append(out, "a=mid:"+s.mid)
		}
		if ufrag != "" {
			out = append(out, ufrag)
		}
		if pwd != "" {
			out = append(out, pwd)
		}
		out = append(out, cands...)
	}
	return joinSDP(out)
}
