package wsconn

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The conformance table follows the sections of the Autobahn testsuite's
// fuzzing client (1 framing, 2 pings and pongs, 3 reserved bits, 4
// opcodes, 5 fragmentation, 6 UTF-8, 7 close handling, 9 limits) against
// an echo handler, as Autobahn tests a server: each case writes frames,
// a step at a time, and reads what the server answers after each step. A
// step that expects a close proves the server failed fast: the rest of the
// case is never sent. After a close the server must close the socket.

// want is one frame the server sends: an echo, a pong, or a close (code).
type want struct {
	op   byte
	data []byte
	code int // close only; -1 for a close frame without a code
}

// step writes bytes (in pieces of chunk bytes when chunk > 0, so the
// server reads them apart) and then reads the frames it expects.
type step struct {
	send  []byte
	chunk int
	want  []want
}

func text(s string) want   { return want{op: opText, data: []byte(s)} }
func bin(b []byte) want    { return want{op: opBinary, data: b} }
func pong(p []byte) want   { return want{op: opPong, data: p} }
func closed(code int) want { return want{op: opClose, code: code} }

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// closeFrame is a client close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	return frame(true, opClose, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

// withRSV sets reserved bits in the first byte of a frame.
func withRSV(f []byte, bits byte) []byte {
	f = append([]byte(nil), f...)
	f[0] |= bits << 4
	return f
}

// fragments splits msg into frames of n bytes (op first, then continuations).
func fragments(op byte, msg []byte, n int) []byte {
	var out []byte
	for first := true; first || len(msg) > 0; first = false {
		k := min(n, len(msg))
		o := byte(opContinuation)
		if first {
			o = op
		}
		out = append(out, frame(k == len(msg), o, msg[:k])...)
		msg = msg[k:]
	}
	return out
}

type conformanceCase struct {
	section string
	name    string
	opts    Options
	steps   []step
}

