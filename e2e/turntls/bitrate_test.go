package turntls

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
)

// BenchmarkRelayed1080pCall measures what a Chromium call with a 1080p
// camera relays, to size the default per-allocation bandwidth cap
// (turnserver.DefaultBandwidthBytes; docs/benchmarks.md). Both pages are
// relay-only, so every media byte crosses the server, each way through
// one allocation per page. It reports the peak and mean relayed bytes per
// second per allocation and direction, and the encoder's target bitrate.
//
//	go test -run '^$' -bench Relayed1080p -benchtime 1x ./e2e/turntls
func BenchmarkRelayed1080pCall(b *testing.B) {
	ip := nonLoopbackIPv4Bench(b)
	p := startOnePort(b, ip)
	// A 1080p camera: GStreamer writes 30 frames of noise (the hardest
	// content to encode, so the encoder runs at its ceiling), which
	// Chromium's fake camera plays in a loop.
	gst, err := exec.LookPath("gst-launch-1.0")
	if err != nil {
		b.Skip("gst-launch-1.0 not found (apt-get install gstreamer1.0-tools)")
	}
	y4m := filepath.Join(b.TempDir(), "1080p.y4m")
	if out, err := exec.Command(gst, "-q", "videotestsrc", "pattern=snow", "num-buffers=30", "!",
		"video/x-raw,format=I420,width=1920,height=1080,framerate=30/1", "!", "y4menc", "!", "filesink", "location="+y4m).CombinedOutput(); err != nil {
		b.Fatalf("gst-launch: %v\n%s", err, out)
	}
	br := browsertest.New(b, browsertest.WithEnv("HOME="+trustInNSS(b)), browsertest.WithFlag("use-file-for-fake-video-capture", y4m))
	link := p.url + "/r/bitrate-1080p?relay=1"
	first := br.NewPage(b, browsertest.PageName("first"))
	if err := browsertest.Navigate(first, link); err != nil {
		b.Fatal(err)
	}
	if err := browsertest.WaitFor(first, `window.duet && window.duet.state() === "waiting"`, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	second := br.NewPage(b, browsertest.PageName("second"))
	if err := browsertest.Navigate(second, link); err != nil {
		b.Fatal(err)
	}
	pages := []context.Context{first, second}
	for _, page := range pages {
		if err := browsertest.WaitFor(page, `window.duet.state() === "connected"`, 90*time.Second); err != nil {
			b.Fatal(err)
		}
		// Ask the (fake) camera for 1080p, as a person with such a camera
		// and the app's default constraints would send.
		var size string
		if err := browsertest.Eval(page, `(async () => {
			const s = window.duet.pc().getSenders().find((s) => s.track && s.track.kind === "video");
			await s.track.applyConstraints({ width: 1920, height: 1080, frameRate: 30 });
			// Keep 1080p when the CPU is short (it is, on a 2-core test
			// machine with two tabs encoding): frames drop instead.
			const params = s.getParameters();
			params.degradationPreference = "maintain-resolution";
			await s.setParameters(params);
			const st = s.track.getSettings();
			return st.width + "x" + st.height + "@" + st.frameRate;
		})()`, &size); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s camera: %s", browsertest.Name(page), size)
	}
	const seconds = 30
	var peak, total float64
	prev := p.turn.Stats().RelayedBytesToPeer
	for i := 0; i < seconds; i++ {
		time.Sleep(time.Second)
		now := p.turn.Stats().RelayedBytesToPeer
		// Two allocations send to their peer (the other's relay): half of
		// the server's to-peer bytes is one allocation's one direction.
		rate := float64(now-prev) / 2
		prev = now
		if i >= 10 { // after the bandwidth estimate has ramped up
			peak = max(peak, rate)
			total += rate
		}
	}
	mean := total / (seconds - 10)
	for _, page := range pages {
		var st struct {
			Target, Width, Height, FPS float64
		}
		if err := browsertest.Eval(page, `(async () => {
			const stats = await window.duet.pc().getStats();
			let out = { Target: 0, Width: 0, Height: 0, FPS: 0 };
			stats.forEach((s) => { if (s.type === "outbound-rtp" && s.kind === "video") {
				out = { Target: s.targetBitrate || 0, Width: s.frameWidth || 0, Height: s.frameHeight || 0, FPS: s.framesPerSecond || 0 };
			}});
			return out;
		})()`, &st); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s sends %.0fx%.0f at %.0f fps, encoder target %.2f Mbit/s", browsertest.Name(page), st.Width, st.Height, st.FPS, st.Target/1e6)
	}
	b.ReportMetric(peak, "peak-B/s/alloc")
	b.ReportMetric(mean, "mean-B/s/alloc")
	b.Logf("relayed per allocation and direction: peak %.0f B/s (%.2f Mbit/s), mean %.0f B/s (%.2f Mbit/s)", peak, peak*8/1e6, mean, mean*8/1e6)
}
