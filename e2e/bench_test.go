package e2e

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
)

// firstFrameScript runs in every document before its own scripts: it
// records, as milliseconds from the page's navigation start, when the
// remote video presented its first frame (requestVideoFrameCallback), and
// on the way there when each step of joining a call ended, by watching the
// browser APIs the app calls (the app itself is not changed for this):
//
//	modules  DOMContentLoaded: the page and its module graph have run
//	media    getUserMedia resolved
//	open     the signaling WebSocket opened
//	joined   the server's joined arrived
//	pc       the RTCPeerConnection was made
//	ice      its connectionState became connected
//	frame    the first remote frame was presented
const firstFrameScript = `window.benchNavStart = performance.timeOrigin;
window.benchSteps = {};
const step = (name) => { if (!(name in window.benchSteps)) window.benchSteps[name] = performance.now(); };
document.addEventListener("DOMContentLoaded", () => {
	step("modules");
	const v = document.querySelector('[data-testid="remote-video"]');
	if (v && v.requestVideoFrameCallback) v.requestVideoFrameCallback((now) => { step("frame"); window.benchFirstFrame = performance.timeOrigin + now; });
});
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => gum(c).then((s) => { step("media"); return s; });
const WS = window.WebSocket;
window.WebSocket = class extends WS {
	constructor(...a) {
		super(...a);
		this.addEventListener("open", () => step("open"));
		this.addEventListener("message", (e) => { if (typeof e.data === "string" && e.data.includes('"joined"')) step("joined"); });
	}
};
const PC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends PC {
	constructor(...a) {
		super(...a);
		step("pc");
		this.addEventListener("connectionstatechange", () => { if (this.connectionState === "connected") step("ice"); });
	}
};`

// benchSteps are firstFrameScript's steps, in the order they happen.
var benchSteps = []string{"modules", "media", "open", "joined", "pc", "ice", "frame"}

func addInitScript(b testing.TB, p context.Context, src string) {
	b.Helper()
	_, err := chromedp.Run(p, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return err
	}))
	if err != nil {
		b.Fatal(err)
	}
}

func benchServer(b *testing.B) *server.Server {
	b.Helper()
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Signal: signal.Config{JoinRate: 1e6, JoinBurst: 1e6}})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// BenchmarkFirstFrame: the time from the second person opening the link
// (their navigation start) to the first remote video frame presented on
// each side, one call per iteration on loopback, both pages in one
// Chromium. docs/benchmarks.md has the figures and the command.
func BenchmarkFirstFrame(b *testing.B) {
	srv := benchServer(b)
	br := browsertest.New(b)
	first := br.NewPage(b, browsertest.PageName("first"))
	second := br.NewPage(b, browsertest.PageName("second"))
	for _, p := range []context.Context{first, second} {
		addInitScript(b, p, firstFrameScript)
	}
	var firstSide, secondSide []time.Duration
	steps := map[string][]time.Duration{}
	for i := 0; i < b.N; i++ {
		link := srv.URL() + "/r/bench-frame-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := browsertest.Navigate(first, link); err != nil {
			b.Fatal(err)
		}
		if err := browsertest.WaitFor(first, `window.duet.joined()`, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		if err := browsertest.Navigate(second, link); err != nil {
			b.Fatal(err)
		}
		var at [2]float64
		for j, p := range []context.Context{first, second} {
			if err := browsertest.WaitFor(p, `!!window.benchFirstFrame`, 60*time.Second); err != nil {
				b.Fatal(err)
			}
			if err := browsertest.Eval(p, `window.benchFirstFrame`, &at[j]); err != nil {
				b.Fatal(err)
			}
		}
		var start float64
		if err := browsertest.Eval(second, `window.benchNavStart`, &start); err != nil {
			b.Fatal(err)
		}
		var got map[string]float64
		if err := browsertest.Eval(second, `window.benchSteps`, &got); err != nil {
			b.Fatal(err)
		}
		for _, st := range benchSteps {
			ms, ok := got[st]
			if !ok {
				b.Fatalf("call %d: step %q never happened on the second side (%v)", i, st, got)
			}
			steps[st] = append(steps[st], time.Duration(ms*float64(time.Millisecond)))
		}
		firstSide = append(firstSide, time.Duration((at[0]-start)*float64(time.Millisecond)))
		secondSide = append(secondSide, time.Duration((at[1]-start)*float64(time.Millisecond)))
		// Both leave before the next call (and the first page's next
		// navigation is a fresh join).
		if err := browsertest.Navigate(second, "about:blank"); err != nil {
			b.Fatal(err)
		}
	}
	report(b, "first", firstSide)
	report(b, "second", secondSide)
	// Where the second side's time went: the p50 of each step's end.
	for _, st := range benchSteps {
		d := steps[st]
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "2nd-"+st+"-p50-ms")
	}
	b.ReportMetric(0, "ns/op")
}

func report(b *testing.B, name string, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(d[(len(d)*95+99)/100-1].Microseconds())/1000, name+"-p95-ms")
}

// bytesJS sums what the network carried for this page load: the page and
// every resource (transferSize: headers and body as sent; 0 for what the
// service worker or the HTTP cache gave without asking the server).
const bytesJS = `(() => { let n = 0; for (const e of performance.getEntriesByType("navigation")) n += e.transferSize;
	for (const e of performance.getEntriesByType("resource")) n += e.transferSize; return n; })()`

// BenchmarkPageBytes: bytes transferred to load a call page in a fresh
// profile (cold), and on the next visit (warm: the HTTP cache and the
// service worker), until the app waits in the room.
func BenchmarkPageBytes(b *testing.B) {
	srv := benchServer(b)
	br := browsertest.New(b)
	var cold, warm float64
	for i := 0; i < b.N; i++ {
		p := br.NewPage(b, browsertest.PageName("bytes"), browsertest.Isolated())
		for j, out := range []*float64{&cold, &warm} {
			link := srv.URL() + "/r/bench-bytes-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			if err := browsertest.Navigate(p, link); err != nil {
				b.Fatal(err)
			}
			if err := browsertest.WaitFor(p, `window.duet.state() === "waiting" && document.querySelector('[data-testid="qr-code"]').complete`, 30*time.Second); err != nil {
				b.Fatal(err)
			}
			if j == 0 {
				// Let the service worker (where there is one) install.
				browsertest.WaitFor(p, `!navigator.serviceWorker || navigator.serviceWorker.ready.then(() => true)`, 10*time.Second)
			}
			var n float64
			if err := browsertest.Eval(p, bytesJS, &n); err != nil {
				b.Fatal(err)
			}
			*out += n
		}
	}
	b.ReportMetric(cold/float64(b.N), "cold-bytes")
	b.ReportMetric(warm/float64(b.N), "warm-bytes")
	b.ReportMetric(0, "ns/op")
}
