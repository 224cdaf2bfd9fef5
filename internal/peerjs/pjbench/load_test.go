package pjbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-call/duet/internal/peerjs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The load generator itself, small and in-process against duet: every
// phase must move messages and report numbers that make sense.
func TestLoadAgainstDuet(t *testing.T) {
	srv, err := peerjs.New(peerjs.Config{MaxConnsPerIP: 1000, ConnBurst: 1000, MsgRate: 1e6, MsgBurst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux, "/peerjs")
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	tg := Target{Name: "duet", Host: strings.TrimPrefix(hs.URL, "http://"), Path: "/peerjs", Pid: os.Getpid()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, before, after, err := IdleRamp(ctx, tg, 50, 10*time.Millisecond); err != nil || before <= 0 || after <= 0 {
		t.Fatalf("idle ramp: rss %d → %d, %v", before, after, err)
	}
	lat, err := Unloaded(ctx, tg, 20)
	if err != nil || len(lat) != 20 || lat.Quantile(0.5) <= 0 {
		t.Fatalf("unloaded: %d samples, %v", len(lat), err)
	}
	tp, err := PingPong(ctx, tg, 5, 50*time.Millisecond, 300*time.Millisecond)
	if err != nil || tp.Messages == 0 || len(tp.Latency) == 0 {
		t.Fatalf("ping-pong: %+v, %v", tp, err)
	}
}

func TestFrameCarriesSendTime(t *testing.T) {
	for _, size := range []int{200, 3000} {
		b := frame("OFFER", "x", size, 12345*time.Microsecond)
		if len(b) != size {
			t.Errorf("size %d: got %d bytes", size, len(b))
		}
		if d, ok := sentAt(b); !ok || d != 12345*time.Microsecond {
			t.Errorf("sentAt = %v %v", d, ok)
		}
	}
}
