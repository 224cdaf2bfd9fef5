package wsconn

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// acceptGUID is the fixed GUID of RFC 6455 section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Upgrade answers a WebSocket opening handshake (RFC 6455 section 4.2) and
// returns the hijacked connection. On a bad request it writes the HTTP
// error itself and returns an error. A nil checkOrigin allows requests
// without an Origin (programs) and same-origin pages only, as gorilla's
// Upgrader did: a page elsewhere must not ride a visitor's browser into a
// room unless the caller says so.
//
// No subprotocols and no extensions are negotiated: duet's clients use
// neither, and without permessage-deflate an idle connection needs no
// compressor state.
func Upgrade(w http.ResponseWriter, r *http.Request, checkOrigin func(*http.Request) bool) (net.Conn, error) {
	fail := func(status int, msg string) (net.Conn, error) {
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, msg, status)
		return nil, fmt.Errorf("websocket handshake: %s", msg)
	}
	switch {
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, "a WebSocket handshake is a GET")
	case r.ProtoMajor != 1 || r.ProtoMinor < 1:
		// RFC 6455 section 4.2.1: an HTTP/1.1 (or later) GET. An HTTP/1.0
		// client knows nothing of Upgrade and may not keep the socket.
		return fail(http.StatusBadRequest, "a WebSocket handshake needs HTTP/1.1")
	case !headerHas(r.Header, "Connection", "upgrade"):
		return fail(http.StatusBadRequest, "missing Connection: Upgrade")
	case !headerHas(r.Header, "Upgrade", "websocket"):
		return fail(http.StatusBadRequest, "missing Upgrade: websocket")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return fail(http.StatusUpgradeRequired, "unsupported WebSocket version")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fail(http.StatusBadRequest, "bad Sec-WebSocket-Key")
	}
	if checkOrigin == nil {
		checkOrigin = SameOrigin
	}
	if !checkOrigin(r) {
		return fail(http.StatusForbidden, "origin not allowed")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return fail(http.StatusInternalServerError, "connection cannot be taken over")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket handshake: hijack: %w", err)
	}
	// A client must wait for our answer before it sends frames; bytes
	// already buffered would be lost with net/http's reader.
	if brw.Reader.Buffered() > 0 {
		nc.Close()
		return nil, errors.New("websocket handshake: client sent data before the handshake completed")
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte(resp)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: write: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, nil
}

// SameOrigin allows a request without an Origin header, or whose Origin
// names the host the request was sent to.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// headerHas reports whether a comma-separated header has token, ignoring case.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