func conformanceCases() []conformanceCase {
	var cs []conformanceCase
	add := func(section, name string, opts Options, steps ...step) {
		cs = append(cs, conformanceCase{section, name, opts, steps})
	}
	one := func(send []byte, w ...want) step { return step{send: send, want: w} }
	big := Options{ReadLimit: 4 << 20, SendQueueBytes: 9 << 20}

	// 1: framing. Payload lengths at every length-encoding boundary, text
	// and binary, whole and written in pieces.
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		msg := strings.Repeat("*", n)
		add("1.1", fmt.Sprintf("text %d bytes", n), Options{}, one(frame(true, opText, []byte(msg)), text(msg)))
		add("1.2", fmt.Sprintf("binary %d bytes", n), Options{}, one(frame(true, opBinary, []byte(msg)), bin([]byte(msg))))
	}
	add("1.1.8", "text 65536 bytes in 997-byte pieces", Options{},
		step{send: frame(true, opText, bytes.Repeat([]byte("*"), 65536)), chunk: 997, want: []want{text(strings.Repeat("*", 65536))}})
	add("1.2.8", "binary 65536 bytes in 997-byte pieces", Options{},
		step{send: frame(true, opBinary, bytes.Repeat([]byte{0xfe}, 65536)), chunk: 997, want: []want{bin(bytes.Repeat([]byte{0xfe}, 65536))}})

	// 2: pings and pongs.
	p125 := bytes.Repeat([]byte{0xfe}, 125)
	add("2.1", "ping without payload", Options{}, one(frame(true, opPing, nil), pong(nil)))
	add("2.2", "ping with text payload", Options{}, one(frame(true, opPing, []byte("Hello, world!")), pong([]byte("Hello, world!"))))
	add("2.3", "ping with binary payload", Options{}, one(frame(true, opPing, []byte{0, 0xff, 0xfe, 0xfd}), pong([]byte{0, 0xff, 0xfe, 0xfd})))
	add("2.4", "ping with 125 bytes", Options{}, one(frame(true, opPing, p125), pong(p125)))
	add("2.5", "ping with 126 bytes", Options{}, one(frame(true, opPing, bytes.Repeat([]byte{1}, 126)), closed(CloseProtocolError)))
	add("2.6", "ping with 125 bytes, one byte at a time", Options{}, step{send: frame(true, opPing, p125), chunk: 1, want: []want{pong(p125)}})
	add("2.7", "unsolicited pong", Options{}, one(cat(frame(true, opPong, nil), frame(true, opText, []byte("after"))), text("after")))
	add("2.8", "unsolicited pong with payload", Options{}, one(cat(frame(true, opPong, []byte("unsolicited")), frame(true, opText, []byte("after"))), text("after")))
	add("2.9", "unsolicited pong, then ping", Options{}, one(cat(frame(true, opPong, []byte("x")), frame(true, opPing, []byte("y"))), pong([]byte("y"))))
	var pings []byte
	var pongs []want
	for i := range 10 {
		p := []byte(fmt.Sprint("payload-", i))
		pings = append(pings, frame(true, opPing, p)...)
		pongs = append(pongs, pong(p))
	}
	add("2.10", "10 pings, each answered in order", Options{}, one(pings, pongs...))
	add("2.11", "10 pings, one byte at a time", Options{}, step{send: pings, chunk: 1, want: pongs})

	// 3: reserved bits, no extension being negotiated. What came before
	// is still answered; the bad frame closes.
	hello := frame(true, opText, []byte("Hello"))
	for bits := byte(1); bits <= 7; bits++ {
		f := withRSV(frame(true, opText, []byte("Hello")), bits)
		add("3", fmt.Sprintf("RSV=%d on text", bits), Options{}, one(cat(hello, f, frame(true, opPing, nil)), text("Hello"), closed(CloseProtocolError)))
	}
	add("3.4", "RSV on ping", Options{}, one(withRSV(frame(true, opPing, nil), 3), closed(CloseProtocolError)))
	add("3.7", "RSV on close", Options{}, one(withRSV(closeFrame(CloseNormal, ""), 7), closed(CloseProtocolError)))

	// 4: opcodes 3-7 (data) and B-F (control) are reserved.
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		add("4", fmt.Sprintf("opcode %#x", op), Options{}, one(cat(hello, frame(true, op, []byte("x")), frame(true, opPing, nil)), text("Hello"), closed(CloseProtocolError)))
	}

	// 5: fragmentation.
	add("5.1", "fragmented ping", Options{}, one(cat(frame(false, opPing, []byte("a")), frame(true, opContinuation, []byte("b"))), closed(CloseProtocolError)))
	add("5.2", "fragmented pong", Options{}, one(cat(frame(false, opPong, []byte("a")), frame(true, opContinuation, []byte("b"))), closed(CloseProtocolError)))
	add("5.3", "text in two fragments", Options{}, one(cat(frame(false, opText, []byte("frag1")), frame(true, opContinuation, []byte("frag2"))), text("frag1frag2")))
	add("5.4", "text in two fragments, written apart", Options{},
		one(frame(false, opText, []byte("frag1"))), one(frame(true, opContinuation, []byte("frag2")), text("frag1frag2")))
	add("5.6", "ping between fragments", Options{},
		one(cat(frame(false, opText, []byte("frag1")), frame(true, opPing, []byte("ping")), frame(true, opContinuation, []byte("frag2"))), pong([]byte("ping")), text("frag1frag2")))
	add("5.8", "ping between fragments, one byte at a time", Options{},
		step{send: cat(frame(false, opText, []byte("frag1")), frame(true, opPing, []byte("ping")), frame(true, opContinuation, []byte("frag2"))), chunk: 1,
			want: []want{pong([]byte("ping")), text("frag1frag2")}})
	add("5.9", "continuation with FIN, no message", Options{}, one(cat(frame(true, opContinuation, []byte("x")), hello), closed(CloseProtocolError)))
	add("5.10", "continuation without FIN, no message", Options{}, one(cat(frame(false, opContinuation, []byte("x")), hello), closed(CloseProtocolError)))
	add("5.15", "a second message starts inside the first", Options{},
		one(cat(frame(false, opText, []byte("a")), frame(false, opText, []byte("b"))), closed(CloseProtocolError)))
	add("5.18", "text where a continuation belongs", Options{},
		one(cat(frame(false, opText, []byte("a")), frame(true, opText, []byte("b"))), closed(CloseProtocolError)))
	add("5.19", "fragments with pings between, written apart", Options{},
		one(cat(frame(false, opText, []byte("f1")), frame(false, opContinuation, []byte("f2")), frame(true, opPing, []byte("p1"))), pong([]byte("p1"))),
		one(cat(frame(false, opContinuation, []byte("f3")), frame(false, opContinuation, []byte("f4")), frame(true, opPing, []byte("p2"))), pong([]byte("p2"))),
		one(frame(true, opContinuation, []byte("f5")), text("f1f2f3f4f5")))
	add("5", "binary in fragments with an empty one", Options{},
		one(cat(frame(false, opBinary, []byte{1}), frame(false, opContinuation, nil), frame(true, opContinuation, []byte{2})), bin([]byte{1, 2})))

	// 6: UTF-8. Valid text is echoed whole, however it is cut; invalid
	// text closes with 1007 and is never delivered.
	add("6.1", "empty text in empty fragments", Options{},
		one(cat(frame(false, opText, nil), frame(false, opContinuation, nil), frame(true, opContinuation, nil)), text("")))
	valid := "κόσμε Hello-µ@ßöäüàá-UTF-8!! \u0000\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\ufffe 😀"
	add("6.2", "valid UTF-8 in one frame", Options{}, one(frame(true, opText, []byte(valid)), text(valid)))
	add("6.2", "valid UTF-8, one byte per fragment", Options{}, one(fragments(opText, []byte(valid), 1), text(valid)))
	add("6.2", "valid UTF-8, one byte at a time", Options{}, step{send: frame(true, opText, []byte(valid)), chunk: 1, want: []want{text(valid)}})
	add("6.2", "a sequence split across fragments", Options{},
		one(cat(frame(false, opText, []byte("\xf0\x9f")), frame(true, opContinuation, []byte("\x98\x80"))), text("😀")))
	add("6.2", "a sequence split across fragments written apart", Options{},
		one(frame(false, opText, []byte("a\xe2\x82"))), one(frame(true, opContinuation, []byte("\xac")), text("a€")))
	for _, bad := range []struct{ name, s string }{
		{"lone continuation byte", "\x80"},
		{"continuation bytes", "\x80\xbf\x80"},
		{"lead with no continuation", "\xc3 "},
		{"truncated 2-byte at the end", "abc\xce"},
		{"truncated 3-byte at the end", "abc\xe2\x82"},
		{"truncated 4-byte at the end", "abc\xf0\x9f\x98"},
		{"overlong / (2 bytes)", "\xc0\xaf"},
		{"overlong / (3 bytes)", "\xe0\x80\xaf"},
		{"overlong / (4 bytes)", "\xf0\x80\x80\xaf"},
		{"overlong U+007F", "\xc1\xbf"},
		{"overlong U+07FF", "\xe0\x9f\xbf"},
		{"overlong U+FFFF", "\xf0\x8f\xbf\xbf"},
		{"surrogate U+D800", "\xed\xa0\x80"},
		{"surrogate U+DFFF", "\xed\xbf\xbf"},
		{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80"},
		{"U+110000", "\xf4\x90\x80\x80"},
		{"F5 lead", "\xf5\x80\x80\x80"},
		{"5-byte form", "\xf8\x88\x80\x80\x80"},
		{"FE and FF", "\xfe\xff"},
		{"valid then invalid", "κόσμε\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"},
	} {
		add("6.3-6.22", bad.name, Options{}, one(cat(hello, frame(true, opText, []byte(bad.s))), text("Hello"), closed(CloseInvalidPayload)))
		add("6.3-6.22", bad.name+", in 1-byte fragments", Options{}, one(fragments(opText, []byte(bad.s), 1), closed(CloseInvalidPayload)))
	}
	add("6.3", "binary frames are not checked", Options{}, one(frame(true, opBinary, []byte("\xed\xa0\x80")), bin([]byte("\xed\xa0\x80"))))
	// Fail fast: the bad byte closes before the rest of the message is
	// sent (the later steps then find a closed socket and are skipped).
	add("6.4.1", "bad first fragment closes before the second is sent", Options{},
		one(frame(false, opText, []byte("κόσμε\xf4\x90\x80\x80")), closed(CloseInvalidPayload)),
		one(frame(true, opContinuation, []byte("edited"))))
	add("6.4.2", "bad byte at the start of the second fragment", Options{},
		one(frame(false, opText, []byte("κόσμε\xf4"))),
		one(frame(false, opContinuation, []byte("\x90")), closed(CloseInvalidPayload)),
		one(frame(true, opContinuation, []byte("\x80\x80"))))
	long := []byte(strings.Repeat("a", 4000) + "\xed\xa0\x80" + strings.Repeat("b", 4000))
	whole := frame(true, opText, long)
	cut := len(whole) - 4001 // up to the surrogate's second byte, where it fails
	add("6.4.3", "bad byte in the first part of a frame closes before the rest is sent", Options{},
		one(whole[:cut], closed(CloseInvalidPayload)), one(whole[cut:]))

	// 7: close handling.
	add("7.1.1", "echo, then close", Options{}, one(cat(hello, closeFrame(CloseNormal, "")), text("Hello"), closed(CloseNormal)))
	add("7.1.3", "nothing is answered after a close", Options{}, one(cat(closeFrame(CloseNormal, ""), frame(true, opPing, []byte("x")), hello), closed(CloseNormal)))
	add("7.1.5", "close in the middle of a fragmented message", Options{}, one(cat(frame(false, opText, []byte("a")), closeFrame(CloseNormal, "")), closed(CloseNormal)))
	add("7.3.1", "close without payload", Options{}, one(frame(true, opClose, nil), closed(-1)))
	add("7.3.2", "close with a 1-byte payload", Options{}, one(frame(true, opClose, []byte{0x03}), closed(CloseProtocolError)))
	add("7.3.3", "close with code, no reason", Options{}, one(closeFrame(CloseNormal, ""), closed(CloseNormal)))
	add("7.3.4", "close with a reason", Options{}, one(closeFrame(CloseNormal, "Hello World!"), closed(CloseNormal)))
	add("7.3.5", "close with a 123-byte reason", Options{}, one(closeFrame(CloseNormal, strings.Repeat("*", 123)), closed(CloseNormal)))
	add("7.3.6", "close with a 124-byte reason (126-byte control frame)", Options{}, one(closeFrame(CloseNormal, strings.Repeat("*", 124)), closed(CloseProtocolError)))
	add("7.5.1", "close reason that is not UTF-8", Options{}, one(closeFrame(CloseNormal, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), closed(CloseInvalidPayload)))
	// 1012-1014 are registered with IANA since Autobahn was written, so
	// they count as valid here although Autobahn's 7.9 lists them.
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		add("7.7", fmt.Sprintf("valid close code %d", code), Options{}, one(closeFrame(code, ""), closed(code)))
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add("7.9", fmt.Sprintf("invalid close code %d", code), Options{}, one(closeFrame(code, ""), closed(CloseProtocolError)))
	}

	// 9: limits. Large messages up to the read limit, whole, in pieces and
	// in many fragments; one byte more is refused with 1009; many small
	// messages in a row.
	for _, n := range []int{64 << 10, 1 << 20, 4 << 20} {
		msg := bytes.Repeat([]byte("*"), n)
		add("9.1", fmt.Sprintf("text of %d bytes", n), big, one(frame(true, opText, msg), text(string(msg))))
		add("9.2", fmt.Sprintf("binary of %d bytes", n), big, one(frame(true, opBinary, msg), bin(msg)))
	}
	m4 := bytes.Repeat([]byte("é"), 2<<20) // 4 MiB of 2-byte sequences, cut inside them
	add("9.3", "4 MiB of text in 65,536 fragments of 64 bytes", big, one(fragments(opText, m4, 64), text(string(m4))))
	add("9.3", "4 MiB of text in 4-MiB/63-byte fragments, sequences split", big, one(fragments(opText, m4, 63), text(string(m4))))
	add("9.4", "4 MiB of binary in 4 KiB fragments", big, one(fragments(opBinary, m4, 4<<10), bin(m4)))
	add("9.5", "1 MiB of text written in 1,000-byte pieces", big,
		step{send: frame(true, opText, m4[:1<<20]), chunk: 1000, want: []want{text(string(m4[:1<<20]))}})
	add("9.x", "one byte over the read limit", big, one(frame(true, opText, make([]byte, 4<<20+1))[:200], closed(CloseMessageTooBig)))
	add("9.x", "over the read limit in fragments", big,
		one(cat(frame(false, opText, make([]byte, 2<<20)), frame(true, opContinuation, make([]byte, 2<<20+1))[:200]), closed(CloseMessageTooBig)))
	var many []byte
	var echoes []want
	for i := range 1000 {
		s := fmt.Sprintf("message %04d", i)
		many = append(many, frame(true, opText, []byte(s))...)
		echoes = append(echoes, text(s))
	}
	add("9.7", "1,000 small messages", Options{SendQueue: 1000}, one(many, echoes...))
	return cs
}

