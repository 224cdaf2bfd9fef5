package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
