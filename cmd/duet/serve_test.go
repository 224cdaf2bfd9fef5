package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
)

// startServe runs `duet serve` in-process with args, as main would, and
// returns the URL it says to open and its log. The server stops when the
// test ends and must exit cleanly.
func startServe(t *testing.T, args ...string) (url string, log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log = &syncBuffer{}
	// A fixed resume secret keeps the test from writing one into the
	// user's config directory.
	args = append([]string{"--addr", "127.0.0.1:0", "--resume-secret", strings.Repeat("ab", 32)}, args...)
	code := make(chan int, 1)
	go func() { code <- runServe(ctx, args, nil, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("duet serve exited %d; log:\n%s", c, log)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("duet serve did not stop; log:\n%s", log)
		}
	})
	waitOutput(t, "duet serve log", log, "duet is running")
	m := regexp.MustCompile(`open=(\S+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no URL in the log:\n%s", log)
	}
	return strings.TrimSuffix(m[1], "/"), log
}

// TestServeLANOverSelfSignedTLS: `duet serve --lan --tls-self-signed`
// serves HTTPS with the certificate whose fingerprint it logs, hands out
// no ICE servers, and two browsers (accepting the certificate, as a phone
// would after checking the fingerprint) make a call over host candidates.
func TestServeLANOverSelfSignedTLS(t *testing.T) {
	url, log := startServe(t, "--lan", "--tls-self-signed")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("URL %q is not https", url)
	}
	if !strings.Contains(log.String(), "LAN mode") {
		t.Errorf("log does not say LAN mode:\n%s", log)
	}

	// The certificate served is the one whose fingerprint was logged.
	m := regexp.MustCompile(`sha256=([0-9A-Fa-f:]+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no certificate fingerprint in the log:\n%s", log)
	}
	logged := strings.ToLower(strings.ReplaceAll(m[1], ":", ""))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(url + "/api/ice-servers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := sha256.Sum256(resp.TLS.PeerCertificates[0].Raw)
	if got := hex.EncodeToString(sum[:]); got != logged {
		t.Errorf("served certificate sha256 %s, logged %s", got, logged)
	}
	var conf struct {
		ICEServers []json.RawMessage `json:"iceServers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&conf); err != nil || conf.ICEServers == nil || len(conf.ICEServers) != 0 {
		t.Errorf("/api/ice-servers in LAN mode: %v (err %v), want an empty list", conf.ICEServers, err)
	}

	b := browsertest.New(t, browsertest.WithIgnoreCertErrors())
	link := url + "/r/lan-tls-room"
	first := b.NewPage(t, browsertest.PageName("first"))
	must(t, browsertest.Navigate(first, link))
	must(t, browsertest.WaitFor(first, `window.duet && window.duet.state() === "waiting"`, 30*time.Second))
	second := b.NewPage(t, browsertest.PageName("second"))
	must(t, browsertest.Navigate(second, link))
	for _, p := range []context.Context{first, second} {
		// Deadlines bound a hang on a loaded machine; they are not targets.
		must(t, browsertest.WaitFor(p, `window.duet.state() === "connected"`, 90*time.Second))
		must(t, browsertest.WaitFor(p, `(async () => (await `+browsertest.InboundVideoJS+`).framesDecoded > 0)()`, 90*time.Second))
		var got struct {
			Secure       bool   `json:"secure"`
			ICEServers   int    `json:"iceServers"`
			Local        string `json:"local"`
			Remote       string `json:"remote"`
			NonHostCands int    `json:"nonHost"`
		}
		must(t, browsertest.Eval(p, `(async () => {
			const pc = window.duet.pc();
			const stats = await pc.getStats();
			let pair = null, nonHost = 0;
			stats.forEach((s) => {
				if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
				if ((s.type === "local-candidate" || s.type === "remote-candidate") && s.candidateType !== "host") nonHost++;
			});
			return {
				secure: window.isSecureContext && location.protocol === "https:",
				iceServers: pc.getConfiguration().iceServers.length,
				local: pair ? stats.get(pair.localCandidateId).candidateType : "",
				remote: pair ? stats.get(pair.remoteCandidateId).candidateType : "",
				nonHost,
			};
		})()`, &got))
		// The app says it is in LAN mode, where a call from another
		// network cannot connect.
		must(t, browsertest.WaitFor(p, `!`+browsertest.TestID("lan-mode")+`.hidden && `+browsertest.TestID("lan-mode")+`.textContent.includes("LAN")`, 10*time.Second))
		t.Logf("%s: %+v", browsertest.Name(p), got)
		if !got.Secure || got.ICEServers != 0 || got.Local != "host" || got.Remote != "host" || got.NonHostCands != 0 {
			t.Errorf("%s: https %v, %d ICE servers, selected pair %s ↔ %s, %d non-host candidates; want https, 0, host ↔ host, 0",
				browsertest.Name(p), got.Secure, got.ICEServers, got.Local, got.Remote, got.NonHostCands)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
