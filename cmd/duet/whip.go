package main

import (
	"flag"
	"log/slog"
	"net/http"
	"time"

	"github.com/duet-call/duet/internal/signal"
	"github.com/duet-call/duet/internal/whip"
	"github.com/duet-call/duet/protocol"
)

// whipFlags are the flags of the WHIP and WHEP endpoints of `duet serve`
// (docs/whip.md). Each has its DUET_* twin: DUET_WHIP_TOKEN, …
type whipFlags struct {
	enabled    bool
	token      string
	gatherWait time.Duration
	answerWait time.Duration
}

func addWHIPFlags(fs *flag.FlagSet) *whipFlags {
	f := &whipFlags{}
	fs.BoolVar(&f.enabled, "whip", true, "serve WHIP (POST /whip/{room}) and WHEP (POST /whep/{room}), so OBS, GStreamer or FFmpeg can publish into a call or play it (--whip=false turns them off)")
	fs.StringVar(&f.token, "whip-token", "", "when set, WHIP and WHEP requests must carry Authorization: Bearer with this token; without it, knowing the room is enough, as for a browser")
	fs.DurationVar(&f.gatherWait, "whip-gather-wait", time.Second, "after the person's app answers a WHIP/WHEP offer, wait at most this long for its ICE candidates to put into the answer")
	fs.DurationVar(&f.answerWait, "whip-answer-timeout", 15*time.Second, "how long a WHIP/WHEP offer waits for the person's app to answer (504 after)")
	return f
}

// service builds the endpoints, or nil when they are off. routes adds
// them to the server's mux; attach gives them the hub once server.New has
// made it, before Start.
func (f *whipFlags) service(log *slog.Logger, ice func(host, user string) []protocol.ICEServer) (routes func(*http.ServeMux), attach func(*signal.Hub)) {
	if !f.enabled {
		return func(*http.ServeMux) {}, func(*signal.Hub) {}
	}
	svc := whip.New(whip.Config{
		Token:         f.token,
		ICEServers:    ice,
		GatherWait:    f.gatherWait,
		AnswerTimeout: f.answerWait,
		Logger:        log.With("part", "whip"),
	})
	return svc.Register, svc.SetHub
}
