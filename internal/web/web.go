// Package web serves the embedded browser app with a strict CSP.
package web

import (
	"net/http"

	"github.com/duet-call/duet/protocol"
	files "github.com/duet-call/duet/web"
)

// Handler serves the app: index.html at / and at /r/{room}, the pre-call
// check at /check, a QR code of
// a room's link at /qr/{room}, the other files by name.
func Handler() http.Handler {
	mux := http.NewServeMux()
	static := http.FileServerFS(files.Files)
	mux.Handle("GET /", withHeaders(static))
	mux.Handle("GET /r/{room}", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !protocol.ValidRoom(r.PathValue("room")) {
			http.Error(w, "bad room id", http.StatusNotFound)
			return
		}
		http.ServeFileFS(w, r, files.Files, "index.html")
	})))
	mux.Handle("GET /check", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files.Files, "check.html")
	})))
	mux.Handle("GET /qr/{room}", withHeaders(http.HandlerFunc(qrHandler)))
	return mux
}

// withHeaders adds the headers every page gets. The CSP allows nothing from
// other origins: the app loads no CDN, font or analytics.
func withHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		// The modules import each other by plain names, so after an
		// upgrade a browser must not mix cached old ones with new ones.
		// They are small; revalidating each load costs little.
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
