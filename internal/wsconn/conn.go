// Package wsconn is duet's server side of a WebSocket connection, built
// for many idle clients: on Linux a plain TCP connection has no goroutine
// and no buffer while it waits. A few pollers (one per CPU) wait on epoll
// for every connection; when one is readable its poller reads what is
// there, parses the frames and hands each message to the Handler before
// going on. Writes are tried at once without blocking; only a client that
// does not keep up gets a goroutine to finish the write. TLS connections
// (and anything that is not a socket) are read on a goroutine of their
// own, with the same framing.
//
// docs/architecture.md says why: a goroutine-per-connection reader costs
// its stack for as long as the client stays, which was most of an idle
// peer's memory.
package wsconn

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options tune a connection. Zero values take the defaults noted.
type Options struct {
	ReadLimit    int64         // largest message; a bigger one closes with 1009 (default 64 KiB)
	IdleTimeout  time.Duration // nothing read for this long ends the connection (default 60 s)
	PingInterval time.Duration // ping the client this often (default 25 s)
	WriteTimeout time.Duration // a blocked write fails after this (default 10 s)
	SendQueue    int           // frames waiting to be written; more makes Send fail with ErrQueueFull (default 64)
	// CloseWait is how long to wait for the client's close frame after
	// ours before dropping the connection (default 1 s).
	CloseWait time.Duration
	// Done is called once the socket is closed and nothing of the
	// connection runs any more.
	Done func()
}

func (o Options) withDefaults() Options {
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 64
	}
	if o.CloseWait <= 0 {
		o.CloseWait = time.Second
	}
	return o
}

// Handler receives a connection's messages and its end. Both run on the
// reader (a poller, shared with other connections): they must not block.
type Handler interface {
	// Message is one whole message. data is valid only during the call.
	Message(c *Conn, text bool, data []byte)
	// Ended is called once, when reading is over. No Message follows.
	Ended(c *Conn, e End)
}

// End says how reading ended.
type End struct {
	// Code is the close code the client sent (CloseNoStatus for none), or
	// 0 if it sent no close frame.
	Code int
	// ByServer: Close was called before reading ended.
	ByServer bool
	// Dropped: neither side closed with a close frame. The network
	// failed, the client went silent past IdleTimeout, broke the
	// protocol, or a write to it failed.
	Dropped bool
}

var (
	// ErrQueueFull: the client is not reading; Send refused the message.
	ErrQueueFull = errors.New("wsconn: send queue full")
	// ErrClosed: the connection is closing; nothing more is sent.
	ErrClosed = errors.New("wsconn: connection closed")
)

// Conn is one server-side WebSocket connection.
type Conn struct {
	nc   net.Conn
	rc   syscall.RawConn // nil: not a plain socket; read on a goroutine
	fd   int
	opts Options
	h    Handler
	p    *poller // nil when read on a goroutine

	// The reader's state, guarded by rmu (the reader holds it while it
	// parses; ending takes it so no Message can follow Ended).
	rmu      sync.Mutex
	readDone bool
	pend     []byte // bytes of a frame not wholly read yet
	msg      []byte // earlier fragments of a fragmented message
	msgOp    byte
	inMsg    bool
	held     bool // Hold: frames wait in pend until Release
	// heldEnd: the socket ended (EOF, reset) while held. The frames read
	// before it, such as a client's close frame, are still in pend, so
	// the end waits for Release rather than throwing them away: a clean
	// close must not be taken for a drop.
	heldEnd *End

	lastRead atomic.Int64 // unix nanoseconds of the last bytes read

	// The writer's state, guarded by wmu.
	wmu         sync.Mutex
	q           [][]byte // frames not yet written; q[0] may be partly written
	flushing    bool     // a flush goroutine is writing q
	closing     bool     // a close frame is queued or sent: no more data
	closeQueued bool
	closeDone   bool // the close frame is written, or cannot be
	broken      bool // a write failed: nothing more can be written
	// serverClosed: Close was called (or a frame refused) before
	// reading ended.
	serverClosed bool
	aborted      bool // Abort: close without a linger
	ended        bool // reading is over (mirrors readDone for the writer)
	finished     bool // the socket is being closed
	kickEnd      *End // for a goroutine reader: why it was woken
	readerGone   bool // the goroutine reader stopped at a heldEnd; a kick must end it itself
	timer        *time.Timer
	lastPing     time.Time
	closeBy      time.Time // after our close frame: give up waiting then
}

