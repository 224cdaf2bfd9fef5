package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// hangups turns SIGHUP into reloads. The process catches the signal from
// its start, so SIGHUP's default action (ending the process, which is what
// a certbot hook or `systemctl reload` used to do to duet) never applies;
// the running command registers what a reload means for it. With nothing
// registered the signal is logged and otherwise ignored.
type hangups struct {
	log *slog.Logger

	mu   sync.Mutex
	next int
	fns  map[int]func()
}

type hangupKey struct{}

// catchHangups catches SIGHUP until the returned stop is called, and puts
// the registry into ctx for onHangup.
func catchHangups(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	h := &hangups{log: slog.New(slog.NewTextHandler(stderr, nil)), fns: map[int]func(){}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-sig:
				h.fire()
			case <-done:
				return
			}
		}
	}()
	stop := func() {
		signal.Stop(sig)
		close(done)
		wg.Wait()
	}
	return context.WithValue(ctx, hangupKey{}, h), stop
}

// fire runs every registered reload, one after the other, on the signal
// goroutine: a second SIGHUP during a reload waits for it.
func (h *hangups) fire() {
	h.mu.Lock()
	fns := make([]func(), 0, len(h.fns))
	for i := range h.next {
		if fn, ok := h.fns[i]; ok {
			fns = append(fns, fn)
		}
	}
	h.mu.Unlock()
	if len(fns) == 0 {
		h.log.Info("SIGHUP: nothing to reload")
		return
	}
	for _, fn := range fns {
		fn()
	}
}

// onHangup registers fn to run on SIGHUP until remove is called. Without a
// registry in ctx (a command run in-process by a test) it does nothing.
func onHangup(ctx context.Context, fn func()) (remove func()) {
	h, _ := ctx.Value(hangupKey{}).(*hangups)
	if h == nil {
		return func() {}
	}
	h.mu.Lock()
	id := h.next
	h.next++
	h.fns[id] = fn
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.fns, id)
		h.mu.Unlock()
	}
}
