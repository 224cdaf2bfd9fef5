package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// oggFile splits an Ogg stream into Opus packets. pion's oggreader returns
// whole pages, and encoders such as ffmpeg put up to a second of packets in
// one page, so the segment table is read here to recover packet borders.
type oggFile struct {
	f       *os.File
	r       *bufio.Reader
	serial  uint32
	started bool
	packets [][]byte // complete packets of the current page
	partial []byte   // a packet continuing into the next page
	headers int      // OpusHead and OpusTags still to skip
}

func openOgg(path string) (frameReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	o := &oggFile{f: f, r: bufio.NewReader(f), headers: 2}
	head, err := o.packet()
	if err != nil || !bytes.HasPrefix(head, []byte("OpusHead")) {
		f.Close()
		return nil, fmt.Errorf("%w: %s: not an Ogg Opus stream", ErrBadFile, path)
	}
	if _, err := o.packet(); err != nil { // OpusTags
		f.Close()
		return nil, fmt.Errorf("%w: %s: no OpusTags: %v", ErrBadFile, path, err)
	}
	return o, nil
}

func (o *oggFile) next() ([]byte, time.Duration, error) {
	p, err := o.packet()
	if err != nil {
		return nil, 0, err
	}
	d, err := opusDuration(p)
	if err != nil {
		return nil, 0, err
	}
	return p, d, nil
}

func (o *oggFile) Close() error { return o.f.Close() }

func (o *oggFile) packet() ([]byte, error) {
	for len(o.packets) == 0 {
		if err := o.page(); err != nil {
			return nil, err
		}
	}
	p := o.packets[0]
	o.packets = o.packets[1:]
	return p, nil
}

// page reads one page of the first logical stream into o.packets.
func (o *oggFile) page() error {
	var h [27]byte
	if _, err := io.ReadFull(o.r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("truncated Ogg page header")
		}
		return err
	}
	if !bytes.Equal(h[:4], []byte("OggS")) {
		return errors.New("lost Ogg page sync")
	}
	serial := binary.LittleEndian.Uint32(h[14:18])
	segs := make([]byte, h[26])
	if _, err := io.ReadFull(o.r, segs); err != nil {
		return fmt.Errorf("truncated Ogg page: %w", err)
	}
	var size int
	for _, s := range segs {
		size += int(s)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("truncated Ogg page: %w", err)
	}
	if !o.started {
		o.serial, o.started = serial, true
	}
	if serial != o.serial {
		return nil // another logical stream (say, a video track): skip it
	}
	off := 0
	for _, s := range segs {
		o.partial = append(o.partial, body[off:off+int(s)]...)
		off += int(s)
		if s < 255 { // a lacing value under 255 ends a packet
			o.packets = append(o.packets, o.partial)
			o.partial = nil
		}
	}
	return nil
}

// opusDuration reads an Opus packet's length from its TOC byte (RFC 6716
// section 3.1): the configuration gives the frame size, the code the count.
func opusDuration(p []byte) (time.Duration, error) {
	if len(p) == 0 {
		return 0, errors.New("empty Opus packet")
	}
	config := p[0] >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[config%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond
	}
	n := 1
	switch p[0] & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0, errors.New("truncated Opus packet")
		}
		n = int(p[1] & 0x3f)
	}
	if d := frame * time.Duration(n); d > 0 && d <= 120*time.Millisecond {
		return d, nil
	}
	return 0, fmt.Errorf("Opus packet of %d frames of %v is out of range", n, frame)
}
