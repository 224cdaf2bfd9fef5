package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
)

// asset is one file as served: its bytes, and gzipped once at start when
// that saves anything, each with its own ETag.
type asset struct {
	ctype      string
	plain, gz  []byte
	etag, gzTg string
}

// assets is the app prepared once: every embedded file by name, the
// versioned pages (one per language for the HTML) and the service worker.
type assets struct {
	version string            // hash of every file: the build's name in /v/<version>/
	files   map[string]*asset // by file name, as embedded
	pages   map[string]*asset // "index.html|en", "check.html|zh-CN", ...
	sw      *asset
}

// langs are the languages the server puts in <html lang>.
var langs = []string{"en", "zh-CN"}

// compressible types are sent gzipped to browsers that take it.
func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "application/manifest+json", "image/svg+xml"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

func newAsset(name string, body []byte) (*asset, error) {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".webmanifest":
		ctype = "application/manifest+json"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	}
	if ctype == "" {
		ctype = http.DetectContentType(body)
	}
	sum := sha256.Sum256(body)
	a := &asset{ctype: ctype, plain: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if compressible(ctype) {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(body); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", name, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", name, err)
		}
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
			a.gzTg = `"` + hex.EncodeToString(sum[:12]) + `-gz"`
		}
	}
	return a, nil
}

// loadAssets reads every file of fsys and prepares what is served.
func loadAssets(fsys fs.FS) (*assets, error) {
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	h := sha256.New()
	raw := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		raw[n] = b
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	a := &assets{version: hex.EncodeToString(h.Sum(nil))[:16], files: map[string]*asset{}, pages: map[string]*asset{}}
	for n, b := range raw {
		if a.files[n], err = newAsset(n, b); err != nil {
			return nil, err
		}
	}
	// The pages load their style and first module from this build's
	// versioned path; the modules' relative imports then stay in it.
	prefix := "/v/" + a.version + "/"
	for _, page := range []string{"index.html", "check.html"} {
		html := string(raw[page])
		html = strings.ReplaceAll(html, `href="/style.css"`, `href="`+prefix+`style.css"`)
		html = strings.ReplaceAll(html, `src="/app.js"`, `src="`+prefix+`app.js"`)
		html = strings.ReplaceAll(html, `src="/check.js"`, `src="`+prefix+`check.js"`)
		html = withModulePreloads(html, raw, "app.js", prefix)
		html = withModulePreloads(html, raw, "check.js", prefix)
		for _, l := range langs {
			v := strings.Replace(html, `<html lang="en">`, `<html lang="`+l+`">`, 1)
			if a.pages[page+"|"+l], err = newAsset(page, []byte(v)); err != nil {
				return nil, err
			}
		}
	}
	// The service worker keeps this build's shell: the two pages and
	// every file, by its versioned path (docs/architecture.md, "Caching").
	shell := []string{"/", "/check", "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/apple-touch-icon.png"}
	for _, n := range names {
		if n != "sw.js" && !strings.HasSuffix(n, ".html") && !strings.HasSuffix(n, ".go") {
			shell = append(shell, prefix+n)
		}
	}
	list, _ := json.Marshal(shell)
	sw := strings.Replace(string(raw["sw.js"]), "__DUET_VERSION__", a.version, 1)
	sw = strings.Replace(sw, "__DUET_SHELL__", string(list), 1)
	if a.sw, err = newAsset("sw.js", []byte(sw)); err != nil {
		return nil, err
	}
	return a, nil
}

// serve writes a: gzipped when the browser takes it, 304 when its ETag
// matches what the browser has. cache is the Cache-Control to send.
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	body, etag := a.plain, a.etag
	hdr := w.Header()
	if a.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, a.gzTg
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("Content-Type", a.ctype)
	hdr.Set("Cache-Control", cache)
	hdr.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, etag) {
		hdr.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// acceptsGzip reads Accept-Encoding: gzip listed, and not with q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") || strings.TrimSpace(name) == "*" {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// etagMatch: whether an If-None-Match list names etag (or is *).
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
