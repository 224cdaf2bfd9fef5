package turnserver

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/duet-call/duet/internal/turncred"
	"github.com/duet-call/duet/protocol"
)

// DefaultTTL is how long minted TURN credentials stay valid for new
// allocations.
const DefaultTTL = time.Hour

// ICE hands out the ICE servers a browser should use. A nil *ICE is LAN
// mode: no STUN, no TURN.
type ICE struct {
	// Host is the host name or IP put in the URLs. Empty means the host the
	// client used to reach the HTTP server, which makes localhost and LAN
	// addresses work without configuration.
	Host string
	// Port is the STUN/TURN port (UDP and TCP).
	Port int
	// TLSPort, when set, adds a turns: URL on this port (the TURN-over-TLS
	// port, or the HTTPS port in one-port mode), after the UDP and TCP ones.
	TLSPort int
	// TLSHost is the host of the turns: URL; it must be a name the
	// certificate covers. Empty means the host the client used to reach the
	// HTTP server (which its certificate covered), not Host: Host may be the
	// relay's bare IP (--turn-public-ip).
	TLSHost string
	// URLs replaces the generated URLs: an external TURN server such as
	// coturn (--turn-url). Each is given the same credential.
	URLs []string
	// Secret is the TURN REST secret shared with the TURN server.
	Secret string
	// TTL is the credential lifetime; 0 means DefaultTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Servers returns a STUN server and a TURN server (UDP, TCP and, with
// TLSPort, TLS) with a fresh
// credential for a new random user id. requestHost is the Host of the HTTP
// request, with or without a port. The result is never nil.
func (c *ICE) Servers(requestHost string) []protocol.ICEServer {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return c.ServersFor(requestHost, hex.EncodeToString(b[:]))
}

// ServersFor is Servers with a chosen user id (no colon), which becomes the
// per-user part of the TURN username and so the unit of the allocation quota.
func (c *ICE) ServersFor(requestHost, user string) []protocol.ICEServer {
	if c == nil {
		return []protocol.ICEServer{}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	username, password, err := turncred.Mint([]byte(c.Secret), strings.ReplaceAll(user, ":", "_"), now().Add(ttl))
	if err != nil {
		return []protocol.ICEServer{}
	}
	if len(c.URLs) > 0 {
		var stunURLs, turnURLs []string
		for _, u := range c.URLs {
			if strings.HasPrefix(u, "stun:") || strings.HasPrefix(u, "stuns:") {
				stunURLs = append(stunURLs, u)
			} else {
				turnURLs = append(turnURLs, u)
			}
		}
		out := []protocol.ICEServer{}
		if len(stunURLs) > 0 {
			out = append(out, protocol.ICEServer{URLs: stunURLs})
		}
		if len(turnURLs) > 0 {
			out = append(out, protocol.ICEServer{URLs: turnURLs, Username: username, Credential: password})
		}
		return out
	}
	host := c.Host
	if host == "" {
		host = hostOnly(requestHost)
	}
	if host == "" {
		host = "localhost"
	}
	hp := net.JoinHostPort(host, strconv.Itoa(c.Port))
	turnURLs := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
	if c.TLSPort > 0 {
		tlsHost := c.TLSHost
		if tlsHost == "" {
			tlsHost = hostOnly(requestHost)
		}
		if tlsHost == "" {
			tlsHost = host
		}
		turnURLs = append(turnURLs, "turns:"+net.JoinHostPort(tlsHost, strconv.Itoa(c.TLSPort))+"?transport=tcp")
	}
	return []protocol.ICEServer{
		{URLs: []string{"stun:" + hp}},
		{URLs: turnURLs, Username: username, Credential: password},
	}
}

// hostOnly strips the port and IPv6 brackets from an HTTP Host value.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}
