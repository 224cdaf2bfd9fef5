package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/webrtc/v4"
)

var ivfCodecs = map[string]string{
	"VP80": webrtc.MimeTypeVP8,
	"VP90": webrtc.MimeTypeVP9,
	"AV01": webrtc.MimeTypeAV1,
}

// maxIVFFrame bounds one frame's size so a corrupt header cannot make us
// allocate gigabytes; 4 MiB is far above any real-time frame.
const maxIVFFrame = 4 << 20

func ivfCodec(path string) (string, error) {
	r, err := openIVF(path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	fourcc := r.(*ivfFile).fourcc
	mime, ok := ivfCodecs[fourcc]
	if !ok {
		return "", fmt.Errorf("%w: %s: IVF codec %q is not VP8, VP9 or AV1", ErrBadFile, path, fourcc)
	}
	return mime, nil
}

// ivfFile reads IVF frames itself: pion's ivfreader rescales timestamps
// with an integer division that loses precision for rates like 30000/1001,
// and pacing needs the exact presentation time.
type ivfFile struct {
	f      *os.File
	r      *bufio.Reader
	fourcc string
	width  int // as the header says
	height int
	num    uint64 // a pts unit is num/den seconds
	den    uint64
	// A one-frame lookahead: a frame lasts until the next one's pts.
	nextData []byte
	nextPTS  uint64
	last     time.Duration
}

func openIVF(path string) (frameReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	v := &ivfFile{f: f, r: bufio.NewReader(f)}
	if err := v.header(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	if err := v.advance(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: first frame: %v", ErrBadFile, path, err)
	}
	return v, nil
}

func (v *ivfFile) header() error {
	var h [32]byte
	if _, err := io.ReadFull(v.r, h[:]); err != nil {
		return fmt.Errorf("IVF header: %w", err)
	}
	if string(h[:4]) != "DKIF" {
		return errors.New("not an IVF file")
	}
	if hs := binary.LittleEndian.Uint16(h[6:8]); hs > 32 {
		if _, err := v.r.Discard(int(hs) - 32); err != nil {
			return fmt.Errorf("IVF header: %w", err)
		}
	}
	v.fourcc = string(h[8:12])
	v.width = int(binary.LittleEndian.Uint16(h[12:14]))
	v.height = int(binary.LittleEndian.Uint16(h[14:16]))
	v.den = uint64(binary.LittleEndian.Uint32(h[16:20]))
	v.num = uint64(binary.LittleEndian.Uint32(h[20:24]))
	if v.den == 0 || v.num == 0 {
		return errors.New("IVF timebase is zero")
	}
	v.last = v.ptsDuration(1)
	return nil
}

func (v *ivfFile) ptsDuration(n uint64) time.Duration {
	return time.Duration(n * v.num * uint64(time.Second) / v.den)
}

// advance reads the next frame into the lookahead; io.EOF at a clean end.
func (v *ivfFile) advance() error {
	v.nextData = nil
	var h [12]byte
	if _, err := io.ReadFull(v.r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("truncated frame header")
		}
		return err
	}
	size := binary.LittleEndian.Uint32(h[:4])
	if size == 0 || size > maxIVFFrame {
		return fmt.Errorf("frame of %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(v.r, data); err != nil {
		return fmt.Errorf("truncated frame: %w", err)
	}
	v.nextData, v.nextPTS = data, binary.LittleEndian.Uint64(h[4:12])
	return nil
}

func (v *ivfFile) next() ([]byte, time.Duration, error) {
	if v.nextData == nil {
		return nil, 0, io.EOF
	}
	data, pts := v.nextData, v.nextPTS
	err := v.advance()
	switch {
	case err == nil && v.nextPTS > pts:
		v.last = v.ptsDuration(v.nextPTS - pts)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, 0, err
	}
	// The last frame lasts as long as the one before it.
	return data, v.last, nil
}

func (v *ivfFile) Close() error { return v.f.Close() }
