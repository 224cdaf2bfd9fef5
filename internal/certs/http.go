package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HSTS returns middleware that adds Strict-Transport-Security with maxAge
// to every response of a request that came over TLS, as r.TLS says. A
// plain-HTTP response never carries it (RFC 6797 §7.2: browsers ignore it
// there, and a proxy in front is the one to set it for its own TLS). A
// listener that wraps its *tls.Conn must keep r.TLS set: net/http fills it
// from a conn with a ConnectionState() tls.ConnectionState method. No
// includeSubDomains (duet owns one name, not the zone) and no preload.
// maxAge <= 0 returns next unchanged.
func HSTS(maxAge time.Duration) func(next http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if maxAge <= 0 {
			return next
		}
		value := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil {
				w.Header().Set("Strict-Transport-Security", value)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RedirectHandler answers every request with 308 Permanent Redirect to
// the same host, path and query over HTTPS on httpsPort (left out when it
// is 443). 308 rather than 301 keeps the method and body of anything that
// is not a GET.
func RedirectHandler(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host == "" {
			http.Error(w, "this port only redirects to HTTPS, and the request names no host", http.StatusBadRequest)
			return
		}
		target := host
		if httpsPort != 443 {
			target = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		} else if strings.Contains(host, ":") {
			target = "[" + host + "]"
		}
		// Not http.Redirect: it would clean the path and, for a GET,
		// write an HTML body nobody reads.
		w.Header().Set("Location", "https://"+target+r.URL.RequestURI())
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// PlainServer is the plain-HTTP side of an HTTPS deployment (port 80):
// ACME HTTP-01 answers and the redirect to HTTPS. Nothing else is served
// there, so its timeouts are short.
type PlainServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error

	once sync.Once
	err  error
}

// ListenPlain opens addr and serves h on it in the background.
func ListenPlain(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*PlainServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http redirect: listen on %s: %w", addr, err)
	}
	s := &PlainServer{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address it listens on.
func (s *PlainServer) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops it, waiting for requests in flight until ctx ends. Safe
// to call more than once.
func (s *PlainServer) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		s.err = errors.Join(err, <-s.done)
	})
	return s.err
}
