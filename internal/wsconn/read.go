package wsconn

import (
	"syscall"
	"time"
)

// The reader: bytes from the socket (read by a poller, or by a goroutine
// for TLS) are parsed into frames, checked and handed to the Handler.

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
		text, fe := c.frameText(h)
		if fe != nil {
			c.failFrameLocked(fe)
			return
		}
		if h.op <= opBinary && int64(len(c.msg))+h.length > c.opts.ReadLimit {
			c.failFrameLocked(&frameError{CloseMessageTooBig, "message too big"})
			return
		}
		total := h.size + int(h.length)
		if len(b) < total {
			// Text is checked as it arrives: a bad byte closes the
			// connection before the rest of the frame is sent.
			if text && !c.checkTextLocked(h, b[h.size:], false) {
				return
			}
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
		if text {
			if !c.checkTextLocked(h, payload, h.fin) {
				return
			}
		} else {
			unmask(payload, h.mask)
		}
		c.part = 0
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

// frameText checks that a data frame fits the message in progress (RFC
// 6455 section 5.4) and reports whether its payload is text. It runs each
// time a frame's header is looked at, whole or not, and changes nothing.
func (c *Conn) frameText(h header) (text bool, fe *frameError) {
	switch h.op {
	case opText, opBinary:
		if c.inMsg {
			return false, &frameError{CloseProtocolError, "expected a continuation frame"}
		}
		return h.op == opText, nil
	case opContinuation:
		if !c.inMsg {
			return false, &frameError{CloseProtocolError, "continuation without a message"}
		}
		return c.msgOp == opText, nil
	}
	return false, nil
}

// checkTextLocked unmasks and checks the bytes of a text frame's payload
// that have arrived (got, from the payload's start) past those checked
// before. final: the message ends with them, so no sequence may be cut.
// All-ASCII bytes skip the UTF-8 walk: unmaskText tells as it unmasks.
func (c *Conn) checkTextLocked(h header, got []byte, final bool) bool {
	p := got[c.part:]
	ascii := unmaskText(p, h.mask, c.part)
	c.part = len(got)
	if (!ascii || !c.utf8.complete()) && !c.utf8.feed(p) || final && !c.utf8.complete() {
		c.failFrameLocked(&frameError{CloseInvalidPayload, "text is not valid UTF-8"})
		return false
	}
	return true
}

// frameLocked acts on one whole frame; frameText has checked its place.
func (c *Conn) frameLocked(h header, p []byte) {
	switch h.op {
	case opText, opBinary:
		if h.fin {
			c.deliverLocked(h.op, p)
			return
		}
		c.inMsg, c.msgOp = true, h.op
		c.msg = append([]byte(nil), p...)
	case opContinuation:
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
