package client_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/signal"
	"github.com/pion/webrtc/v4"
)

// Call setup benchmarks: docs/benchmarks.md (## Call setup (Go peers))
// has the figures and the command. Each iteration is one whole call, so
// run them with -benchtime=100x or more; p50 and p95 are reported as
// custom metrics, in milliseconds.

// settingVariants are the SettingEngines compared: pion's defaults and
// the SDK's (see DefaultSettingEngine and docs/architecture.md).
func settingVariants() []struct {
	name string
	se   func() webrtc.SettingEngine
} {
	return []struct {
		name string
		se   func() webrtc.SettingEngine
	}{
		{"pion-defaults", func() webrtc.SettingEngine { return webrtc.SettingEngine{} }},
		{"sdk-defaults", client.DefaultSettingEngine},
	}
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	pct := func(p float64) float64 {
		i := int(p * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(0, "ns/op") // the whole-iteration time is not the figure of interest
}

// BenchmarkCallSetupServer: the first peer has joined and waits; the
// clock starts when the second peer starts dialing and stops when the
// chat channel is open on both sides: WebSocket, join, offer/answer and
// candidates through the real server, ICE, DTLS, SCTP.
func BenchmarkCallSetupServer(b *testing.B) {
	// Every call joins from 127.0.0.1; lift the per-IP join limit, which
	// would otherwise pace the loop at 2 calls a second.
	srv := startServer(b, signal.Config{JoinRate: 1e6, JoinBurst: 1e6})
	for _, v := range settingVariants() {
		b.Run(v.name, func(b *testing.B) {
			var times []time.Duration
			for i := range b.N {
				room := fmt.Sprintf("bench-%s-%d", v.name, i)
				first := dial(b, srv.URL(), room, client.WithSettingEngine(v.se()))
				start := time.Now()
				second := dial(b, srv.URL(), room, client.WithSettingEngine(v.se()))
				waitChat(b, first, second)
				times = append(times, time.Since(start))
				second.Close()
				first.Close()
			}
			reportPercentiles(b, times)
		})
	}
}

// BenchmarkCallSetupFloor: the same two pion peer connections and chat
// channel wired to each other in-process with no server: the floor the
// server's share is measured against.
func BenchmarkCallSetupFloor(b *testing.B) {
	for _, v := range settingVariants() {
		b.Run(v.name, func(b *testing.B) {
			var times []time.Duration
			for range b.N {
				d, err := directCall(v.se())
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, d)
			}
			reportPercentiles(b, times)
		})
	}
}

// directCall connects two peer connections by function calls and returns
// the time from creating them to both chat channels being open.
func directCall(se webrtc.SettingEngine) (time.Duration, error) {
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	start := time.Now()
	var pcs [2]*webrtc.PeerConnection
	var opened sync.WaitGroup
	var mu sync.Mutex
	pending := [2][]webrtc.ICECandidateInit{}
	ready := [2]bool{}
	for i := range pcs {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return 0, err
		}
		defer pc.GracefulClose()
		pcs[i] = pc
		negotiated, id := true, uint16(0)
		dc, err := pc.CreateDataChannel("chat", &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
		if err != nil {
			return 0, err
		}
		opened.Add(1)
		var once sync.Once
		dc.OnOpen(func() { once.Do(opened.Done) })
	}
	for i, pc := range pcs {
		other := 1 - i
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !ready[other] { // held until the other side has its remote description
				pending[other] = append(pending[other], c.ToJSON())
				return
			}
			pcs[other].AddICECandidate(c.ToJSON())
		})
	}
	offer, err := pcs[0].CreateOffer(nil)
	if err != nil {
		return 0, err
	}
	if err := pcs[0].SetLocalDescription(offer); err != nil {
		return 0, err
	}
	if err := pcs[1].SetRemoteDescription(offer); err != nil {
		return 0, err
	}
	answer, err := pcs[1].CreateAnswer(nil)
	if err != nil {
		return 0, err
	}
	if err := pcs[1].SetLocalDescription(answer); err != nil {
		return 0, err
	}
	if err := pcs[0].SetRemoteDescription(answer); err != nil {
		return 0, err
	}
	mu.Lock()
	for i := range pcs {
		ready[i] = true
		for _, c := range pending[i] {
			pcs[i].AddICECandidate(c)
		}
	}
	mu.Unlock()
	done := make(chan struct{})
	go func() { opened.Wait(); close(done) }()
	select {
	case <-done:
		return time.Since(start), nil
	case <-time.After(20 * time.Second):
		return 0, fmt.Errorf("direct call did not open its chat channel")
	}
}

// BenchmarkResume: a call is up; one peer's signaling socket is cut (a
// proxy closes it, the server stays up). The clock runs from the cut to
// the moment that peer is back in its room with its place resumed. The
// first backoff is 1 ms, so the figure is the SDK's and the server's work
// (noticing the drop, dialing, the resumed join), not the policy's wait.
func BenchmarkResume(b *testing.B) {
	srv := startServer(b, signal.Config{JoinRate: 1e6, JoinBurst: 1e6})
	proxy := newCutProxy(b, srv.Addr().String())
	up := make(chan bool, 4)
	a := dial(b, "http://"+proxy.ln.Addr().String(), "resume-bench",
		client.WithReconnect(client.Reconnect{Initial: time.Millisecond, Max: 10 * time.Millisecond}),
		client.WithOnSignalingChange(func(s bool) { up <- s }))
	peer := dial(b, srv.URL(), "resume-bench")
	waitChat(b, a, peer)
	var times []time.Duration
	for range b.N {
		start := time.Now()
		proxy.cut()
		for s := range up {
			if s {
				break
			}
		}
		times = append(times, time.Since(start))
	}
	if st := peer.State(); st != client.StateConnected {
		b.Fatalf("the other peer is %v after %d resumes", st, b.N)
	}
	reportPercentiles(b, times)
}
