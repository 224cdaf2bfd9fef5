package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	files "github.com/duet-call/duet/web"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

func TestServesApp(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, wantType, wantBody string
		status                   int
	}{
		{"/", "text/html", `data-testid="new-call-button"`, 200},
		{"/r/8rTq3VbB0nHc2xYk1LpZ0w", "text/html", `data-testid="remote-video"`, 200},
		{"/app.js", "text/javascript", "window.duet", 200},
		{"/call.js", "text/javascript", "perfect negotiation", 200},
		{"/style.css", "text/css", ".stage", 200},
		{"/icon.svg", "image/svg+xml", "<svg", 200},
		{"/check", "text/html", `data-testid="check-verdict"`, 200},
		{"/check.js", "text/javascript", "./signaling.js", 200},
		{"/r/bad.room", "", "", 404},
		{"/r/" + strings.Repeat("a", 65), "", "", 404},
		{"/nope.js", "", "", 404},
	} {
		res := get(t, h, tc.path)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, res.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.wantType)
		}
		if !strings.Contains(string(body), tc.wantBody) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.wantBody)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" && !strings.HasPrefix(tc.path, "/v/") {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tc.path, cc)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q, want default-src 'self' and no unsafe-inline", tc.path, csp)
		}
	}
}

// The CSP forbids inline script and style, so a page that used them would
// break silently in the browser; catch it here instead.
func TestNoInlineScriptOrStyle(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTag := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	styleAttr := regexp.MustCompile(`\sstyle\s*=`)
	styleTag := regexp.MustCompile(`<style[\s>]`)
	handlerAttr := regexp.MustCompile(`\son[a-z]+\s*=`)
	err := fs.WalkDir(files.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := fs.ReadFile(files.Files, path)
		if err != nil {
			return err
		}
		s := string(b)
		for name, re := range map[string]*regexp.Regexp{
			"inline <script>":           inlineScript,
			"style= attribute":          styleAttr,
			"<style> element":           styleTag,
			"on...= event handler attr": handlerAttr,
		} {
			if m := re.FindString(s); m != "" {
				t.Errorf("%s has an %s (%q), which the CSP blocks", path, name, m)
			}
		}
		for _, tag := range scriptTag.FindAllString(s, -1) {
			if !strings.Contains(tag, " src=") {
				t.Errorf("%s has a <script> without src (%q), which the CSP blocks", path, tag)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every data-testid that docs/ui.md promises is in the page.
func TestTestIDs(t *testing.T) {
	b, err := fs.ReadFile(files.Files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"local-video", "remote-video", "call-status", "hangup-button", "new-call-button",
		"chat-input", "chat-send", "chat-log", "room-link", "join-code", "join-button",
		"rejoin-button", "media-notice",
		// Issue 6: the in-call controls, files, stats and language.
		"copy-link-button", "lang-switch", "home-name", "mute-button", "camera-button",
		"screen-button", "pip-button", "fullscreen-button", "devices-button", "devices-panel",
		"display-name", "camera-select", "mic-select", "speaker-select", "remote-muted",
		"remote-camera-off", "remote-sharing", "remote-name", "file-input", "file-error",
		"file-list", "stats-button", "stats-panel", "stats-path", "stats-candidates",
		"stats-rtt", "stats-send", "stats-recv", "stats-loss", "stats-video-in",
		"stats-video-out", "stats-codecs", "stats-chart",
		// Issue 15: the stage, its bars and panels.
		"stage", "stage-card", "stage-title", "stage-text", "share-link-button", "self-view",
		"remote-placeholder", "controls", "flip-camera-button", "chat-button", "unread-badge",
		"chat-panel", "more-button", "more-menu", "music-button", "notify-button", "call-timer",
		"signal", "verify", "verify-help", "card-new-call", "qr-code",
	} {
		if !strings.Contains(string(b), `data-testid="`+id+`"`) {
			t.Errorf("index.html lacks data-testid %q", id)
		}
	}
}
