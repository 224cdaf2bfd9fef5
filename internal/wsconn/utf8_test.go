package wsconn

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// utf8Samples are valid and invalid texts around every rule of RFC 3629.
var utf8Samples = []string{
	"", "a", "hello", "κόσμε", "€", "😀", "\u0000\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff",
	"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x7f", "\xc2\xc0", "\xdf\xbf",
	"\xe0\x80\x80", "\xe0\x9f\xbf", "\xe0\xa0\x80", "\xe1\x80", "\xec\xbf\xbf", "\xed\x9f\xbf",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x80\x80\x80",
	"\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80", "\xf3\xbf\xbf\xbf", "\xf4\x8f\xbf\xbf",
	"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
	"abc\xce", "abc\xe2\x82", "abc\xf0\x9f\x98", "\xed\xa0\x80\xed\xb0\x80", "a\xe2\x82\xacb",
	strings.Repeat("x", 17) + "é" + strings.Repeat("y", 9), strings.Repeat("é", 20) + "\xe2",
}

// Cut anywhere, into two or three pieces, a text passes the stream check
// exactly when it is valid UTF-8 whole.
func TestUTF8StreamMatchesTheStandardLibrary(t *testing.T) {
	check := func(s string, cuts ...int) {
		t.Helper()
		var v utf8Stream
		ok, last := true, 0
		for _, c := range append(cuts, len(s)) {
			ok = ok && v.feed([]byte(s[last:c]))
			last = c
		}
		ok = ok && v.complete()
		if ok != utf8.ValidString(s) {
			t.Fatalf("%q cut at %v: stream says %v, utf8.ValidString %v", s, cuts, ok, !ok)
		}
	}
	for _, s := range utf8Samples {
		for i := 0; i <= len(s); i++ {
			check(s)
			check(s, i)
			for j := i; j <= len(s); j++ {
				check(s, i, j)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	for range 20000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b), r.IntN(len(b)+1))
	}
}

// A bad byte fails the piece that holds it, not a later one: the second
// byte of an overlong form, a surrogate or a value above U+10FFFF is
// enough, even when the sequence began in an earlier piece.
func TestUTF8StreamFailsAtTheFirstBadByte(t *testing.T) {
	for _, tc := range []struct{ first, bad string }{
		{"ok \xe0", "\x9f"}, {"ok \xed", "\xa0"}, {"ok \xf4", "\x90"}, {"ok \xf0", "\x8f"},
		{"ok", "\xc0"}, {"ok", "\xf5"}, {"ok \xe2\x82", "a"}, {"ok \xc3", "\xc3"},
	} {
		var v utf8Stream
		if !v.feed([]byte(tc.first)) {
			t.Fatalf("%q failed too early", tc.first)
		}
		if v.feed([]byte(tc.bad)) {
			t.Fatalf("%q then %q passed; it cannot be valid UTF-8", tc.first, tc.bad)
		}
	}
}

func TestUnmaskText(t *testing.T) {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	for _, s := range []string{"", "a", "0123456789abcdef-xyz", "0123456789é", strings.Repeat("z", 31) + "\xff"} {
		for off := range 4 {
			p := []byte(s)
			// Mask as a client would, from payload offset off.
			for i := range p {
				p[i] ^= key[(off+i)&3]
			}
			ascii := unmaskText(p, key, off)
			if string(p) != s {
				t.Fatalf("%q at offset %d unmasked to %q", s, off, p)
			}
			isASCII := !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 })
			if strings.ContainsRune(s, utf8.RuneError) {
				isASCII = false
			}
			if ascii != isASCII {
				t.Fatalf("%q: ascii %v, want %v", s, ascii, isASCII)
			}
		}
	}
}

