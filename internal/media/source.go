// Package media plays IVF (VP8, VP9, AV1) and Ogg (Opus) files as WebRTC
// tracks in real time, and records remote tracks to the same formats. It is
// what `duet peer --play` and `--record` use.
package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// ErrBadFile matches every error about a file that cannot be played: not
// found, unknown container, unsupported codec, truncated.
var ErrBadFile = errors.New("media: bad file")

// frameReader yields the file's frames in order; io.EOF ends a pass.
type frameReader interface {
	// next returns a frame and how long it lasts.
	next() (data []byte, dur time.Duration, err error)
	Close() error
}

// Source is one media file as a local track.
type Source struct {
	path  string
	loop  bool
	open  func(string) (frameReader, error)
	track *webrtc.TrackLocalStaticSample
}

// Open checks that path is an IVF with VP8/VP9/AV1 or an Ogg with Opus,
// reads it through once to the first frame, and returns a Source whose
// Track can be added to a call. With loop, Run starts over at the end.
func Open(path string, loop bool) (*Source, error) {
	head := make([]byte, 4)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading header: %v", ErrBadFile, path, err)
	}
	s := &Source{path: path, loop: loop}
	var codec webrtc.RTPCodecCapability
	kind := "audio"
	switch {
	case bytes.Equal(head, []byte("DKIF")):
		mime, err := ivfCodec(path)
		if err != nil {
			return nil, err
		}
		codec = webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}
		s.open = openIVF
		kind = "video"
	case bytes.Equal(head, []byte("OggS")):
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		s.open = openOgg
	default:
		return nil, fmt.Errorf("%w: %s is neither IVF nor Ogg", ErrBadFile, path)
	}
	// Fail now, before any call, if the first frame cannot be read.
	r, err := s.open(path)
	if err == nil {
		_, _, err = r.next()
		r.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	s.track, err = webrtc.NewTrackLocalStaticSample(codec, kind+"-"+name, "duet-peer")
	if err != nil {
		return nil, fmt.Errorf("media: track for %s: %w", path, err)
	}
	return s, nil
}

// Track is the local track to add to a call.
func (s *Source) Track() *webrtc.TrackLocalStaticSample { return s.track }

// Kind is "video" or "audio".
func (s *Source) Kind() string { return s.track.Kind().String() }

// Run writes the file's frames to the track at the pace their durations
// say, against a clock that does not drift with slow writes, until the file
// ends (or ctx ends; with loop, only ctx ends it). It returns nil at the
// end of the file or when ctx ends, and ErrBadFile if the file turns out
// broken further in.
func (s *Source) Run(ctx context.Context) error {
	start := time.Now()
	var at time.Duration // media time of the next frame since start
	for pass := 0; ; pass++ {
		r, err := s.open(s.path)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadFile, s.path, err)
		}
		for {
			data, dur, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return fmt.Errorf("%w: %s: %v", ErrBadFile, s.path, err)
			}
			if wait := time.Until(start.Add(at)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					r.Close()
					return nil
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				r.Close()
				return nil
			}
			if err := s.track.WriteSample(media.Sample{Data: data, Duration: dur}); err != nil {
				r.Close()
				return fmt.Errorf("media: writing %s: %w", s.path, err)
			}
			at += dur
		}
		r.Close()
		if !s.loop {
			return nil
		}
	}
}
