package wsconn

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A client that never reads costs the server a bounded number of bytes in
// all: its send queue (SendQueueBytes) and the kernel's send buffer, which
// Linux would otherwise grow to megabytes (tcp_wmem) for a connection
// that is being written to. Sends that keep the queue full for a while
// must not get more than that accepted.
func TestNeverReadingClientHoldsBoundedBytes(t *testing.T) {
	rec := &recorder{}
	url := serve(t, Options{SendQueue: 1 << 20, WriteTimeout: 30 * time.Second}, rec, false)
	d := websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := <-rec.conns
	msg := make([]byte, 16<<10)
	var accepted int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		switch err := c.Send(msg); {
		case err == nil:
			accepted += len(msg)
		case errors.Is(err, ErrQueueFull):
			time.Sleep(10 * time.Millisecond) // the writer may drain into the kernel meanwhile
		default:
			t.Fatal(err)
		}
	}
	// The queue, the kernel's send buffer as set (Linux doubles the value
	// for its bookkeeping), the client's receive window, and a message.
	bound := DefaultSendQueueBytes + 2*sendBufferBytes + 64<<10 + len(msg)
	t.Logf("accepted %d KB for a client that never reads (bound %d KB)", accepted>>10, bound>>10)
	if accepted > bound {
		t.Fatalf("accepted %d bytes for a client that never reads; the bound is %d", accepted, bound)
	}
	c.Abort()
	rec.waitDone(t)
}