// BenchmarkTextCheck is the UTF-8 check's cost per message, beside plain
// unmasking (what a binary frame costs): an offer-sized message (4 KiB)
// all ASCII, as SDP and candidates are, and one with 2-byte sequences.
func BenchmarkTextCheck(b *testing.B) {
	key := [4]byte{1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"ascii-4KiB", bytes.Repeat([]byte("a=candidate:1 1 udp 2122260223 "), 4096/31+1)[:4096]},
		{"utf8-4KiB", bytes.Repeat([]byte("κόσμε-"), 4096/11+1)[:4096-2]},
		{"ascii-64KiB", bytes.Repeat([]byte("v=0 o=- 46117 2 IN IP4 127.0.0.1 "), 65536/33+1)[:65536]},
	} {
		p := append([]byte(nil), tc.msg...)
		b.Run(tc.name+"/unmask", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				unmask(p, key)
			}
		})
		b.Run(tc.name+"/unmask+check", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			copy(p, tc.msg)
			for b.Loop() {
				// Masking the plain text back each time keeps the input
				// what a client sends; it costs one more unmask.
				unmask(p, key)
				var v utf8Stream
				if ascii := unmaskText(p, key, 0); !ascii && !(v.feed(p) && v.complete()) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(tc.name+"/unmask+utf8.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			copy(p, tc.msg)
			for b.Loop() {
				unmask(p, key)
				unmask(p, key)
				if !utf8.Valid(p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// fuzzConn is a net.Conn that takes every write, for the fuzz target.
type fuzzConn struct{ net.Conn }

func (fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (fuzzConn) Close() error                     { return nil }
func (fuzzConn) SetWriteDeadline(time.Time) error { return nil }
func (fuzzConn) SetReadDeadline(time.Time) error  { return nil }

// parse runs the frame parser over stream, cut at cuts, and returns what
// the handler heard: each message and how the connection ended.
func parse(stream []byte, cuts []int) []string {
	var got []string
	h := &fuzzHandler{got: &got}
	c := New(fuzzConn{}, Options{ReadLimit: 1024}, h)
	last := 0
	for _, k := range append(cuts, len(stream)) {
		c.rmu.Lock()
		c.processLocked(append([]byte(nil), stream[last:k]...))
		c.rmu.Unlock()
		last = k
	}
	return got
}

type fuzzHandler struct{ got *[]string }

func (h *fuzzHandler) Message(_ *Conn, text bool, data []byte) {
	if text && !utf8.Valid(data) {
		panic(fmt.Sprintf("delivered text that is not UTF-8: %q", data))
	}
	if len(data) > 1024 {
		panic(fmt.Sprintf("delivered %d bytes; the read limit is 1024", len(data)))
	}
	*h.got = append(*h.got, fmt.Sprintf("%v:%s", text, data))
}

func (h *fuzzHandler) Ended(_ *Conn, e End) { *h.got = append(*h.got, fmt.Sprintf("end %+v", e)) }

// FuzzFrames feeds the frame parser arbitrary client bytes, whole and cut
// in three: it must never panic, never deliver text that is not UTF-8 or a
// message over the read limit, and hear the same whichever way the bytes
// arrive.
func FuzzFrames(f *testing.F) {
	f.Add(frame(true, opText, []byte("hello")), uint16(3), uint16(9))
	f.Add(append(frame(false, opText, []byte("a\xe2\x82")), frame(true, opContinuation, []byte("\xac"))...), uint16(5), uint16(12))
	f.Add(append(frame(false, opText, []byte("x")), frame(true, opPing, []byte("p"))...), uint16(1), uint16(2))
	f.Add(frame(true, opText, []byte("\xed\xa0\x80")), uint16(7), uint16(8))
	f.Add(frame(true, opClose, []byte{0x03, 0xe8, 'o', 'k'}), uint16(2), uint16(4))
	f.Add(frame(true, opBinary, make([]byte, 2000)), uint16(4), uint16(100))
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, stream []byte, a, b uint16) {
		i, j := int(a)%(len(stream)+1), int(b)%(len(stream)+1)
		whole := parse(stream, nil)
		cut := parse(stream, []int{min(i, j), max(i, j)})
		if fmt.Sprint(whole) != fmt.Sprint(cut) {
			t.Fatalf("whole: %q\ncut at %d, %d: %q", whole, min(i, j), max(i, j), cut)
		}
	})
}
