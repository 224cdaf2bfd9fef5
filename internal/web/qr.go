package web

import (
	"net/http"

	"github.com/duet-call/duet/internal/clientaddr"
	"github.com/duet-call/duet/protocol"
	"rsc.io/qr"
)

// roomLink is the link to room as the browser that asked reached this
// server: what the app puts in its share box (location.origin + /r/room).
// Behind a trusted TLS-terminating proxy, the scheme and host it forwarded.
func roomLink(r *http.Request, room string) string {
	c := clientaddr.From(r)
	return c.Scheme + "://" + c.Host + "/r/" + room
}

// qrHandler serves GET /qr/{room}: a PNG QR code of that room's link on
// this server, for a phone's camera. It encodes only this server's own
// room links (a valid room id, the request's own host), so it is not a QR
// service for arbitrary text, and the input is bounded by the room id's
// length and the Host header's.
func qrHandler(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("room")
	if !protocol.ValidRoom(room) {
		http.Error(w, "bad room id", http.StatusNotFound)
		return
	}
	code, err := qr.Encode(roomLink(r, room), qr.M)
	if err != nil {
		http.Error(w, "cannot encode", http.StatusInternalServerError)
		return
	}
	code.Scale = 6 // about 250 px for a 64-character room id: easy for a phone
	w.Header().Set("Content-Type", "image/png")
	w.Write(code.PNG())
}
