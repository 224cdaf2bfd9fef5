package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const (
	vp8File  = "../../testdata/media/vp8.ivf"
	opusFile = "../../testdata/media/opus.ogg"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		path   string
		codec  string
		frames int
		minDur time.Duration
		maxDur time.Duration
	}{
		{vp8File, "VP80", 45, 2900 * time.Millisecond, 3100 * time.Millisecond},
		{opusFile, "opus", 151, 2900 * time.Millisecond, 3100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			info, err := Inspect(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Codec != tc.codec || info.Frames != tc.frames || info.Duration < tc.minDur || info.Duration > tc.maxDur {
				t.Fatalf("Inspect = %+v, want codec %s, %d frames, %v..%v", info, tc.codec, tc.frames, tc.minDur, tc.maxDur)
			}
		})
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ivf, _ := os.ReadFile(vp8File)
	ogg, _ := os.ReadFile(opusFile)
	h264 := append([]byte(nil), ivf...)
	copy(h264[8:12], "H264")
	tests := []struct{ name, path string }{
		{"missing", filepath.Join(dir, "nope.ivf")},
		{"empty", write("empty", nil)},
		{"text", write("text", []byte("hello, not media"))},
		{"ivf header only", write("hdr.ivf", ivf[:32])},
		{"ivf truncated frame", write("trunc.ivf", ivf[:60])},
		{"ivf unknown codec", write("h264.ivf", h264)},
		{"ogg header page only", write("head.ogg", ogg[:40])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.path, false); !errors.Is(err, ErrBadFile) {
				t.Fatalf("Open: %v, want ErrBadFile", err)
			}
		})
	}
}

func TestOpusDuration(t *testing.T) {
	tests := []struct {
		toc  []byte
		want time.Duration
	}{
		{[]byte{0xfc}, 20 * time.Millisecond},             // CELT FB 20 ms, one frame
		{[]byte{0xfd}, 40 * time.Millisecond},             // two frames
		{[]byte{0xfb, 0x07}, 7 * 20 * time.Millisecond},   // 140 ms is over the 120 ms limit
		{[]byte{0x08 << 3}, 10 * time.Millisecond},        // hybrid 10 ms
		{[]byte{0x03 << 3}, 60 * time.Millisecond},        // SILK 60 ms
		{[]byte{0xe3, 0x06}, 6 * 2500 * time.Microsecond}, // CELT 2.5 ms x6
	}
	for _, tc := range tests {
		got, err := opusDuration(tc.toc)
		if tc.want > 120*time.Millisecond {
			if err == nil {
				t.Errorf("opusDuration(%x) = %v, want an error", tc.toc, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("opusDuration(%x) = %v, %v; want %v", tc.toc, got, err, tc.want)
		}
	}
}

// TestRunPaces: playback follows the file's clock, not the disk's speed,
// and looping goes on past the end.
func TestRunPaces(t *testing.T) {
	src, err := Open(vp8File, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 3900*time.Millisecond {
		t.Fatalf("looping Run returned after %v, before its context ended", el)
	}
	once, _ := Open(vp8File, false)
	start = time.Now()
	if err := once.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only the lower bound: a slow machine may take longer, but no correct
	// player finishes a 3 s file early.
	if el := time.Since(start); el < 2900*time.Millisecond {
		t.Fatalf("played a 3 s file in %v: not paced", el)
	}
}

func TestKeyFrameSize(t *testing.T) {
	tests := []struct {
		name   string
		fourcc string
		frame  []byte
		w, h   int
		ok     bool
	}{
		// The first frame of testdata/media/vp8.ivf.
		{"vp8 key frame", "VP80", []byte{0x50, 0x3a, 0x00, 0x9d, 0x01, 0x2a, 0xa0, 0x00, 0x78, 0x00}, 160, 120, true},
		{"vp8 inter frame", "VP80", []byte{0x51, 0x3a, 0x00, 0x9d, 0x01, 0x2a, 0xa0, 0x00, 0x78, 0x00}, 0, 0, false},
		// Profile 0, shown key frame, sync code, colour space 0, 320x240.
		{"vp9 key frame", "VP90", []byte{0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0e, 0xf0}, 320, 240, true},
		{"vp9 cut short", "VP90", []byte{0x82, 0x49, 0x83, 0x42, 0x00, 0x13}, 0, 0, false},
		{"vp9 inter frame", "VP90", []byte{0x86, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0e, 0xf0}, 0, 0, false},
		{"av1 is not read", "AV01", []byte{0x12, 0x00, 0x0a}, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h, ok := keyFrameSize(tc.fourcc, tc.frame)
			if w != tc.w || h != tc.h || ok != tc.ok {
				t.Fatalf("got %dx%d %v, want %dx%d %v", w, h, ok, tc.w, tc.h, tc.ok)
			}
		})
	}
}