// New wraps a connection returned by Upgrade. Nothing is read until Start.
func New(nc net.Conn, opts Options, h Handler) *Conn {
	c := &Conn{nc: nc, opts: opts.withDefaults(), h: h}
	if sc, ok := nc.(syscall.Conn); ok && pollerSupported {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			rc.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	return c
}

// Start begins reading and pinging.
func (c *Conn) Start() {
	now := time.Now()
	c.lastRead.Store(now.UnixNano())
	c.wmu.Lock()
	c.lastPing = now
	d := min(c.opts.PingInterval, c.opts.IdleTimeout)
	if c.closeDone {
		d = max(c.closeBy.Sub(now), 0) // closed before it started
	}
	c.timer = time.AfterFunc(d, c.tick)
	// Aborted before it started: the goroutine reader sees the expired
	// read deadline at once and ends.
	kicked := c.kickEnd != nil
	c.wmu.Unlock()
	if c.rc != nil && !kicked {
		if p := pickPoller(); p != nil {
			c.setPoller(p) // before add: the poller may read c at once
			if err := p.add(c); err == nil {
				return
			}
			c.setPoller(nil)
		}
	}
	go c.readLoop()
}

// setPoller sets p under both locks: the reader reads it under rmu, the
// timer and writers under wmu.
func (c *Conn) setPoller(p *poller) {
	c.rmu.Lock()
	c.wmu.Lock()
	c.p = p
	c.wmu.Unlock()
	c.rmu.Unlock()
}

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

// Close sends a close frame with code and text, after what is queued if
// flush is true (otherwise the queue is dropped and a stuck write is cut
// short), then waits CloseWait for the client's answer and drops the
// connection. Only the first call counts.
func (c *Conn) Close(code int, text string, flush bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.serverClosed = true, true
	if !flush && c.flushing {
		// The flush goroutine may be stuck writing to a client that does
		// not read: end that write now, not after WriteTimeout. What is
		// queued is dropped; a frame cut in the middle breaks the stream,
		// so the close frame is not tried after it.
		c.nc.SetWriteDeadline(time.Now())
		c.q = nil
		c.failLocked()
	}
	c.queueCloseLocked(code, text)
}

// Abort drops the connection now: no close frame, no linger. It is for a
// shutdown that has run out of time.
func (c *Conn) Abort() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.finished {
		// It may be lingering: closing the socket cuts that short.
		c.nc.Close()
		return
	}
	c.aborted, c.closing, c.serverClosed = true, true, true
	c.nc.SetWriteDeadline(time.Now()) // unsticks a flush
	c.failLocked()
	c.closeWrittenLocked()
}

func (c *Conn) queueCloseLocked(code int, text string) {
	c.closeQueued = true
	c.writeLocked(appendFrame(nil, opClose, closePayload(code, text)), nil, true)
}

// write sends a data frame, or a pong (control), in order. Both count
// against SendQueue: a client that sends pings and never reads must not
// grow the queue. A pong that does not fit is dropped (RFC 6455 lets a
// pong answer only the latest ping, and this client is being cut anyway).
func (c *Conn) write(hdr, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing || c.broken {
		return ErrClosed
	}
	if len(c.q) >= c.opts.SendQueue {
		return ErrQueueFull
	}
	return c.writeLocked(hdr, p, false)
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
	c.q = append(c.q, unwritten(hdr, p, n))
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
			c.q = nil
			c.maybeFinishLocked()
			c.wmu.Unlock()
			return
		}
		f := c.q[0]
		c.q[0] = nil
		c.q = c.q[1:]
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
		c.wmu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(wt))
		if _, err := c.nc.Write(f); err != nil {
			c.wmu.Lock()
			c.failLocked()
			c.wmu.Unlock()
		}
	}
}

// failLocked marks the socket as unwritable and ends reading: the client
// cannot be told anything any more.
func (c *Conn) failLocked() {
	if c.broken {
		return
	}
	c.broken = true
	c.q = nil
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

// tick runs on the connection's timer: it ends a connection that has been
// silent for IdleTimeout, pings, and ends the wait for a close frame.
func (c *Conn) tick() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended || c.finished {
		return
	}
	now := time.Now()
	if c.closing {
		if c.closeDone && !now.Before(c.closeBy) {
			c.kickLocked(End{ByServer: true})
		} else if c.closeDone {
			c.timer.Reset(c.closeBy.Sub(now))
		}
		return
	}
	last := time.Unix(0, c.lastRead.Load())
	if now.Sub(last) >= c.opts.IdleTimeout {
		c.kickLocked(End{Dropped: true})
		return
	}
	if now.Sub(c.lastPing) >= c.opts.PingInterval {
		c.lastPing = now
		if len(c.q) < c.opts.SendQueue { // a client this far behind is pinged no more
			c.writeLocked(appendFrame(nil, opPing, nil), nil, false)
		}
	}
	next := min(c.lastPing.Add(c.opts.PingInterval).Sub(now), last.Add(c.opts.IdleTimeout).Sub(now))
	c.timer.Reset(max(next, time.Millisecond))
}

