// Package client is duet's Go SDK: a Go program joins a duet room as a
// peer, exactly as the web app does, and calls a browser or another Go
// peer.
//
//	call, err := client.Dial(ctx, "https://duet.example.org", "my-room",
//		client.WithTracks(videoTrack),
//		client.WithOnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) { ... }),
//		client.WithOnChat(func(text string) { fmt.Println(text) }),
//		client.WithOnStateChange(func(s client.State) { log.Println(s) }))
//	if errors.Is(err, client.ErrRoomFull) { ... }
//	defer call.Close()
//	call.WaitChat(ctx)
//	call.SendChat("hello")
//
// Dial speaks the signaling protocol of docs/protocol.md: it joins, uses the
// ICE servers the server hands out (WithICEServers overrides them), and
// follows the perfect negotiation roles the server assigns, so a Go peer
// and a browser can each be first or second in the room. A peer connection
// is created when the other peer is present and closed when it leaves; the
// call then waits for the next peer. Every peer connection carries the
// pre-negotiated "chat" data channel (id 0) with the JSON text messages
// the web app sends.
//
// A call survives outages as the web app does: when the signaling
// WebSocket drops it reconnects with backoff and resumes its place with
// the server's resume token (Reconnect), keeping the peer connection, and
// when the media path breaks the impolite peer restarts ICE (ICERestart).
// docs/protocol.md gives the rules both clients follow.
//
// Inside, one event loop goroutine owns the call's state: WebSocket
// messages, pion callbacks and requests such as AddTrack all reach it as
// events, so negotiation needs no locks. One goroutine reads the WebSocket
// and one writes it, from a bounded queue; while signaling is down one
// more redials. Handlers given as options run
// in order on one more goroutine (track handlers each on their own), and
// Close waits for all of them: a closed call leaves no goroutine behind.
package client
