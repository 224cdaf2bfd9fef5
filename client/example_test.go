package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/duet-call/duet/internal/server"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// exampleServer runs a duet server in-process for the examples; in real
// use the URL is that of a running `duet serve`.
func exampleServer() (url string, stop func()) {
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		panic(err)
	}
	return srv.URL(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

// Two Go peers meet in a room and chat over the same "chat" data channel
// the web app uses.
func ExampleDial() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	got := make(chan string, 1)
	alice, err := client.Dial(ctx, url, "example-room")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, url, "example-room",
		client.WithOnChat(func(text string) { got <- text }))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close()

	if err := alice.WaitChat(ctx); err != nil {
		fmt.Println(err)
		return
	}
	alice.SendChat("hello, Bob")
	fmt.Println("bob got:", <-got)
	fmt.Println("roles differ:", alice.Polite() != bob.Polite())
	// Output:
	// bob got: hello, Bob
	// roles differ: true
}

// A third peer is refused; errors.Is tells which refusal it was.
func ExampleDial_roomFull() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	for range 2 {
		c, err := client.Dial(ctx, url, "pair")
		if err != nil {
			fmt.Println(err)
			return
		}
		defer c.Close()
	}
	_, err := client.Dial(ctx, url, "pair")
	fmt.Println("room full:", errors.Is(err, client.ErrRoomFull))
	_, err = client.Dial(ctx, "http://127.0.0.1:1", "pair")
	fmt.Println("unreachable:", errors.Is(err, client.ErrUnreachable))
	// Output:
	// room full: true
	// unreachable: true
}

// Sending a video track and receiving the other side's tracks. Tracks given
// with WithTracks are in the first offer; WithOnTrack runs once per
// remote track, in its own goroutine, until the track ends.
func ExampleWithTracks() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	video, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	kinds := make(chan string, 1)
	sender, err := client.Dial(ctx, url, "media-room", client.WithTracks(video))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sender.Close()
	receiver, err := client.Dial(ctx, url, "media-room",
		client.WithOnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			kinds <- t.Kind().String() + " " + t.Codec().MimeType
			for { // read until the call closes
				if _, _, err := t.ReadRTP(); err != nil {
					return
				}
			}
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer receiver.Close()
	// pion announces a remote track with its first packet: send frames
	// (a real sender writes encoded VP8, e.g. from internal/media).
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a} // the start of a VP8 keyframe
		for ctx.Err() == nil {
			video.WriteSample(mediaSample(frame))
			time.Sleep(33 * time.Millisecond)
		}
	}()
	fmt.Println(<-kinds)
	cancel()
	<-writing
	// Output:
	// video video/VP8
}

func mediaSample(b []byte) media.Sample {
	return media.Sample{Data: b, Duration: 33 * time.Millisecond}
}
