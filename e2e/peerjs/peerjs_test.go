package peerjs_test

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// clientError is what the PeerJS client reports in its "error" event.
type clientError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// observed is everything the test sees the real client do against one
// server. Ids that differ between runs are replaced by placeholders, so the
// observations of duet and the reference server can be compared whole.
type observed struct {
	AssignedIDOK bool
	Echoes       []string
	Received     []string
	CallerFrames bool
	CalleeFrames bool
	IDTaken      clientError
	InvalidKey   clientError
	Unavailable  clientError
}

var idRule = regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)

// runScenario drives two pages through a data connection and a call, and
// a third through the refusals, against tg.
func runScenario(t *testing.T, b context.Context, pageBase string, tg target) observed {
	t.Helper()
	var obs observed
	a := newPage(t, b, pageURL(pageBase, tg))
	c := newPage(t, b, pageURL(pageBase, tg))
	bob := fmt.Sprintf("bob-%d", time.Now().UnixNano())

	// A takes an id from the server's /id endpoint, B chooses its own.
	var idA, idB string
	eval(t, a, `start("")`, &idA)
	eval(t, c, fmt.Sprintf(`start(%q)`, bob), &idB)
	obs.AssignedIDOK = idRule.MatchString(idA) && idA != idB
	if idB != bob {
		t.Errorf("%s: B opened as %q, want %q", tg.name, idB, bob)
	}

	// DataConnection both ways: A sends five, B echoes each back.
	eval(t, a, fmt.Sprintf(`exchange(%q, 5)`, idB), &obs.Echoes)
	eval(t, c, `window.log.data`, &obs.Received)

	// MediaConnection with the fake camera: both sides decode frames.
	eval(t, a, fmt.Sprintf(`call(%q).then(() => true)`, idB), new(bool))
	waitFor(t, a, "caller to get remote frames", `window.log.remoteFrames >= 10`)
	waitFor(t, c, "callee to get remote frames", `window.log.remoteFrames >= 10`)
	obs.CallerFrames, obs.CalleeFrames = true, true

	// Refusals, as the client reports them.
	d := newPage(t, b, pageURL(pageBase, tg))
	eval(t, d, fmt.Sprintf(`startExpectingError(%q, "")`, idB), &obs.IDTaken)
	eval(t, d, `startExpectingError("keyless", "not-the-key")`, &obs.InvalidKey)
	// EXPIRE of queued messages: an id nobody holds.
	eval(t, a, `connectAbsent("nobody-home")`, &obs.Unavailable)

	obs.IDTaken.Message = strings.ReplaceAll(obs.IDTaken.Message, idB, "<bob>")
	return obs
}

func TestPeerJSClientDuetAndReference(t *testing.T) {
	browser := newBrowser(t)
	pageBase := servePage(t)
	want := observed{
		AssignedIDOK: true,
		Echoes:       []string{"echo:msg-0", "echo:msg-1", "echo:msg-2", "echo:msg-3", "echo:msg-4"},
		Received:     []string{"msg-0", "msg-1", "msg-2", "msg-3", "msg-4"},
		CallerFrames: true,
		CalleeFrames: true,
		IDTaken:      clientError{"unavailable-id", `ID "<bob>" is taken`},
		InvalidKey:   clientError{"server-error", "Invalid key provided"},
		Unavailable:  clientError{"peer-unavailable", "Could not connect to peer nobody-home"},
	}
	results := map[string]observed{}
	for _, start := range []func(*testing.T) target{startDuet, startReference} {
		tg := start(t)
		t.Run(tg.name, func(t *testing.T) {
			got := runScenario(t, browser, pageBase, tg)
			results[tg.name] = got
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got  %+v\n want %+v", tg.name, got, want)
			}
		})
	}
	if d, r := results["duet"], results["peerjs-server"]; len(results) == 2 && !reflect.DeepEqual(d, r) {
		t.Errorf("duet and peerjs-server differ:\n duet          %+v\n peerjs-server %+v", d, r)
	}
}
