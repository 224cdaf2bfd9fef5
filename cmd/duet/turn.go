package main

import (
	"context"
	"fmt"
	"io"
)

// runTurn is written by the TURN work (issue 8).
func runTurn(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "duet turn: not available in this build yet")
	return 2
}
