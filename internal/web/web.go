// Package web serves the embedded browser app with a strict CSP:
// compressed once at start, cached for long under versioned paths, and
// the page's language set from Accept-Language.
package web

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/duet-call/duet/protocol"
	files "github.com/duet-call/duet/web"
)

// Cache-Control values. Versioned files never change under their name;
// everything else is revalidated on each load (an ETag makes that a 304).
const (
	cacheForever    = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// Handler serves the app: index.html at / and at /r/{room}, the pre-call
// check at /check, this build's files under /v/{version}/ (cached for a
// year), the service worker at /sw.js, a QR code of a room's link at
// /qr/{room}, and the other files by name.
func Handler() http.Handler {
	a, err := loadAssets(files.Files)
	if err != nil {
		// The files are compiled in: this is a broken build, not input.
		panic("web: " + err.Error())
	}
	mux := http.NewServeMux()
	page := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Accept-Language")
			a.pages[name+"|"+pageLang(r.Header.Get("Accept-Language"))].serve(w, r, cacheRevalidate)
		})
	}
	mux.Handle("GET /{$}", withHeaders(page("index.html")))
	mux.Handle("GET /r/{room}", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !protocol.ValidRoom(r.PathValue("room")) {
			http.Error(w, "bad room id", http.StatusNotFound)
			return
		}
		page("index.html").ServeHTTP(w, r)
	})))
	mux.Handle("GET /check", withHeaders(page("check.html")))
	mux.Handle("GET /sw.js", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.sw.serve(w, r, cacheRevalidate)
	})))
	// This build's files. Another build's version is a page from before
	// an upgrade: it gets 404 rather than a newer module to mix with its
	// older ones (the service worker then reloads it from the network).
	mux.Handle("GET /v/{version}/{file}", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := a.files[r.PathValue("file")]
		if r.PathValue("version") != a.version || f == nil || strings.HasSuffix(r.PathValue("file"), ".html") {
			http.NotFound(w, r)
			return
		}
		f.serve(w, r, cacheForever)
	})))
	mux.Handle("GET /favicon.ico", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.files["icon-192.png"].serve(w, r, cacheRevalidate)
	})))
	mux.Handle("GET /{file}", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		f := a.files[name]
		if f == nil || name == "sw.js" {
			http.NotFound(w, r)
			return
		}
		if name == "index.html" || name == "check.html" {
			http.Redirect(w, r, map[string]string{"index.html": "/", "check.html": "/check"}[name], http.StatusMovedPermanently)
			return
		}
		f.serve(w, r, cacheRevalidate)
	})))
	mux.Handle("GET /qr/{room}", withHeaders(http.HandlerFunc(qrHandler)))
	return mux
}

// pageLang is the language for <html lang> from an Accept-Language
// header: the most preferred of the app's languages, English when the
// header names neither. The app itself may then switch to a language
// the person chose before (kept in the browser).
func pageLang(header string) string {
	type pref struct {
		tag string
		q   float64
		i   int
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		if i >= 32 { // a browser sends a handful; more is not a browser
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		prefs = append(prefs, pref{strings.ToLower(strings.TrimSpace(tag)), q, i})
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if p.q <= 0 {
			continue
		}
		if p.tag == "zh" || strings.HasPrefix(p.tag, "zh-") {
			return "zh-CN"
		}
		if p.tag == "en" || strings.HasPrefix(p.tag, "en-") {
			return "en"
		}
	}
	return "en"
}

// withHeaders adds the headers every page gets. The CSP allows nothing from
// other origins: the app loads no CDN, font or analytics.
func withHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