func TestConformance(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		for _, tc := range conformanceCases() {
			t.Run(fmt.Sprintf("tls=%v/%s %s", useTLS, tc.section, tc.name), func(t *testing.T) {
				runConformance(t, tc, useTLS)
			})
		}
	}
}

func runConformance(t *testing.T, tc conformanceCase, useTLS bool) {
	rec := &recorder{echoAs: true}
	r := dialConformance(t, serve(t, tc.opts, rec, useTLS), useTLS)
	closedBy := false
	for i, st := range tc.steps {
		if closedBy {
			break // failed fast: the rest is never sent
		}
		if err := r.write(st.send, st.chunk); err != nil {
			t.Fatalf("step %d: write: %v", i, err)
		}
		for _, w := range st.want {
			op, p, err := r.readFrame()
			if err != nil {
				t.Fatalf("step %d: read: %v, want op %d", i, err, w.op)
			}
			if op != w.op {
				t.Fatalf("step %d: got op %d (%.40q), want op %d", i, op, p, w.op)
			}
			if op == opClose {
				code := -1
				if len(p) >= 2 {
					code = int(binary.BigEndian.Uint16(p))
				}
				if code != w.code {
					t.Fatalf("step %d: close code %d (%q), want %d", i, code, p, w.code)
				}
				closedBy = true
				continue
			}
			if !bytes.Equal(p, w.data) {
				t.Fatalf("step %d: op %d payload %d bytes %.40q, want %d bytes %.40q", i, op, len(p), p, len(w.data), w.data)
			}
		}
	}
	if !closedBy {
		// Still open: a clean close from our side ends it.
		r.write(closeFrame(CloseNormal, ""), 0)
		op, p, err := r.readFrame()
		if err != nil || op != opClose || len(p) < 2 || binary.BigEndian.Uint16(p) != CloseNormal {
			t.Fatalf("after the case: op %d %q %v, want the echo of our close", op, p, err)
		}
	}
	// Nothing follows a close frame, and the server closes the socket.
	if op, p, err := r.readFrame(); err == nil {
		t.Fatalf("a frame after the close: op %d %.40q", op, p)
	}
	r.nc.Close() // ends the server's linger at once
	rec.waitDone(t)
}

