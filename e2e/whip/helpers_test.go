// Package whip tests duet's WHIP and WHEP endpoints with real parts:
// Debian's simple-whip-client (GStreamer webrtcbin) publishing into a
// room where the web app in headless Chromium or a Go peer answers, and
// a pion WHEP player taking what the person there sends. Run with
//
//	DUET_E2E=1 go test -race ./e2e/whip
//
// Without the tools they skip with a message; DUET_E2E=1 makes that a
// failure.
package whip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/schematest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/whip"
)

// Deadlines bound a hang on two shared cores; they are not speed targets.
const (
	connectTimeout = 90 * time.Second
	stepTimeout    = 30 * time.Second
)

// duet is the real server with the WHIP/WHEP endpoints wired as duet
// serve wires them (cmd/duet/whip.go).
type duet struct {
	srv *server.Server
	svc *whip.Service
}

func (d *duet) URL() string { return d.srv.URL() }

func startDuet(t testing.TB, cfg whip.Config) *duet {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Logger = log
	svc := whip.New(cfg)
	srv, err := server.New(server.Config{
		Addr:   "127.0.0.1:0",
		Logger: log,
		// Every frame either way must match protocol/schema.
		Signal: signal.Config{ICEServers: cfg.ICEServers, Tap: schematest.Tap(t)},
		Routes: svc.Register,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetHub(srv.Hub())
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &duet{srv: srv, svc: svc}
}

var roomSeq struct {
	sync.Mutex
	n int
}

func newRoom() string {
	roomSeq.Lock()
	defer roomSeq.Unlock()
	roomSeq.n++
	return fmt.Sprintf("whip-%d-%d", os.Getpid(), roomSeq.n)
}

// need returns the path of tool, or skips t (fails it under DUET_E2E=1)
// with how to install it.
func need(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: apt-get install %s", tool, pkg)
	if browsertest.Required() {
		t.Fatal(msg + " (DUET_E2E is set)")
	}
	t.Skip(msg)
	return ""
}

// gstElements skips (or fails) t unless every GStreamer element is there.
func gstElements(t testing.TB, names ...string) {
	t.Helper()
	inspect := need(t, "gst-inspect-1.0", "gstreamer1.0-tools")
	for _, n := range names {
		if err := exec.Command(inspect, n).Run(); err != nil {
			msg := fmt.Sprintf("GStreamer element %s missing (gstreamer1.0-plugins-good/-bad/-ugly, gstreamer1.0-nice)", n)
			if browsertest.Required() {
				t.Fatal(msg + " (DUET_E2E is set)")
			}
			t.Skip(msg)
		}
	}
}

// igdStub is a do-nothing libgupnp-igd for simple-whip-client. As Debian
// 12 installs it, whip-client links libsoup 2.4 while libnice's UPnP
// helper libgupnp-igd pulls in libsoup 3, and libsoup aborts the process
// as soon as webrtcbin loads ("libsoup2 symbols detected"). libnice needs
// four symbols from it; a NULL helper means no UPnP, which also keeps
// UPnP discovery off the network. Built once per test binary, with the
// machine's C compiler, and put on LD_LIBRARY_PATH of whip-client only.
var igd struct {
	once sync.Once
	dir  string
	err  error
}

const igdSource = `/* A stand-in for libgupnp-igd: no UPnP port mappings. */
void *gupnp_simple_igd_thread_new(void) { return 0; }
unsigned long gupnp_simple_igd_get_type(void) { return 0; }
void gupnp_simple_igd_add_port(void) {}
void gupnp_simple_igd_remove_port(void) {}
void gupnp_simple_igd_remove_port_local(void) {}
`

func igdStub(t testing.TB) string {
	t.Helper()
	cc := need(t, "cc", "gcc")
	igd.once.Do(func() {
		dir, err := os.MkdirTemp("", "duet-whip-igd-")
		if err != nil {
			igd.err = err
			return
		}
		src := filepath.Join(dir, "igd.c")
		if err := os.WriteFile(src, []byte(igdSource), 0o644); err != nil {
			igd.err = err
			return
		}
		out, err := exec.Command(cc, "-shared", "-fPIC", "-o", filepath.Join(dir, "libgupnp-igd-1.0.so.4"),
			"-Wl,-soname,libgupnp-igd-1.0.so.4", src).CombinedOutput()
		if err != nil {
			igd.err = fmt.Errorf("building the libgupnp-igd stub: %v\n%s", err, out)
			return
		}
		igd.dir = dir
	})
	if igd.err != nil {
		t.Fatal(igd.err)
	}
	return igd.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if igd.dir != "" {
		os.RemoveAll(igd.dir)
	}
	os.Exit(code)
}

// Video pipelines for whip-client's -V. The leading bundle-policy is a
// webrtcbin property: whip-client writes "webrtcbin name=sendonly
// bundle-policy=0" before -V, and with video alone it would not bundle.
const (
	vp8Pipeline = "bundle-policy=max-bundle videotestsrc is-live=true pattern=ball ! " +
		"video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! queue ! " +
		"vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ssrc=1 ! queue ! " +
		"application/x-rtp,media=video,encoding-name=VP8,payload=96"
	// What OBS sends: H.264 only, constrained baseline, packetization 1.
	h264Pipeline = "bundle-policy=max-bundle videotestsrc is-live=true pattern=ball ! " +
		"video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! queue ! " +
		"x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! " +
		"video/x-h264,profile=constrained-baseline ! rtph264pay pt=102 ssrc=1 config-interval=-1 aggregate-mode=zero-latency ! queue ! " +
		"application/x-rtp,media=video,encoding-name=H264,payload=102"
	opusPipeline = "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! " +
		"opusenc ! rtpopuspay pt=111 ssrc=2 ! queue ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111"
)

// whipClient is one running simple-whip-client.
type whipClient struct {
	t    testing.TB
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// startWHIPClient publishes to url with args (-V, -A, -n, ...) until the
// test ends or stop is called. It needs simple-whip-client and the
// GStreamer elements of the pipelines.
func startWHIPClient(t testing.TB, url string, args ...string) *whipClient {
	t.Helper()
	bin := need(t, "whip-client", "simple-whip-client")
	gstElements(t, "webrtcbin", "nicesrc", "videotestsrc", "vp8enc", "rtpvp8pay")
	dir := igdStub(t)
	cmd := exec.Command(bin, append([]string{"-u", url, "-o", "-l", "5"}, args...)...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir)
	c := &whipClient{t: t, cmd: cmd, log: &syncBuffer{limit: 1 << 20}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() || os.Getenv("DUET_WHIP_LOG") != "" {
			t.Logf("whip-client log:\n%s", c.log.String())
		}
	})
	return c
}

// stop asks whip-client to end as Ctrl-C does (it then sends DELETE), and
// kills it if it has not ended in 5 s.
func (c *whipClient) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// checkLog fails the test on what whip-client logs as a failure. It exits
// 0 whatever happens, so its log is the only word on how it went.
func (c *whipClient) checkLog() {
	c.t.Helper()
	log := c.log.String()
	for _, bad := range []string{"[ERR]", "libsoup-ERROR", "CRITICAL", "Unexpected response"} {
		if strings.Contains(log, bad) {
			c.t.Errorf("whip-client logged %q:\n%s", bad, log)
			return
		}
	}
}

// waitLog waits until whip-client's log contains s.
func (c *whipClient) waitLog(s string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.log.String(), s) {
		select {
		case <-c.done:
			c.t.Fatalf("whip-client ended before logging %q:\n%s", s, c.log.String())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("whip-client did not log %q in %v:\n%s", s, timeout, c.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bounded bytes.Buffer safe for the process's writers
// and the test's readers.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	limit int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := s.limit - s.b.Len(); room > 0 {
		s.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// openApp opens the room in a Chromium tab and waits until it is in the
// room, alone. The app shows "waiting" (the link to share) before the
// server has admitted it, so it waits for joined too: a WHIP or WHEP POST
// before that finds nobody to answer (409 no-peer).
func openApp(t testing.TB, b *browsertest.Browser, d *duet, room string) context.Context {
	t.Helper()
	page := b.NewPage(t, browsertest.PageName("person"))
	must(t, browsertest.Navigate(page, d.URL()+"/r/"+room))
	must(t, browsertest.WaitFor(page, `window.duet && window.duet.state() === "waiting" && window.duet.joined()`, stepTimeout))
	return page
}

// waitDecoding waits until page decodes video from the other place and
// returns what its stats say.
func waitDecoding(t testing.TB, page context.Context) browsertest.VideoStats {
	t.Helper()
	js := `(async () => { const s = await ` + browsertest.InboundVideoJS + `;
		const v = ` + browsertest.RemoteVideoJS + `;
		return s.framesDecoded > 5 && v.videoWidth > 0; })()`
	if err := browsertest.WaitFor(page, js, connectTimeout); err != nil {
		st, _ := browsertest.InboundVideo(page)
		t.Fatalf("%v\n\tinbound video: %+v", err, st)
	}
	st, err := browsertest.InboundVideo(page)
	must(t, err)
	return st
}

// answeredOnly checks that the app answered and offered nothing back: an
// offer to a WHIP/WHEP place is refused by the server and would leave the
// app's connection in have-local-offer for good.
func answeredOnly(t testing.TB, page context.Context) {
	t.Helper()
	var st string
	must(t, browsertest.Eval(page, `window.duet.pc().signalingState`, &st))
	if st != "stable" {
		t.Errorf("the app's signaling state is %q: it made an offer the tool cannot take", st)
	}
	for _, l := range browsertest.Console(page) {
		if strings.Contains(l, "offer-refused") {
			t.Errorf("the server refused an offer of the app: %s", l)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sessions waits until the service holds n sessions.
func sessions(t testing.TB, d *duet, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for d.svc.Sessions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d WHIP/WHEP sessions, want %d", d.svc.Sessions(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
