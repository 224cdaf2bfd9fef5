package peerjstest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// skipWithoutNode skips when node/npm are missing, unless DUET_E2E=1 asks
// for every real part, when it fails.
func skipWithoutNode(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrNoNode) && os.Getenv("DUET_E2E") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestReferenceServerStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("installs from npm")
	}
	ref, err := StartReference(context.Background(), RefOptions{})
	skipWithoutNode(t, err)
	defer ref.Stop()
	resp, err := http.Get(ref.URL() + "/peerjs/id")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(strings.TrimSpace(string(b))) < 10 {
		t.Fatalf("id endpoint: %d %q", resp.StatusCode, b)
	}
	ref.Stop() // twice is fine
}
