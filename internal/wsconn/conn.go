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
)

// Options tune a connection. Zero values take the defaults noted.
type Options struct {
	ReadLimit    int64         // largest message; a bigger one closes with 1009 (default 64 KiB)
	IdleTimeout  time.Duration // nothing read for this long ends the connection (default 60 s)
	PingInterval time.Duration // ping the client this often (default 25 s)
	WriteTimeout time.Duration // a blocked write fails after this (default 10 s)
	SendQueue    int           // frames waiting to be written; more makes Send fail with ErrQueueFull (default 64)
	// SendQueueBytes bounds the bytes of the frames waiting to be written
	// (default 256 KiB): a Send that would take the queue past it fails
	// with ErrQueueFull, so a client that does not read costs at most this
	// much (or one frame, if a frame is larger), however large the
	// messages sent to it.
	SendQueueBytes int
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
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = DefaultSendQueueBytes
	}
	if o.CloseWait <= 0 {
		o.CloseWait = time.Second
	}
	return o
}

// DefaultSendQueueBytes is SendQueueBytes when Options leaves it zero: four
// of the largest signaling messages (64 KiB), many times an offer and its
// candidates, which is all a call ever has in flight at once.
const DefaultSendQueueBytes = 256 << 10

// sendBufferBytes is the socket send buffer each connection asks for
// (SO_SNDBUF; Linux doubles it for its bookkeeping): twice the largest
// signaling message, which keeps a connection writing at a megabyte a
// second across a 128 ms round trip.
const sendBufferBytes = 128 << 10

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
	utf8     utf8Stream // the text message in progress, checked so far
	part     int        // payload bytes of the frame at pend's start already unmasked
	held     bool       // Hold: frames wait in pend until Release
	// heldEnd: the socket ended (EOF, reset) while held. The frames read
	// before it, such as a client's close frame, are still in pend, so
	// the end waits for Release rather than throwing them away: a clean
	// close must not be taken for a drop.
	heldEnd *End

	lastRead atomic.Int64 // unix nanoseconds of the last bytes read

	// The writer's state, guarded by wmu.
	wmu         sync.Mutex
	q           [][]byte // frames not yet written; q[0] may be partly written
	qBytes      int      // bytes in q
	flight      int      // bytes of the frame the flush goroutine is writing
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
			rc.Control(func(fd uintptr) {
				c.fd = int(fd)
				// A fixed send buffer: Linux grows one being written to
				// up to tcp_wmem's maximum (4 MB), so a client that
				// never reads would tie up megabytes of kernel memory
				// beyond SendQueueBytes before Send sees it is full.
				// Signaling needs far less (the largest message is 64
				// KiB). Best effort: an error leaves the default.
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, sendBufferBytes)
			})
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
		c.dropQueueLocked()
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
		if c.fitsLocked(2) { // a client this far behind is pinged no more
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
