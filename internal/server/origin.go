package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/time/rate"

	"github.com/duet-call/duet/internal/clientaddr"
)

// OriginChecker returns the WebSocket origin policy: requests without an
// Origin (programs, not browsers) and same-origin pages are allowed, and so
// is every origin in allowed ("https://app.example.org", or "*" for any).
// Everything else is refused, which stops cross-site WebSocket hijacking: a
// page elsewhere cannot open a socket to duet with the visitor's network.
func OriginChecker(allowed []string) (func(*http.Request) bool, error) {
	set := map[string]bool{}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if a != "*" {
			u, err := url.Parse(a)
			if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return nil, fmt.Errorf("allowed origin %q: want scheme://host[:port]", a)
			}
			a = strings.ToLower(u.Scheme + "://" + u.Host)
		}
		set[a] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil {
			return false
		}
		// The host the browser asked for: behind a trusted proxy, the one
		// it forwarded (nginx sends its upstream's name as Host unless told
		// otherwise; docs/deploy.md has the configuration).
		if strings.EqualFold(u.Host, clientaddr.From(r).Host) {
			return true
		}
		return set["*"] || set[strings.ToLower(u.Scheme+"://"+u.Host)]
	}, nil
}

// logRefusals wraps an origin check so that refusals are logged (a few a
// second at most), with a hint when the cause is likely the proxy's
// configuration: nginx sends its upstream's address as Host unless told
// otherwise, and then every browser is refused.
func logRefusals(check func(*http.Request) bool, log *slog.Logger) func(*http.Request) bool {
	lim := rate.NewLimiter(2, 5)
	return func(r *http.Request) bool {
		if check(r) {
			return true
		}
		if lim.Allow() {
			c := clientaddr.From(r)
			args := []any{"origin", r.Header.Get("Origin"), "host", c.Host, "client", c.String()}
			if c.Proxied && r.Header.Get("X-Forwarded-Host") == "" && !strings.Contains(r.Header.Get("Forwarded"), "host=") {
				args = append(args, "hint", "the proxy forwards no host: set proxy_set_header Host $host and X-Forwarded-Host $http_host (docs/deploy.md)")
			}
			log.Warn("WebSocket refused: its page is from another origin", args...)
		}
		return false
	}
}