// kickLocked makes the reader end with e, from outside the reader.
func (c *Conn) kickLocked(e End) {
	if c.ended {
		return
	}
	if c.p != nil {
		c.p.kick(c, e)
		return
	}
	if c.kickEnd == nil {
		c.kickEnd = &e
	}
	if c.readerGone {
		go c.end(e) // no reader is left to wake
		return
	}
	c.nc.SetReadDeadline(time.Now()) // wakes the reading goroutine
}

// readLoop reads a connection that has no poller.
func (c *Conn) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := c.nc.Read(buf)
		c.rmu.Lock()
		if c.readDone {
			c.rmu.Unlock()
			return
		}
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			c.processLocked(buf[:n])
		}
		if err != nil && !c.readDone {
			c.wmu.Lock()
			e := End{Dropped: true}
			kicked := c.kickEnd != nil
			if kicked {
				e = *c.kickEnd
			}
			if c.held && !kicked {
				// Release ends it once the held frames are handled.
				c.heldEnd = &e
				c.readerGone = true
				c.wmu.Unlock()
				c.rmu.Unlock()
				return
			}
			c.wmu.Unlock()
			c.endLocked(e)
		}
		done := c.readDone
		c.rmu.Unlock()
		if done {
			return
		}
	}
}

// readReady is called by the poller when the socket is readable.
func (c *Conn) readReady(buf []byte) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.readDone {
		return
	}
	var n int
	var err error
	if rerr := c.rc.Read(func(fd uintptr) bool {
		n, err = syscall.Read(int(fd), buf)
		return true
	}); rerr != nil {
		err = rerr
	}
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return // level-triggered: asked again if still readable
	case err != nil || n <= 0:
		if c.held {
			// Release ends it once the held frames are handled; until
			// then the socket is not watched, or its EOF would wake the
			// poller over and over.
			c.heldEnd = &End{Dropped: true}
			c.p.pause(c)
			return
		}
		c.endLocked(End{Dropped: true})
		return
	}
	c.lastRead.Store(time.Now().UnixNano())
	c.processLocked(buf[:n])
}

// end is the poller's way to end a kicked connection.
func (c *Conn) end(e End) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.endLocked(e)
}

// endLocked ends reading once: the Handler hears of it, and the writer
// finishes with a close frame (1000 if none is queued) and closes the
// socket.
func (c *Conn) endLocked(e End) {
	if c.readDone {
		return
	}
	c.readDone = true
	c.pend, c.msg = nil, nil
	if c.p != nil {
		c.p.remove(c)
	}
	c.wmu.Lock()
	if c.serverClosed {
		e.ByServer, e.Dropped = true, false
	}
	c.wmu.Unlock()
	c.h.Ended(c, e)
	c.wmu.Lock()
	c.ended = true
	if !c.closing {
		c.closing = true
		c.queueCloseLocked(CloseNormal, "")
	}
	c.maybeFinishLocked()
	c.wmu.Unlock()
}

// maybeFinishLocked closes the socket once reading is over and the close
// frame is out (or cannot be).
func (c *Conn) maybeFinishLocked() {
	if c.finished || !c.ended || !c.closeDone || c.flushing {
		return
	}
	c.finished = true
	if c.timer != nil {
		c.timer.Stop()
	}
	go func() {
		if c.aborted {
			c.nc.Close()
		} else {
			lingerClose(c.nc)
		}
		if c.opts.Done != nil {
			c.opts.Done()
		}
	}()
}

// Hold makes the connection's later frames wait until Release. Call it
// from Message: a handler that must do slow work (a cluster-wide join)
// does it on a goroutine of its own, so the poller goes on serving other
// connections, and this client's next messages still come after it.
// While held, bytes keep being read (so the socket never looks idle) into
// a buffer bounded by twice ReadLimit; a client that sends more than that
// in the meantime is closed with 1008.
func (c *Conn) Hold() { c.held = true }

// Release ends a Hold: the frames that waited are handled now, on the
// caller's goroutine, in order.
func (c *Conn) Release() {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.held = false
	if c.readDone {
		return
	}
	if len(c.pend) > 0 {
		b := c.pend
		c.pend = nil
		c.processLocked(b)
	}
	if e := c.heldEnd; e != nil && !c.held {
		c.heldEnd = nil
		c.endLocked(*e)
	}
}

// pendReserve is the largest incomplete frame whose whole size is
// allocated when its header arrives (an offer is about 3 KB).
const pendReserve = 8 << 10

