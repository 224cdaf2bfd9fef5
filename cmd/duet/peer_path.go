package main

import (
	"context"
	"fmt"

	"github.com/duet-call/duet/client"
)

// reportPath prints, once the chat channel first opens, the verify code and
// the candidate pair ICE chose: `duet peer: path local=srflx remote=relay ...` (docs/peer.md).
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
	// The same six digits the web app shows: read aloud, they prove no one
	// in the middle swapped the DTLS keys (docs/protocol.md, Verify code).
	code, err := call.VerifyCode(ctx)
	if err != nil {
		r.log.Warn("verify code", "err", err)
		return
	}
	fmt.Fprintf(r.stderr, "duet peer: verify code %s\n", code)
}
