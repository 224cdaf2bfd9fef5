package main

import (
	"context"
	"fmt"
	"io"
)

// runPeer is written by the Go peer work (issue 3).
func runPeer(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "duet peer: not available in this build yet")
	return 2
}
