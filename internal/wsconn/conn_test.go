package wsconn

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that echoes messages (unless told otherwise) and
// records what it saw.
type recorder struct {
	mu     sync.Mutex
	msgs   []string
	ends   []End
	ended  chan struct{}
	done   chan struct{}
	echo   bool
	echoAs bool // echo binary as binary
	onMsg  func(c *Conn, data []byte)
	conns  chan *Conn
	doneWG *sync.WaitGroup
}

func (r *recorder) Message(c *Conn, text bool, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf("%v:%s", text, data))
	r.mu.Unlock()
	if r.onMsg != nil {
		r.onMsg(c, data)
	}
	switch {
	case r.echoAs && !text:
		// As an Autobahn echo server: binary back as binary.
		c.write(appendHeader(nil, opBinary, len(data)), append([]byte(nil), data...))
	case r.echo || r.echoAs:
		c.Send(append([]byte(nil), data...))
	}
}

func (r *recorder) Ended(c *Conn, e End) {
	r.mu.Lock()
	r.ends = append(r.ends, e)
	r.mu.Unlock()
	close(r.ended)
}

func (r *recorder) end(t *testing.T) End {
	t.Helper()
	select {
	case <-r.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ends[0]
}

func (r *recorder) waitDone(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Done was not called")
	}
}

// serve runs one connection per server with opts and rec; tls picks the
// goroutine reader.
func serve(t *testing.T, opts Options, rec *recorder, useTLS bool) string {
	t.Helper()
	rec.ended = make(chan struct{})
	rec.done = make(chan struct{})
	rec.conns = make(chan *Conn, 1)
	opts.Done = func() { close(rec.done) }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := New(nc, opts, rec)
		c.Start()
		rec.conns <- c
	})
	var ts *httptest.Server
	if useTLS {
		ts = httptest.NewTLSServer(h)
	} else {
		ts = httptest.NewServer(h)
	}
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("got frame type %d, want text", typ)
	}
	return string(b)
}

// closeCode reads until the server closes and returns its close code.
func closeCode(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			t.Fatalf("read: %v, want a close frame", err)
		}
	}
}

func TestEchoAndClientClose(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			rec := &recorder{echo: true}
			ws := dial(t, serve(t, Options{}, rec, useTLS))
			c := <-rec.conns
			if pollerSupported && (c.p != nil) == useTLS {
				t.Fatalf("poller %v with tls=%v: plain sockets use the poller, TLS a goroutine", c.p != nil, useTLS)
			}
			for _, size := range []int{0, 1, 125, 126, 3000, 65535, 65536, 60000} {
				msg := strings.Repeat("x", size)
				if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if got := readText(t, ws); got != msg {
					t.Fatalf("size %d: echoed %d bytes", size, len(got))
				}
			}
			ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"))
			if code := closeCode(t, ws); code != CloseGoingAway {
				t.Fatalf("server echoed close code %d, want %d", code, CloseGoingAway)
			}
			if e := rec.end(t); e != (End{Code: CloseGoingAway}) {
				t.Fatalf("end = %+v, want the client's close", e)
			}
			rec.waitDone(t)
		})
	}
}

// rawClient speaks frames by hand, to split and break them.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string) *rawClient {
	t.Helper()
	host := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", host)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The example of RFC 6455 section 1.3.
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// frame builds a masked client frame.
func frame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	p := append([]byte(nil), payload...)
	unmask(p, key)
	return append(f, p...)
}

