package wsconn

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The writer: frames go out at once without blocking where the socket takes
// them, and otherwise queue (bounded in frames and bytes) for a goroutine
// that exists only while there is something to write.

// Send queues one text message. It never blocks: it writes what the socket
// takes at once and leaves the rest to a goroutine that exists only while
// there is something to write. ErrQueueFull means the client is not
// reading; the caller decides what to do with it (usually Close without
// flushing).
func (c *Conn) Send(data []byte) error {
	var hb [10]byte
	// The header and data go out in one writev; data is copied only if the
	// socket does not take it all.
	return c.write(appendHeader(hb[:0], opText, len(data)), data)
}

func (c *Conn) queueCloseLocked(code int, text string) {
	c.closeQueued = true
	c.writeLocked(appendFrame(nil, opClose, closePayload(code, text)), nil, true)
}

// write sends a data frame, or a pong (control), in order. Both count
// against SendQueue and SendQueueBytes: a client that sends pings and never
// reads must not grow the queue. A pong that does not fit is dropped (RFC
// 6455 lets a pong answer only the latest ping, and this client is being
// cut anyway).
func (c *Conn) write(hdr, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing || c.broken {
		return ErrClosed
	}
	if !c.fitsLocked(len(hdr) + len(p)) {
		return ErrQueueFull
	}
	return c.writeLocked(hdr, p, false)
}

// fitsLocked reports whether an n-byte frame may be sent: the queue has
// room for one more frame and for n more bytes. The bytes are counted as if
// none of the frame went out at once, so what a slow client makes the
// server hold is bounded by SendQueueBytes whatever sizes it is sent. A
// frame larger than the bound still goes to a client with nothing queued:
// a single message is never refused for its size alone.
func (c *Conn) fitsLocked(n int) bool {
	held := c.qBytes + c.flight
	return len(c.q) < c.opts.SendQueue && (held == 0 || held+n <= c.opts.SendQueueBytes)
}

// dropQueueLocked forgets every queued frame (the one being written, if
// any, stays counted in flight until its write returns).
func (c *Conn) dropQueueLocked() {
	c.q, c.qBytes = nil, 0
}

// writeLocked writes a frame (hdr, then p), or queues it behind what is
// queued; isClose marks our close frame, whose writing starts the wait for
// the client's.
func (c *Conn) writeLocked(hdr, p []byte, isClose bool) error {
	if c.broken {
		if isClose {
			c.closeWrittenLocked()
		}
		return ErrClosed
	}
	n := 0
	if len(c.q) == 0 && !c.flushing && c.rc != nil {
		var err error
		n, err = c.writeNow(hdr, p)
		if err != nil {
			c.failLocked()
			if isClose {
				c.closeWrittenLocked()
			}
			return ErrClosed
		}
		if n == len(hdr)+len(p) {
			if isClose {
				c.closeWrittenLocked()
			}
			return nil
		}
	}
	rest := unwritten(hdr, p, n)
	c.q = append(c.q, rest)
	c.qBytes += len(rest)
	if isClose {
		c.q = append(c.q, nil) // marks the close frame as written once reached
	}
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return nil
}

// unwritten is what is left of hdr then p after n bytes, in a buffer of
// its own: the caller may reuse p once Send returns.
func unwritten(hdr, p []byte, n int) []byte {
	rest := make([]byte, 0, len(hdr)+len(p)-n)
	if n < len(hdr) {
		return append(append(rest, hdr[n:]...), p...)
	}
	return append(rest, p[n-len(hdr):]...)
}

// writeNow writes hdr and p without waiting; a full socket buffer takes
// less.
func (c *Conn) writeNow(hdr, p []byte) (int, error) {
	var n int
	var err error
	if rerr := c.rc.Write(func(fd uintptr) bool {
		if len(p) == 0 {
			n, err = syscall.Write(int(fd), hdr)
		} else {
			n, err = unix.Writev(int(fd), [][]byte{hdr, p})
		}
		return true
	}); rerr != nil {
		return 0, rerr
	}
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return 0, nil
	}
	return max(n, 0), err
}

// flush writes the queue with blocking writes and exits when it is empty.
func (c *Conn) flush() {
	for {
		c.wmu.Lock()
		if len(c.q) == 0 || c.broken {
			c.flushing = false
			if c.broken && c.closeQueued {
				c.closeWrittenLocked()
			}
			c.dropQueueLocked()
			c.maybeFinishLocked()
			c.wmu.Unlock()
			return
		}
		f := c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
		c.qBytes -= len(f)
		if f == nil { // the mark after the close frame
			c.closeWrittenLocked()
			c.wmu.Unlock()
			continue
		}
		wt := c.opts.WriteTimeout
		if len(c.q) > 0 && c.q[0] == nil {
			// The close frame: a client that is not reading may never
			// take it, so it gets CloseWait rather than WriteTimeout.
			wt = min(wt, c.opts.CloseWait)
		}
		c.flight = len(f)
		c.wmu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(wt))
		_, err := c.nc.Write(f)
		c.wmu.Lock()
		c.flight = 0
		if err != nil {
			c.failLocked()
		}
		c.wmu.Unlock()
	}
}

// failLocked marks the socket as unwritable and ends reading: the client
// cannot be told anything any more.
func (c *Conn) failLocked() {
	if c.broken {
		return
	}
	c.broken = true
	c.dropQueueLocked()
	c.kickLocked(End{Dropped: true})
}

// closeWrittenLocked: our close frame is out (or cannot be sent). Wait
// CloseWait for the client's, unless reading is over already.
func (c *Conn) closeWrittenLocked() {
	if c.closeDone {
		return
	}
	c.closeDone = true
	if c.ended {
		c.maybeFinishLocked()
		return
	}
	if c.broken {
		return // kicked already
	}
	c.closeBy = time.Now().Add(c.opts.CloseWait)
	if c.timer != nil {
		c.timer.Reset(c.opts.CloseWait)
	}
}
