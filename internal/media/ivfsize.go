package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// pion's ivfwriter writes a frame size it cannot know (640x480) into the
// header before the first frame arrives. A recording gets the real size
// from its first key frame once it is closed, so players and tools that
// trust the header (ffprobe, GStreamer's ivfparse) see what was sent.

// fixIVFSize rewrites the width and height of the IVF file at path from
// its first key frame. A file whose codec it cannot read (AV1) or that
// holds no key frame keeps the header it has.
func fixIVFSize(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [32]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("IVF header: %w", err)
	}
	fourcc := string(h[8:12])
	off := int64(binary.LittleEndian.Uint16(h[6:8]))
	for range 64 { // a recording starts with a key frame; a few lost ones are skipped
		var fh [12]byte
		if _, err := f.ReadAt(fh[:], off); err != nil {
			return nil // no key frame in the file
		}
		size := binary.LittleEndian.Uint32(fh[:4])
		if size == 0 || size > maxIVFFrame {
			return nil
		}
		frame := make([]byte, min(size, 64))
		if _, err := f.ReadAt(frame, off+12); err != nil {
			return nil
		}
		if w, ht, ok := keyFrameSize(fourcc, frame); ok {
			var wh [4]byte
			binary.LittleEndian.PutUint16(wh[0:2], uint16(w))
			binary.LittleEndian.PutUint16(wh[2:4], uint16(ht))
			_, err := f.WriteAt(wh[:], 12)
			return err
		}
		off += 12 + int64(size)
	}
	return nil
}

// keyFrameSize reads the frame size from the start of a VP8 (RFC 6386
// §9.1) or VP9 (VP9 bitstream spec §6.2) key frame; ok is false for any
// other frame.
func keyFrameSize(fourcc string, b []byte) (w, h int, ok bool) {
	switch fourcc {
	case "VP80":
		if len(b) < 10 || b[0]&1 != 0 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(b[6:8]) & 0x3fff), int(binary.LittleEndian.Uint16(b[8:10]) & 0x3fff), true
	case "VP90":
		return vp9KeyFrameSize(b)
	}
	return 0, 0, false
}

func vp9KeyFrameSize(b []byte) (w, h int, ok bool) {
	r := bitReader{b: b}
	if r.bits(2) != 2 { // frame_marker
		return 0, 0, false
	}
	profile := r.bits(1) | r.bits(1)<<1
	if profile == 3 {
		r.bits(1) // reserved_zero
	}
	if r.bits(1) == 1 { // show_existing_frame
		return 0, 0, false
	}
	if r.bits(1) != 0 { // frame_type: 0 is a key frame
		return 0, 0, false
	}
	r.bits(2) // show_frame, error_resilient_mode
	if r.bits(24) != 0x498342 {
		return 0, 0, false
	}
	if profile >= 2 {
		r.bits(1) // ten_or_twelve_bit
	}
	if r.bits(3) != 7 { // color_space other than CS_RGB
		r.bits(1) // color_range
		if profile == 1 || profile == 3 {
			r.bits(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		r.bits(1) // reserved_zero
	}
	w, h = r.bits(16)+1, r.bits(16)+1
	if r.short {
		return 0, 0, false
	}
	return w, h, true
}

type bitReader struct {
	b     []byte
	pos   int
	short bool
}

func (r *bitReader) bits(n int) int {
	v := 0
	for range n {
		if r.pos/8 >= len(r.b) {
			r.short = true
			return 0
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}
