package server

import (
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedHTTPS(t *testing.T) {
	cfg, fp, err := SelfSignedTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Config{TLS: cfg})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %q", s.URL())
	}
	var seen string
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // self-signed: we check the fingerprint instead
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			seen = fingerprint(sum[:])
			return cs.PeerCertificates[0].VerifyHostname("127.0.0.1")
		},
	}}}
	resp, err := client.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != "ok" || seen != fp {
		t.Fatalf("body %q, fingerprint seen %s, logged %s", body, seen, fp)
	}
}
