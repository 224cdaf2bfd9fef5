package whip

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/server"
	"github.com/duet-call/duet/internal/whip"
)

// BenchmarkWHIPPostToFirstFrame: how long from simple-whip-client's POST
// reaching duet until the web app in Chromium presents the first frame of
// its video (requestVideoFrameCallback), and how much of it the POST's own
// answer (201) takes. One session per iteration, each in a new room with
// a fresh whip-client; run a bounded number. With --whip-gather-wait at
// its default (1 s) the answer waits for the app's end-of-candidates; at
// 50 ms it goes with the candidates found by then.
//
//	flock /tmp/duet-heavy.lock go test ./e2e/whip -run '^$' -bench WHIPPostToFirstFrame -benchtime 20x
func BenchmarkWHIPPostToFirstFrame(b *testing.B) {
	for _, wait := range []time.Duration{time.Second, 50 * time.Millisecond} {
		b.Run("gather-wait="+wait.String(), func(b *testing.B) { benchFirstFrame(b, wait) })
	}
}

func benchFirstFrame(b *testing.B, gatherWait time.Duration) {
	var mu sync.Mutex
	var posted, answered time.Time
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := whip.New(whip.Config{Logger: log, GatherWait: gatherWait})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Logger: log, Routes: func(mux *http.ServeMux) {
		inner := http.NewServeMux()
		svc.Register(inner)
		mux.Handle("/whip/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				mu.Lock()
				posted = time.Now()
				mu.Unlock()
				defer func() { mu.Lock(); answered = time.Now(); mu.Unlock() }()
			}
			inner.ServeHTTP(w, r)
		}))
	}})
	must(b, err)
	svc.SetHub(srv.Hub())
	must(b, srv.Start(context.Background()))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	d := &duet{srv: srv, svc: svc}
	br := browsertest.New(b)
	page := br.NewPage(b, browsertest.PageName("person"))
	var toFrame, toAnswer []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		room := newRoom()
		must(b, browsertest.Navigate(page, d.URL()+"/r/"+room))
		must(b, browsertest.WaitFor(page, `window.duet && window.duet.state() === "waiting"`, stepTimeout))
		must(b, browsertest.Eval(page, `(() => { window.firstFrameAt = 0;
			const v = document.querySelector('[data-testid="remote-video"]');
			v.requestVideoFrameCallback(() => { window.firstFrameAt = Date.now(); });
			return true; })()`, nil))
		b.StartTimer()
		wc := startWHIPClient(b, d.URL()+"/whip/"+room, "-V", vp8Pipeline)
		must(b, browsertest.WaitFor(page, `window.firstFrameAt > 0`, connectTimeout))
		b.StopTimer()
		var ms int64
		must(b, browsertest.Eval(page, `window.firstFrameAt`, &ms))
		mu.Lock()
		toFrame = append(toFrame, time.UnixMilli(ms).Sub(posted))
		toAnswer = append(toAnswer, answered.Sub(posted))
		mu.Unlock()
		wc.checkLog()
		wc.stop()
		sessions(b, d, 0, stepTimeout)
	}
	b.ReportMetric(float64(pct(toFrame, 50).Milliseconds()), "p50-first-frame-ms")
	b.ReportMetric(float64(pct(toFrame, 95).Milliseconds()), "p95-first-frame-ms")
	b.ReportMetric(float64(pct(toAnswer, 50).Milliseconds()), "p50-answer-ms")
	b.ReportMetric(float64(pct(toAnswer, 95).Milliseconds()), "p95-answer-ms")
	b.ReportMetric(0, "ns/op")
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}
