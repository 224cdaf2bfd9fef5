package turnserver

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/turncred"
)

func TestICEServers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	tests := []struct {
		name        string
		ice         *ICE
		requestHost string
		wantURLs    [][]string
	}{
		{"lan", nil, "example.org", [][]string{}},
		{"request host", &ICE{Port: 3478}, "call.example.org:8080",
			[][]string{{"stun:call.example.org:3478"}, {"turn:call.example.org:3478?transport=udp", "turn:call.example.org:3478?transport=tcp"}}},
		{"request host without port", &ICE{Port: 3478}, "192.168.1.20",
			[][]string{{"stun:192.168.1.20:3478"}, {"turn:192.168.1.20:3478?transport=udp", "turn:192.168.1.20:3478?transport=tcp"}}},
		{"ipv6 request host", &ICE{Port: 3478}, "[::1]:8080",
			[][]string{{"stun:[::1]:3478"}, {"turn:[::1]:3478?transport=udp", "turn:[::1]:3478?transport=tcp"}}},
		{"configured host wins", &ICE{Host: "turn.example.net", Port: 443}, "localhost:8080",
			[][]string{{"stun:turn.example.net:443"}, {"turn:turn.example.net:443?transport=udp", "turn:turn.example.net:443?transport=tcp"}}},
		{"turns after udp and tcp, on the request host", &ICE{Host: "198.51.100.7", Port: 3478, TLSPort: 443}, "call.example.org",
			[][]string{{"stun:198.51.100.7:3478"}, {"turn:198.51.100.7:3478?transport=udp", "turn:198.51.100.7:3478?transport=tcp", "turns:call.example.org:443?transport=tcp"}}},
		{"turns on the configured TLS host", &ICE{Host: "turn.example.net", TLSHost: "turn.example.net", Port: 3478, TLSPort: 5349}, "call.example.org:8443",
			[][]string{{"stun:turn.example.net:3478"}, {"turn:turn.example.net:3478?transport=udp", "turn:turn.example.net:3478?transport=tcp", "turns:turn.example.net:5349?transport=tcp"}}},
		{"external", &ICE{URLs: []string{"stun:coturn.example:3478", "turn:coturn.example:3478", "turns:coturn.example:5349"}}, "localhost",
			[][]string{{"stun:coturn.example:3478"}, {"turn:coturn.example:3478", "turns:coturn.example:5349"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ice != nil {
				tc.ice.Secret, tc.ice.Now = "s", clock
			}
			got := tc.ice.Servers(tc.requestHost)
			if got == nil {
				t.Fatal("Servers returned nil")
			}
			urls := [][]string{}
			for _, s := range got {
				urls = append(urls, s.URLs)
				isTURN := strings.HasPrefix(s.URLs[0], "turn")
				if !isTURN {
					if s.Username != "" || s.Credential != "" {
						t.Errorf("STUN entry carries a credential: %+v", s)
					}
					continue
				}
				if err := turncred.Verify([]byte("s"), s.Username, s.Credential, now); err != nil {
					t.Errorf("credential %q does not verify: %v", s.Username, err)
				}
				if exp, _, _ := turncred.Parse(s.Username); !exp.Equal(now.Add(DefaultTTL)) {
					t.Errorf("expiry %v, want %v", exp, now.Add(DefaultTTL))
				}
			}
			if !reflect.DeepEqual(urls, tc.wantURLs) {
				t.Fatalf("URLs = %q, want %q", urls, tc.wantURLs)
			}
		})
	}
}

func TestICEFreshCredentials(t *testing.T) {
	ice := &ICE{Port: 3478, Secret: "s", TTL: time.Minute}
	a, b := ice.Servers("h"), ice.Servers("h")
	if a[1].Username == b[1].Username {
		t.Fatalf("two calls gave the same username %q", a[1].Username)
	}
	if u := ice.ServersFor("h", "peer:1")[1].Username; !strings.HasSuffix(u, ":peer_1") {
		t.Fatalf("user id with a colon gave username %q", u)
	}
}
