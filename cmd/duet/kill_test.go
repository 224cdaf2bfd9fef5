package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/media"
	"github.com/pion/webrtc/v4"
)

// TestMain lets a test start the real `duet serve` as a child process (this
// test binary again, with DUET_TEST_SERVE set), so that it can be killed
// the way a crash or the OOM killer would: no bye, no close frames.
func TestMain(m *testing.M) {
	if args := os.Getenv("DUET_TEST_MAIN"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr)) // the whole binary, signals included
	}
	if args := os.Getenv("DUET_TEST_SERVE"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		os.Exit(runServe(ctx, strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startServeProcess runs duet serve in a child process on addr and waits
// until it accepts connections.
func startServeProcess(t *testing.T, addr, secret string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DUET_TEST_SERVE=--addr "+addr+" --lan --peerjs=false --log-level warn --resume-secret "+secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("duet serve never listened on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerProcessKilledMidCall: two Go peers in a call; the server
// process is killed with SIGKILL and started again on the same port. Chat
// keeps flowing peer to peer while no server runs, both peers resume their
// places (neither sees the other leave), and they renegotiate through the
// new process.
func TestServerProcessKilledMidCall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	secret := strings.Repeat("5e", 32)
	srv := startServeProcess(t, addr, secret)
	url := "http://" + addr

	type side struct {
		call   *client.Call
		chat   chan string
		left   chan struct{}
		signal chan bool
		tracks chan string
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var peers [2]*side
	for i := range peers {
		s := &side{chat: make(chan string, 8), left: make(chan struct{}, 1), signal: make(chan bool, 16), tracks: make(chan string, 4)}
		s.call, err = client.Dial(ctx, url, "killed",
			client.WithOnChat(func(m string) { s.chat <- m }),
			client.WithReconnect(client.Reconnect{Initial: 100 * time.Millisecond, Max: time.Second, Total: 60 * time.Second}),
			client.WithOnSignalingChange(func(up bool) { s.signal <- up }),
			client.WithOnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				s.tracks <- tr.Codec().MimeType
				for {
					if _, _, err := tr.ReadRTP(); err != nil {
						return
					}
				}
			}),
			client.WithOnStateChange(func(st client.State) {
				if st == client.StatePeerLeft {
					select {
					case s.left <- struct{}{}:
					default:
					}
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.call.Close()
		peers[i] = s
	}
	for _, s := range peers {
		if err := s.call.WaitChat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitSignal := func(s *side, want bool) {
		t.Helper()
		for {
			select {
			case up := <-s.signal:
				if up == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("signaling never went up=%v", want)
			}
		}
	}
	expectChat := func(s *side, want string) {
		t.Helper()
		select {
		case got := <-s.chat:
			if got != want {
				t.Fatalf("chat %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("chat %q never arrived", want)
		}
	}

	if err := srv.Process.Kill(); err != nil { // SIGKILL: no bye, no close frames
		t.Fatal(err)
	}
	srv.Wait()
	for _, s := range peers {
		waitSignal(s, false)
	}
	for i, s := range peers {
		msg := fmt.Sprintf("peer %d while no server runs", i)
		if err := s.call.SendChat(msg); err != nil {
			t.Fatalf("chat during the outage: %v", err)
		}
		expectChat(peers[1-i], msg)
	}

	startServeProcess(t, addr, secret)
	for _, s := range peers {
		waitSignal(s, true)
	}
	// Both back in the same room through the new process: a chat line and
	// a renegotiation (a track added) go through.
	if err := peers[0].call.SendChat("after the restart"); err != nil {
		t.Fatal(err)
	}
	expectChat(peers[1], "after the restart")
	src, err := media.Open("../../testdata/media/opus.ogg", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := peers[0].call.AddTrack(src.Track()); err != nil {
		t.Fatal(err)
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	played := make(chan error, 1)
	go func() { played <- src.Run(playCtx) }()
	defer func() { stopPlay(); <-played }()
	select {
	case mime := <-peers[1].tracks:
		if mime != webrtc.MimeTypeOpus {
			t.Fatalf("got a %s track, want Opus", mime)
		}
	case <-ctx.Done():
		t.Fatal("the track added after the restart never arrived: no renegotiation")
	}
	for i, s := range peers {
		select {
		case <-s.left:
			t.Fatalf("peer %d saw the other leave", i)
		default:
		}
		if st := s.call.State(); st != client.StateConnected {
			t.Fatalf("peer %d is %v after the restart", i, st)
		}
	}
}
