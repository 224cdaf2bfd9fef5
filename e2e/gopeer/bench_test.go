package gopeer

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/browsertest"
	"github.com/duet-call/duet/internal/signal"
	"github.com/pion/webrtc/v4"
)

// BenchmarkBrowserCallSetup measures, on the Go side, the time from "the
// peer is present" (StateConnecting) to the chat channel being open, with
// the web app in Chromium as the other peer. "go-offers": the Go peer
// joined first, so it is impolite and makes the offer (pion controls
// ICE); "browser-offers": the page joined first and offers. Each is run
// with pion's default SettingEngine and the SDK's. Figures and the command:
// docs/benchmarks.md.
func BenchmarkBrowserCallSetup(b *testing.B) {
	br := browsertest.New(b)
	srv := startServer(b, signal.Config{JoinRate: 1e6, JoinBurst: 1e6})
	settings := []struct {
		name string
		se   func() webrtc.SettingEngine
	}{
		{"pion-defaults", func() webrtc.SettingEngine { return webrtc.SettingEngine{} }},
		{"sdk-defaults", client.DefaultSettingEngine},
	}
	for _, goFirst := range []bool{true, false} {
		role := "browser-offers"
		if goFirst {
			role = "go-offers"
		}
		for _, s := range settings {
			b.Run(role+"/"+s.name, func(b *testing.B) {
				page := br.NewPage(b, browsertest.PageName("bench"))
				var times []time.Duration
				for range b.N {
					times = append(times, browserCall(b, srv.URL(), page, goFirst, s.se()))
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func browserCall(b *testing.B, url string, page context.Context, goFirst bool, se webrtc.SettingEngine) time.Duration {
	room := newRoom(b)
	present := make(chan time.Time, 1)
	opts := []client.Option{
		client.WithSettingEngine(se),
		client.WithOnStateChange(func(s client.State) {
			if s == client.StateConnecting {
				select {
				case present <- time.Now():
				default:
				}
			}
		}),
	}
	openPage := func() {
		if err := browsertest.Navigate(page, url+"/r/"+room); err != nil {
			b.Fatal(err)
		}
	}
	var call *client.Call
	if goFirst {
		call = dialURL(b, url, room, opts...)
		openPage()
	} else {
		openPage()
		if err := browsertest.WaitFor(page, `window.duet.state() === "waiting"`, 20*time.Second); err != nil {
			b.Fatal(err)
		}
		call = dialURL(b, url, room, opts...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := call.WaitChat(ctx); err != nil {
		b.Fatalf("chat never opened: %v", err)
	}
	d := time.Since(<-present)
	call.Close()
	return d
}
