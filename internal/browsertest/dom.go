package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
)

// TestID returns a JavaScript expression for the element with that
// data-testid (or null): document.querySelector('[data-testid="id"]').
func TestID(id string) string {
	sel, _ := json.Marshal(`[data-testid="` + id + `"]`)
	return "document.querySelector(" + string(sel) + ")"
}

// Click clicks the element with data-testid id. It fails if there is no
// such element or it is disabled.
func Click(ctx context.Context, id string) error {
	var res string
	js := `(() => { const el = ` + TestID(id) + `;
		if (!el) return "missing";
		if (el.disabled) return "disabled";
		el.click(); return "ok"; })()`
	if err := Eval(ctx, js, &res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%s: click %s: element %s%s", Name(ctx), id, res, describe(ctx))
	}
	return nil
}

// Text returns the textContent of the element with data-testid id, or an
// error if there is none.
func Text(ctx context.Context, id string) (string, error) {
	var res *string
	if err := Eval(ctx, `(() => { const el = `+TestID(id)+`; return el ? el.textContent : null; })()`, &res); err != nil {
		return "", err
	}
	if res == nil {
		return "", fmt.Errorf("%s: no element with data-testid %q", Name(ctx), id)
	}
	return *res, nil
}

// Type sets the value of the input with data-testid id as a person typing
// would leave it, and fires its input event.
func Type(ctx context.Context, id, text string) error {
	val, _ := json.Marshal(text)
	var ok bool
	js := `(() => { const el = ` + TestID(id) + `; if (!el) return false;
		el.focus(); el.value = ` + string(val) + `;
		el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`
	if err := Eval(ctx, js, &ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: no element with data-testid %q", Name(ctx), id)
	}
	return nil
}

// InboundVideoJS is a JavaScript expression that resolves to the page's
// inbound video statistics, read with window.duet.pc().getStats(): an
// object {framesDecoded, frameWidth, frameHeight, bytesReceived, pc}, summed
// over inbound-rtp video streams; pc is false when the page has no peer
// connection. Other pages can define window.duet.pc to use it too.
const InboundVideoJS = `(async () => {
	const r = {framesDecoded: 0, frameWidth: 0, frameHeight: 0, bytesReceived: 0, pc: false};
	const pc = window.duet && window.duet.pc && window.duet.pc();
	if (!pc) return r;
	r.pc = true;
	const stats = await pc.getStats();
	stats.forEach((s) => {
		if (s.type !== "inbound-rtp" || s.kind !== "video") return;
		r.framesDecoded += s.framesDecoded || 0;
		r.bytesReceived += s.bytesReceived || 0;
		r.frameWidth = Math.max(r.frameWidth, s.frameWidth || 0);
		r.frameHeight = Math.max(r.frameHeight, s.frameHeight || 0);
	});
	return r;
})()`

// VideoStats is what InboundVideoJS reports.
type VideoStats struct {
	FramesDecoded int64 `json:"framesDecoded"`
	FrameWidth    int   `json:"frameWidth"`
	FrameHeight   int   `json:"frameHeight"`
	BytesReceived int64 `json:"bytesReceived"`
	// PC is false when window.duet.pc() returned no peer connection.
	PC bool `json:"pc"`
}

// InboundVideo reads the page's inbound video statistics.
func InboundVideo(ctx context.Context) (VideoStats, error) {
	var s VideoStats
	err := Eval(ctx, InboundVideoJS, &s)
	return s, err
}

// RemoteVideoJS is a JavaScript expression for the remote video element's
// decoded size: {videoWidth, videoHeight}, zeros when there is none.
const RemoteVideoJS = `(() => { const v = document.querySelector('[data-testid="remote-video"]');
	return {videoWidth: v ? v.videoWidth : 0, videoHeight: v ? v.videoHeight : 0}; })()`