// readFrame reads one server frame: opcode and payload.
func (r *rawClient) readFrame() (byte, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io_ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		r.t.Fatal("server frame is masked")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io_ReadFull(r.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io_ReadFull(r.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	p := make([]byte, n)
	_, err := io_ReadFull(r.br, p)
	return h[0] & 0x0f, p, err
}

func io_ReadFull(r *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestFramesSplitAcrossReads(t *testing.T) {
	rec := &recorder{echo: true}
	url := serve(t, Options{}, rec, false)
	r := dialRaw(t, url)
	// Two messages, the second fragmented with a ping between its
	// fragments, written one byte at a time.
	var stream []byte
	stream = append(stream, frame(true, opText, []byte("hello"))...)
	stream = append(stream, frame(false, opText, []byte("frag-"))...)
	stream = append(stream, frame(true, opPing, []byte("p"))...)
	stream = append(stream, frame(false, opContinuation, bytes.Repeat([]byte("m"), 300))...)
	stream = append(stream, frame(true, opContinuation, []byte("-end"))...)
	for i := range stream {
		if _, err := r.nc.Write(stream[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			time.Sleep(time.Millisecond) // let the server read the pieces apart
		}
	}
	want := []struct {
		op byte
		p  string
	}{{opText, "hello"}, {opPong, "p"}, {opText, "frag-" + strings.Repeat("m", 300) + "-end"}}
	for _, w := range want {
		op, p, err := r.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if op != w.op || string(p) != w.p {
			t.Fatalf("got op %d %q, want op %d %q", op, p, w.op, w.p)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		code  int
		end   End
	}{
		{"unmasked", []byte{0x81, 0x01, 'x'}, CloseProtocolError, End{Dropped: true}},
		{"reserved bits", append([]byte{0xC1}, frame(true, opText, nil)[1:]...), CloseProtocolError, End{Dropped: true}},
		{"unknown opcode", frame(true, 0x3, nil), CloseProtocolError, End{Dropped: true}},
		{"fragmented ping", frame(false, opPing, nil), CloseProtocolError, End{Dropped: true}},
		{"stray continuation", frame(true, opContinuation, []byte("x")), CloseProtocolError, End{Dropped: true}},
		{"text inside a message", append(frame(false, opText, []byte("a")), frame(true, opText, []byte("b"))...), CloseProtocolError, End{Dropped: true}},
		{"bad close code", frame(true, opClose, []byte{0x03, 0xED}), CloseProtocolError, End{Dropped: true}},
		{"too big in one frame", frame(true, opText, make([]byte, 1025)), CloseMessageTooBig, End{ByServer: true}},
		{"too big in fragments", append(frame(false, opText, make([]byte, 600)), frame(true, opContinuation, make([]byte, 600))...), CloseMessageTooBig, End{ByServer: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := dialRaw(t, serve(t, Options{ReadLimit: 1024}, rec, false))
			r.nc.Write(tt.bytes)
			op, p, err := r.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if op != opClose || len(p) < 2 || int(binary.BigEndian.Uint16(p)) != tt.code {
				t.Fatalf("got op %d %q, want close %d", op, p, tt.code)
			}
			if e := rec.end(t); e != tt.end {
				t.Fatalf("end = %+v, want %+v", e, tt.end)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.msgs) != 0 {
				t.Fatalf("delivered %q from a broken stream", rec.msgs)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	rec := &recorder{}
	rec.onMsg = func(c *Conn, data []byte) {
		c.Send([]byte("last words"))
		c.Close(ClosePolicyViolation, "go away", true)
	}
	ws := dial(t, serve(t, Options{}, rec, false))
	ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	if got := readText(t, ws); got != "last words" {
		t.Fatalf("got %q before the close", got)
	}
	if code := closeCode(t, ws); code != ClosePolicyViolation {
		t.Fatalf("close code %d", code)
	}
	if e := rec.end(t); e != (End{Code: ClosePolicyViolation, ByServer: true}) {
		t.Fatalf("end = %+v", e)
	}
	rec.waitDone(t)
}

// A client that never answers our close frame is dropped after CloseWait.
func TestCloseWaitsForTheClient(t *testing.T) {
	rec := &recorder{}
	r := dialRaw(t, serve(t, Options{CloseWait: 200 * time.Millisecond}, rec, false))
	c := <-rec.conns
	c.Close(CloseGoingAway, "", true)
	if op, _, _ := r.readFrame(); op != opClose {
		t.Fatalf("op %d, want close", op)
	}
	if e := rec.end(t); e != (End{ByServer: true}) {
		t.Fatalf("end = %+v", e)
	}
	rec.waitDone(t)
}

func TestIdleClientIsDropped(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			rec := &recorder{}
			url := serve(t, Options{IdleTimeout: 300 * time.Millisecond, PingInterval: 100 * time.Millisecond}, rec, useTLS)
			// gorilla answers pings only while reading: this client does not.
			dial(t, url)
			if e := rec.end(t); e != (End{Dropped: true}) {
				t.Fatalf("end = %+v, want dropped", e)
			}
			rec.waitDone(t)
		})
	}
}

func TestPongsKeepAClientAlive(t *testing.T) {
	rec := &recorder{}
	url := serve(t, Options{IdleTimeout: 300 * time.Millisecond, PingInterval: 50 * time.Millisecond}, rec, false)
	ws := dial(t, url)
	pings := 0
	ws.SetPingHandler(func(s string) error {
		pings++
		return ws.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	ws.SetReadDeadline(time.Now().Add(time.Second))
	_, _, err := ws.ReadMessage() // answers pings until the deadline
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read: %v; the server closed a client that answered its pings", err)
	}
	if pings < 5 {
		t.Fatalf("%d pings in 1 s at a 50 ms interval", pings)
	}
	select {
	case <-rec.ended:
		t.Fatal("ended although the client answered pings")
	default:
	}
}

func TestSlowClient(t *testing.T) {
	rec := &recorder{}
	url := serve(t, Options{SendQueue: 4, WriteTimeout: 5 * time.Second}, rec, false)
	ws := dial(t, url) // never reads
	c := <-rec.conns
	big := make([]byte, 60000)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = c.Send(big)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send to a client that does not read: %v, want ErrQueueFull", err)
	}
	start := time.Now()
	c.Close(ClosePolicyViolation, "slow consumer", false)
	if e := rec.end(t); e != (End{ByServer: true}) {
		t.Fatalf("end = %+v", e)
	}
	rec.waitDone(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cutting a slow client took %v; a stuck write must not wait for WriteTimeout", d)
	}
	_ = ws
}

func TestHandshakeRefusals(t *testing.T) {
	rec := &recorder{}
	url := "http" + strings.TrimPrefix(serve(t, Options{}, rec, false), "ws")
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"plain GET", nil, http.StatusBadRequest},
		{"no key", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}, http.StatusBadRequest},
		{"old version", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusUpgradeRequired},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// A connection closed or aborted before Start still ends promptly, not at
// its first ping tick.
func TestCloseBeforeStart(t *testing.T) {
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			rec := &recorder{ended: make(chan struct{}), done: make(chan struct{})}
			opts := Options{PingInterval: time.Minute, IdleTimeout: 2 * time.Minute, CloseWait: 100 * time.Millisecond,
				Done: func() { close(rec.done) }}
			conns := make(chan *Conn, 1)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nc, err := Upgrade(w, r, nil)
				if err != nil {
					return
				}
				c := New(nc, opts, rec)
				if abort {
					c.Abort()
				} else {
					c.Close(CloseGoingAway, "", true)
				}
				c.Start()
				conns <- c
			}))
			defer ts.Close()
			r := dialRaw(t, "ws"+strings.TrimPrefix(ts.URL, "http")) // never answers the close
			<-conns
			start := time.Now()
			if e := rec.end(t); e != (End{ByServer: true}) {
				t.Fatalf("end = %+v", e)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("ended after %v: it waited for a ping tick", d)
			}
			r.nc.Close()
			rec.waitDone(t)
		})
	}
}

