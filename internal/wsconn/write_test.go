package wsconn

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// A client that does not read makes the server hold at most
// SendQueueBytes of queued frames, whatever the size of the messages sent
// to it: 64 frames of 60 KB would be 3.8 MB.
func TestSendQueueIsBoundedInBytes(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			rec := &recorder{}
			ws := dial(t, serve(t, Options{}, rec, useTLS)) // never reads
			c := <-rec.conns
			big := bytes.Repeat([]byte("<"), 60000)
			var err error
			for i := 0; i < 1000 && err == nil; i++ {
				err = c.Send(big)
			}
			if !errors.Is(err, ErrQueueFull) {
				t.Fatalf("Send to a client that does not read: %v, want ErrQueueFull", err)
			}
			c.wmu.Lock()
			held := 0
			for _, f := range c.q {
				held += len(f)
			}
			c.wmu.Unlock()
			if held > DefaultSendQueueBytes {
				t.Fatalf("%d bytes queued for a client that does not read; the bound is %d", held, DefaultSendQueueBytes)
			}
			c.Close(ClosePolicyViolation, "slow consumer", false)
			rec.waitDone(t)
			_ = ws
		})
	}
}

// A message larger than the byte bound still reaches a client that keeps
// up: the bound is on what waits, not on one message's size.
func TestLargeFrameToAnIdleQueue(t *testing.T) {
	rec := &recorder{}
	ws := dial(t, serve(t, Options{SendQueueBytes: 1024, ReadLimit: 1 << 20}, rec, true)) // TLS: every frame is queued
	c := <-rec.conns
	big := bytes.Repeat([]byte("x"), 100<<10)
	if err := c.Send(big); err != nil {
		t.Fatalf("Send of 100 KiB with nothing queued: %v", err)
	}
	if got := readText(t, ws); len(got) != len(big) {
		t.Fatalf("got %d bytes", len(got))
	}
}
