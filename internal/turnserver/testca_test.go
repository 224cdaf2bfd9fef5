package turnserver

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/duet-call/duet/internal/testca"
)

// testCA is internal/testca's authority with its pool at hand.
type testCA struct {
	ca   *testca.CA
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca: ca, pool: ca.Pool()}
}

// serverConfig serves a certificate for name and 127.0.0.1, with HTTP's
// ALPN protocols as an HTTPS server's config would have them.
func (ca *testCA) serverConfig(t *testing.T, name string) *tls.Config {
	t.Helper()
	leaf, err := ca.ca.Leaf(t.TempDir(), "", name, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf.TLS, nil },
		NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
}
