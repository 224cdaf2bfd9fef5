package whip

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/protocol"
)

// resource is one WHIP or WHEP session: a place in a room (signal.Local)
// and what the server keeps to answer the tool's requests.
//
// Locking: mu guards the fields below it. Relay and Ended are called by
// the hub with its own lock held, so the order is Hub.mu → resource.mu
// and Hub.mu → Service.mu; neither is ever held while calling the hub,
// and the two are never held together except in Service.register
// (Service.mu → resource.mu), which Ended does not nest.
type resource struct {
	svc   *Service
	id    string // the unguessable part of the resource URL
	room  string
	kind  string        // protocol.KindWHIP or KindWHEP
	place *signal.Local // set before the resource is registered; then fixed

	op sync.Mutex // one offer/answer exchange at a time (POST, ICE restart)

	mu       sync.Mutex
	offerSDP string    // the offer the peer last took
	offer    offerInfo // read from offerSDP
	etag     string    // changes with every ICE restart
	ex       *exchange // the exchange in flight, if any
	ended    string    // why the place ended; "" while it holds
	changed  chan struct{}
}

// exchange collects the peer's answer to one offer, and the candidates it
// trickles after it.
type exchange struct {
	answer   string
	answered time.Time
	cands    []protocol.ICECandidate
	complete bool // the peer sent end-of-candidates
}

// maxAnswerCandidates bounds what one exchange keeps: a browser gathers a
// handful per network interface and server.
const maxAnswerCandidates = 64

func newResource(svc *Service, room, kind, offerSDP string, info offerInfo) *resource {
	return &resource{
		svc: svc, id: randomID(), room: room, kind: kind,
		offerSDP: offerSDP, offer: info, etag: newETag(),
		changed: make(chan struct{}, 1),
	}
}

// randomID is 128 random bits, URL-safe: a resource URL is a capability.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newETag() string {
	b := make([]byte, 8)
	rand.Read(b)
	return `"` + hex.EncodeToString(b) + `"`
}

// kickLocked wakes the exchange's waiter; mu is held.
func (r *resource) kickLocked() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Relay takes the peer's answer and candidates (signal.LocalHandler; the
// hub's lock is held). What arrives with no exchange in flight — a
// candidate trickled after the answer went out — has nowhere to go: a
// WHIP client reads candidates only from the answer (docs/whip.md).
func (r *resource) Relay(m protocol.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ex := r.ex
	if ex == nil {
		return
	}
	switch v := m.(type) {
	case *protocol.Description:
		if v.Description.Type == "answer" && ex.answer == "" {
			ex.answer, ex.answered = v.Description.SDP, time.Now()
		}
	case *protocol.Candidate:
		if v.Candidate.Candidate == "" {
			ex.complete = true
		} else if len(ex.cands) < maxAnswerCandidates {
			ex.cands = append(ex.cands, v.Candidate)
		}
	}
	r.kickLocked()
}

// Ended hears that the hub ended the place (signal.LocalHandler; the
// hub's lock is held).
func (r *resource) Ended(reason string) {
	r.mu.Lock()
	r.ended = reason
	r.kickLocked()
	r.mu.Unlock()
	r.svc.forget(r, reason)
}

func (r *resource) endedReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// exchangeOffer sends sdp to the peer as an offer and waits for its answer
// and the candidates it gathers (see await). r.op is held by the caller.
func (r *resource) exchangeOffer(ctx context.Context, sdp string) (string, error) {
	r.mu.Lock()
	r.ex = &exchange{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.ex = nil
		r.mu.Unlock()
	}()
	if err := r.place.Send(&protocol.Description{Description: protocol.SessionDescription{Type: "offer", SDP: sdp}}); err != nil {
		return "", err
	}
	return r.await(ctx)
}

// await returns the peer's answer with its trickled candidates written in,
// once the peer has sent end-of-candidates, or GatherWait after the answer
// with the candidates it had by then: a WHIP client that cannot trickle
// still gets every candidate a quick peer has, and none waits long for a
// slow STUN or TURN server. Without an answer within AnswerTimeout it
// fails with errNoAnswer.
func (r *resource) await(ctx context.Context) (string, error) {
	cfg := r.svc.cfg
	noAnswer := time.NewTimer(cfg.AnswerTimeout)
	defer noAnswer.Stop()
	answerDue := noAnswer.C
	var gather *time.Timer
	var gathered <-chan time.Time
	defer func() {
		if gather != nil {
			gather.Stop()
		}
	}()
	for {
		r.mu.Lock()
		ended, ex := r.ended, *r.ex
		ex.cands = append([]protocol.ICECandidate(nil), ex.cands...)
		r.mu.Unlock()
		switch {
		case ended != "":
			return "", &endedError{ended}
		case ex.answer != "" && !acceptsMedia(ex.answer):
			return "", errMediaRefused
		case ex.answer != "" && ex.complete:
			return withCandidates(ex.answer, ex.cands, true), nil
		case ex.answer != "" && gather == nil:
			gather = time.NewTimer(cfg.GatherWait)
			gathered, answerDue = gather.C, nil
		}
		select {
		case <-r.changed:
		case <-answerDue:
			return "", errNoAnswer
		case <-gathered:
			r.mu.Lock()
			ex := *r.ex
			r.mu.Unlock()
			return withCandidates(ex.answer, ex.cands, ex.complete), nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}
