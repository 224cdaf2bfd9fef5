package whip

import (
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/duet-call/duet/protocol"
)

// create is POST /whip/{room} and /whep/{room}: the tool takes the room's
// other place, its offer goes to the person there, and the answer (with
// the candidates the person's app gathered) comes back as 201 Created.
func (s *Service) create(w http.ResponseWriter, r *http.Request, kind string) {
	start := time.Now()
	room := r.PathValue("room")
	if err := s.admit(r); err != nil {
		writeErr(w, err)
		return
	}
	if !protocol.ValidRoom(room) {
		writeErr(w, badRequest(string(protocol.CodeBadRoom), "a room id is 1 to %d characters from A-Z a-z 0-9 _ -", protocol.MaxRoomLen))
		return
	}
	if !hasType(r, "application/sdp") {
		w.Header().Set("Accept-Post", "application/sdp")
		writeErr(w, &httpErr{http.StatusUnsupportedMediaType, "bad-content-type", "the body must be an SDP offer, Content-Type: application/sdp", 0})
		return
	}
	body, err := readBody(w, r, maxOfferBytes)
	if err != nil {
		writeErr(w, err)
		return
	}
	info, err := readOffer(body)
	if err != nil {
		writeErr(w, badRequest("bad-sdp", "the body is not an SDP offer (v=0 and at least one m= section)"))
		return
	}
	if left := s.cooldown(room); left > 0 {
		writeErr(w, &httpErr{http.StatusForbidden, "dismissed", "the person in this room sent the last WHIP/WHEP client away; not before the cooldown ends", left})
		return
	}
	hub := s.hub.Load()
	if hub == nil {
		writeErr(w, errNotReady)
		return
	}
	res := newResource(s, room, kind, body, info)
	place, err := hub.JoinLocal(room, kind, clientKey(r), res)
	if err != nil {
		writeErr(w, err)
		return
	}
	res.place = place
	res.op.Lock()
	answer, err := res.exchangeOffer(r.Context(), body)
	res.op.Unlock()
	if err == nil {
		err = s.register(res)
	}
	if err != nil {
		place.Leave()
		s.log.Info("whip: offer not answered", "kind", kind, "room", room, "err", err)
		writeErr(w, err)
		return
	}
	h := w.Header()
	h.Set("Location", "/"+kind+"/"+room+"/"+res.id)
	h.Set("ETag", res.currentETag())
	h.Set("Content-Type", "application/sdp")
	h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	h.Set("Cache-Control", "no-store")
	s.links(w, r, place.PeerID())
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
	s.log.Info("whip: session started", "kind", kind, "room", room, "took", time.Since(start).Round(time.Millisecond))
}

func (r *resource) currentETag() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.etag
}

// patch is PATCH on a session: trickled candidates from the tool (204), or
// an ICE restart (200 with the peer's new credentials and candidates).
func (s *Service) patch(w http.ResponseWriter, r *http.Request, kind string) {
	if err := s.admit(r); err != nil {
		writeErr(w, err)
		return
	}
	res := s.lookup(kind, r.PathValue("room"), r.PathValue("id"))
	if res == nil {
		writeErr(w, errNotFound)
		return
	}
	if !hasType(r, "application/trickle-ice-sdpfrag") {
		w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
		writeErr(w, &httpErr{http.StatusUnsupportedMediaType, "bad-content-type", "PATCH takes Content-Type: application/trickle-ice-sdpfrag", 0})
		return
	}
	body, err := readBody(w, r, maxFragBytes)
	if err != nil {
		writeErr(w, err)
		return
	}
	res.mu.Lock()
	etag, info, offerSDP := res.etag, res.offer, res.offerSDP
	res.mu.Unlock()
	f, err := readFrag(body, info.mids)
	if err != nil {
		writeErr(w, badRequest("bad-sdpfrag", "%v", err))
		return
	}
	restart := f.ufrag != "" && f.pwd != "" && f.ufrag != info.ufrag
	// RFC 9725, 4.3: a trickle carries the current entity tag, a restart
	// "*". Clients that send none are taken at their word.
	if m := r.Header.Get("If-Match"); m != "" && m != etag && !(restart && m == "*") {
		writeErr(w, &httpErr{http.StatusPreconditionFailed, "stale-etag", "If-Match does not name this session's current ICE generation", 0})
		return
	}
	if !restart {
		s.trickle(w, res, f, info.ufrag)
		return
	}
	if !res.op.TryLock() {
		writeErr(w, errBusy)
		return
	}
	defer res.op.Unlock()
	offer := restartOffer(offerSDP, f)
	answer, err := res.exchangeOffer(r.Context(), offer)
	if err != nil {
		writeErr(w, err)
		return
	}
	info, _ = readOffer(offer)
	res.mu.Lock()
	res.offerSDP, res.offer, res.etag = offer, info, newETag()
	etag = res.etag
	res.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/trickle-ice-sdpfrag")
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, answerFrag(answer))
}

// trickle relays the fragment's candidates to the peer. Candidates of an
// older ICE generation (another ufrag) are stale and dropped, as RFC 8840
// says a receiver does.
func (s *Service) trickle(w http.ResponseWriter, res *resource, f frag, ufrag string) {
	if f.ufrag == "" || f.ufrag == ufrag {
		for _, c := range f.cands {
			if err := res.place.Send(&protocol.Candidate{Candidate: c}); err != nil {
				writeErr(w, err)
				return
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// delete is DELETE on a session: the tool is done; the person hears
// peer-left.
func (s *Service) delete(w http.ResponseWriter, r *http.Request, kind string) {
	if err := s.admit(r); err != nil {
		writeErr(w, err)
		return
	}
	res := s.lookup(kind, r.PathValue("room"), r.PathValue("id"))
	if res == nil {
		writeErr(w, errNotFound)
		return
	}
	left := res.place.Leave()
	s.forget(res, protocol.ReasonLeft)
	if !left {
		writeErr(w, errNotFound) // it ended as this request came in
		return
	}
	w.WriteHeader(http.StatusOK)
}

// hasType reports whether the request's Content-Type is want (parameters
// such as charset allowed).
func hasType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

// readBody reads at most limit bytes of the body, or fails with
// *http.MaxBytesError.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return "", err
	}
	return string(b), nil
}