// processLocked parses frames from b (the reader holds rmu).
func (c *Conn) processLocked(b []byte) {
	if c.held {
		if int64(len(c.pend)+len(b)) > 2*c.opts.ReadLimit+64 {
			c.failFrameLocked(&frameError{ClosePolicyViolation, "too much sent while a request was pending"})
			return
		}
		c.pend = append(c.pend, b...)
		return
	}
	if len(c.pend) > 0 {
		c.pend = append(c.pend, b...)
		b = c.pend
	}
	for !c.readDone && !c.held {
		h, ok, fe := parseHeader(b)
		if fe != nil {
			c.failFrameLocked(fe)
			return
		}
		if !ok {
			break
		}
		if h.op <= opBinary && int64(len(c.msg))+h.length > c.opts.ReadLimit {
			c.failFrameLocked(&frameError{CloseMessageTooBig, "message too big"})
			return
		}
		total := h.size + int(h.length)
		if len(b) < total {
			if cap(c.pend) < total && total <= pendReserve {
				// Room for a signaling-sized frame at once. A larger one
				// grows with what arrives: a frame header alone must not
				// make us allocate the size it announces.
				p := make([]byte, len(b), total)
				copy(p, b)
				c.pend, b = p, p
			}
			break
		}
		payload := b[h.size:total]
		unmask(payload, h.mask)
		b = b[total:]
		c.frameLocked(h, payload)
	}
	switch {
	case c.readDone || len(b) == 0:
		c.pend = nil
	case len(c.pend) > 0 && &b[0] == &c.pend[0]:
		// already kept in pend
	case cap(c.pend) >= len(b) && len(c.pend) > 0:
		c.pend = c.pend[:copy(c.pend[:cap(c.pend)], b)]
	default:
		c.pend = append([]byte(nil), b...)
	}
}

// frameLocked acts on one whole frame.
func (c *Conn) frameLocked(h header, p []byte) {
	switch h.op {
	case opText, opBinary:
		if c.inMsg {
			c.failFrameLocked(&frameError{CloseProtocolError, "expected a continuation frame"})
			return
		}
		if h.fin {
			c.deliverLocked(h.op, p)
			return
		}
		c.inMsg, c.msgOp = true, h.op
		c.msg = append([]byte(nil), p...)
	case opContinuation:
		if !c.inMsg {
			c.failFrameLocked(&frameError{CloseProtocolError, "continuation without a message"})
			return
		}
		c.msg = append(c.msg, p...)
		if h.fin {
			m := c.msg
			c.msg, c.inMsg = nil, false
			c.deliverLocked(c.msgOp, m)
		}
	case opPing:
		c.write(appendFrame(nil, opPong, p), nil)
	case opPong:
		// Liveness only: lastRead has moved.
	case opClose:
		code, fe := parseClose(p)
		if fe != nil {
			c.failFrameLocked(fe)
			return
		}
		c.wmu.Lock()
		if !c.closing {
			c.closing = true
			c.queueCloseLocked(code, "") // echo the client's code
		}
		c.wmu.Unlock()
		c.endLocked(End{Code: code})
	}
}

func (c *Conn) deliverLocked(op byte, p []byte) {
	c.wmu.Lock()
	closing := c.closing
	c.wmu.Unlock()
	if !closing {
		c.h.Message(c, op == opText, p)
	}
}

// failFrameLocked closes on a broken or oversized frame. Like a client
// that breaks the protocol, it counts as a drop, except for a message
// that is too big, which the server itself refused.
func (c *Conn) failFrameLocked(fe *frameError) {
	c.wmu.Lock()
	if !c.closing {
		c.closing = true
		c.serverClosed = fe.code == CloseMessageTooBig
		c.queueCloseLocked(fe.code, fe.text)
	}
	c.wmu.Unlock()
	c.endLocked(End{Dropped: true})
}

// lingerClose half-closes the socket and reads what the client still
// sends until it goes quiet for a moment (at most 5 s and 1 MiB) before
// closing. Closing with unread input makes the kernel send a reset, which
// can destroy our close frame before the client has read it.
func lingerClose(c net.Conn) {
	defer c.Close()
	tc, ok := c.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	buf := make([]byte, 4096)
	end := time.Now().Add(5 * time.Second)
	for total := 0; total < 1<<20; {
		d := time.Now().Add(time.Second)
		if d.After(end) {
			d = end
		}
		c.SetReadDeadline(d)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		total += n
	}
}

// Refuse writes one text message and a close frame to a connection that
// will not be served, and closes it. It blocks for at most about a second
// plus the linger.
func Refuse(nc net.Conn, msg []byte, code int, text string) {
	deadline := time.Now().Add(time.Second)
	nc.SetWriteDeadline(deadline)
	f := appendFrame(nil, opText, msg)
	f = appendFrame(f, opClose, closePayload(code, text))
	nc.Write(f)
	lingerClose(nc)
}
