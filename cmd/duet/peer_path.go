package main

import (
	"context"
	"fmt"

	"github.com/duet-call/duet/client"
)

// reportPath prints, once the chat channel first opens, the candidate pair
// ICE chose: `duet peer: path local=srflx remote=relay ...` (docs/peer.md).
// It tells whoever runs the peer whether media is direct or relayed; the
// NAT lab (internal/natlab) asserts on it.
func (r *peerRun) reportPath(ctx context.Context, call *client.Call) {
	if err := call.WaitChat(ctx); err != nil {
		return
	}
	p, err := call.Path(ctx)
	if err != nil {
		r.log.Warn("selected candidate pair", "err", err)
		return
	}
	fmt.Fprintf(r.stderr, "duet peer: path %s\n", p)
}