// Abort cuts a linger short.
func TestAbortDuringLinger(t *testing.T) {
	rec := &recorder{}
	url := serve(t, Options{}, rec, false)
	r := dialRaw(t, url)
	c := <-rec.conns
	c.Close(CloseNormal, "", true)
	if op, _, _ := r.readFrame(); op != opClose {
		t.Fatalf("op %d, want close", op)
	}
	r.nc.Write(frame(true, opClose, []byte{0x03, 0xE8}))
	rec.end(t)
	// The client keeps sending, so the linger would last its full 5 s.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				r.nc.Write([]byte("x"))
			}
		}
	}()
	defer close(stop)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	c.Abort()
	rec.waitDone(t)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Done came %v after Abort; Abort must end the linger", d)
	}
}

func TestSameOriginByDefault(t *testing.T) {
	rec := &recorder{echo: true}
	url := serve(t, Options{}, rec, false)
	host := strings.TrimPrefix(url, "ws://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"HTTP://" + strings.ToUpper(host), true},
		{"http://evil.example", false},
		{"http://" + host + ".evil.example", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if tt.ok != (err == nil) {
			t.Errorf("origin %q: err %v, want ok=%v", tt.origin, err, tt.ok)
		}
		if err == nil {
			ws.Close()
			<-rec.conns
			<-rec.ended
			<-rec.done
			rec.ended, rec.done = make(chan struct{}), make(chan struct{})
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: response %v, want 403", tt.origin, resp)
		}
	}
}

// A client that pings and never reads cannot grow the server's queue.
func TestPingFloodIsBounded(t *testing.T) {
	rec := &recorder{}
	seen := make(chan struct{})
	rec.onMsg = func(*Conn, []byte) { close(seen) }
	r := dialRaw(t, serve(t, Options{SendQueue: 8}, rec, false))
	c := <-rec.conns
	ping := frame(true, opPing, bytes.Repeat([]byte("p"), 125))
	go func() {
		// The kernel buffers fill, so this writer blocks until the test
		// closes the socket; the marker tells when the server read it all.
		for range 20000 {
			if _, err := r.nc.Write(ping); err != nil {
				return
			}
		}
		r.nc.Write(frame(true, opText, []byte("marker")))
	}()
	select {
	case <-seen:
	case <-time.After(20 * time.Second):
		t.Fatal("the server never read past the pings")
	}
	c.wmu.Lock()
	n := len(c.q)
	c.wmu.Unlock()
	if n > 8 {
		t.Fatalf("%d frames queued for a client that does not read; SendQueue is 8", n)
	}
}

// A frame header announcing a large payload does not make the server
// allocate it before the bytes arrive.
func TestAnnouncedSizeIsNotAllocated(t *testing.T) {
	rec := &recorder{}
	got := make(chan int, 1)
	rec.onMsg = func(_ *Conn, data []byte) { got <- len(data) }
	r := dialRaw(t, serve(t, Options{ReadLimit: 1 << 20}, rec, false))
	c := <-rec.conns
	f := frame(true, opBinary, make([]byte, 1<<20))
	r.nc.Write(f[:100]) // the header and a few bytes of a 1 MiB frame
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.rmu.Lock()
		got, capacity := len(c.pend), cap(c.pend)
		c.rmu.Unlock()
		if got > 0 {
			if capacity > 64<<10 {
				t.Fatalf("holding %d bytes of a frame, the server reserved %d", got, capacity)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never read the partial frame")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.nc.Write(f[100:])
	select {
	case n := <-got:
		if n != 1<<20 {
			t.Fatalf("delivered %d bytes, want the whole 1 MiB", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the whole frame was never delivered")
	}
}

// Frames that arrive while a handler holds the connection wait, in order,
// and are handled on Release.
func TestHoldKeepsOrder(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			rec := &recorder{}
			release := make(chan struct{})
			released := make(chan struct{})
			rec.onMsg = func(c *Conn, data []byte) {
				if string(data) == "slow" {
					c.Hold()
					go func() {
						<-release
						c.Release()
						close(released)
					}()
				}
			}
			ws := dial(t, serve(t, Options{}, rec, useTLS))
			for _, m := range []string{"slow", "a", "b"} {
				ws.WriteMessage(websocket.TextMessage, []byte(m))
			}
			time.Sleep(100 * time.Millisecond) // a and b have arrived by now
			rec.mu.Lock()
			before := strings.Join(rec.msgs, ",")
			rec.mu.Unlock()
			if before != "true:slow" {
				t.Fatalf("handled %q while held", before)
			}
			close(release)
			<-released
			ws.WriteMessage(websocket.TextMessage, []byte("c"))
			deadline := time.Now().Add(5 * time.Second)
			for {
				rec.mu.Lock()
				got := strings.Join(rec.msgs, ",")
				rec.mu.Unlock()
				if got == "true:slow,true:a,true:b,true:c" {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("handled %q, want slow, a, b, c in order", got)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestUnwritten(t *testing.T) {
	hdr, p := []byte("HH"), []byte("payload")
	for n := 0; n <= len(hdr)+len(p); n++ {
		want := string(append(append([]byte(nil), hdr...), p...)[n:])
		got := unwritten(hdr, p, n)
		if string(got) != want {
			t.Errorf("after %d bytes: %q, want %q", n, got, want)
		}
		if len(got) > 0 && len(p) > 0 && &got[len(got)-1] == &p[len(p)-1] {
			t.Errorf("after %d bytes: shares the caller's buffer", n)
		}
	}
}

// A client that sends its close frame and closes its socket while the
// handler holds the connection (a join in progress) closed cleanly: the
// end that comes after the held frames must not turn it into a drop. This
// was the signal suite's flaky TestJoinRolesAndPresence.
func TestCloseWhileHeldIsClean(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			rec := &recorder{}
			release := make(chan struct{})
			rec.onMsg = func(c *Conn, data []byte) {
				if string(data) == "slow" {
					c.Hold()
					go func() { <-release; c.Release() }()
				}
			}
			ws := dial(t, serve(t, Options{}, rec, useTLS))
			c := <-rec.conns
			ws.WriteMessage(websocket.TextMessage, []byte("slow"))
			ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
			ws.Close()
			// Wait until the server has read to the end of the socket.
			deadline := time.Now().Add(5 * time.Second)
			for {
				c.rmu.Lock()
				saw := c.heldEnd != nil || c.readDone
				c.rmu.Unlock()
				if saw {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server never read the end of the socket")
				}
				time.Sleep(time.Millisecond)
			}
			close(release)
			if e := rec.end(t); e != (End{Code: CloseGoingAway}) {
				t.Fatalf("end = %+v, want the client's clean close (1001)", e)
			}
			rec.waitDone(t)
		})
	}
}