func dialConformance(t *testing.T, url string, useTLS bool) *rawClient {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(url, "ws://"), "wss://")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		nc = tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
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
	return &rawClient{t: t, nc: nc, br: br}
}

// write sends b, in pieces of chunk bytes with a pause now and then so the
// server reads them apart. A write the server has cut (it failed fast) is
// not an error.
func (r *rawClient) write(b []byte, chunk int) error {
	r.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if chunk <= 0 {
		chunk = len(b)
	}
	for i := 0; len(b) > 0; i++ {
		k := min(chunk, len(b))
		if _, err := r.nc.Write(b[:k]); err != nil {
			if isReset(err) {
				return nil
			}
			return err
		}
		b = b[k:]
		if i%8 == 7 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

func isReset(err error) bool {
	return err == io.EOF || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe")
}

// RFC 6455 section 4.2.1: the opening handshake is an HTTP/1.1 GET. An
// HTTP/1.0 request with every WebSocket header is refused before any
// upgrade.
func TestHTTP10UpgradeRefused(t *testing.T) {
	rec := &recorder{}
	host := strings.TrimPrefix(serve(t, Options{}, rec, false), "ws://")
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		nc, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "GET / %s\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", proto, host)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		nc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusSwitchingProtocols
		if proto == "HTTP/1.0" {
			want = http.StatusBadRequest
		}
		if resp.StatusCode != want {
			t.Fatalf("%s upgrade: status %d, want %d", proto, resp.StatusCode, want)
		}
	}
}
