package main

import (
	"crypto/tls"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duet-call/duet/protocol"
)

// duet serve with its own certificate hands out a turns: URL after the UDP
// and TCP ones: on the HTTPS port in one-port mode (the default), on
// --turn-tls-addr's port with --turn-share-https=false, and none with
// neither. The host is the one the browser used, not --turn-public-ip.
// The URLs come in joined, the only place relay credentials are handed out.
func TestServeTURNOverTLSURLs(t *testing.T) {
	base := []string{"--tls-self-signed", "--turn-addr", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--turn-self-test=false"}
	tests := []struct {
		name string
		args []string
		port func(httpsPort, tlsPort string) string // "" means no turns: URL
	}{
		{"one-port by default", []string{"--turn-tls-addr", "127.0.0.1:0"}, func(h, _ string) string { return h }},
		{"own TLS port", []string{"--turn-tls-addr", "127.0.0.1:0", "--turn-share-https=false"}, func(_, p string) string { return p }},
		{"neither", []string{"--turn-tls-addr", "", "--turn-share-https=false"}, func(string, string) string { return "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, log := startServe(t, append(append([]string{}, base...), tc.args...)...)
			pu, _ := url.Parse(u)
			tlsPort := ""
			if m := regexp.MustCompile(`tls=127\.0\.0\.1:(\d+)`).FindStringSubmatch(log.String()); m != nil {
				tlsPort = m[1]
			}
			// Join as a browser that reached the server by name would; relay
			// credentials come only in joined.
			d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 10 * time.Second}
			c, _, err := d.Dial("wss://localhost:"+pu.Port()+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.WriteJSON(&protocol.Join{Type: protocol.TypeJoin, V: protocol.Version, Room: "turns-urls"}); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var conf struct {
				Type       string `json:"type"`
				ICEServers []struct {
					URLs []string `json:"urls"`
				} `json:"iceServers"`
			}
			if err := c.ReadJSON(&conf); err != nil || conf.Type != protocol.TypeJoined || len(conf.ICEServers) != 2 {
				t.Fatalf("joined %+v, %v", conf, err)
			}
			urls := conf.ICEServers[1].URLs
			want := tc.port(pu.Port(), tlsPort)
			if want == "" {
				if len(urls) != 2 || strings.HasPrefix(urls[len(urls)-1], "turns:") {
					t.Fatalf("TURN URLs %v, want udp and tcp only", urls)
				}
				return
			}
			if len(urls) != 3 || !strings.HasPrefix(urls[0], "turn:127.0.0.1:") || urls[2] != "turns:localhost:"+want+"?transport=tcp" {
				t.Fatalf("TURN URLs %v, want udp and tcp on 127.0.0.1, then turns:localhost:%s?transport=tcp", urls, want)
			}
		})
	}
}
