package media

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Info describes a media file as Inspect read it.
type Info struct {
	Codec    string        // an IVF fourcc (VP80, VP90, AV01) or "opus"
	Frames   int           // video frames, or Opus packets after the two headers
	Duration time.Duration // the sum of the frames' durations
	// Width and Height are what an IVF header says the frames measure.
	Width, Height int
}

// Inspect reads a whole IVF or Ogg Opus file the way playback does and
// counts what it holds; tests use it to check recordings.
func Inspect(path string) (Info, error) {
	var (
		r    frameReader
		info Info
		err  error
	)
	if r, err = openIVF(path); err == nil {
		v := r.(*ivfFile)
		info.Codec, info.Width, info.Height = v.fourcc, v.width, v.height
	} else if r, err = openOgg(path); err == nil {
		info.Codec = "opus"
	} else {
		return info, fmt.Errorf("%w: %s is neither a readable IVF nor an Ogg Opus file", ErrBadFile, path)
	}
	defer r.Close()
	for {
		_, d, err := r.next()
		if errors.Is(err, io.EOF) {
			return info, nil
		}
		if err != nil {
			return info, fmt.Errorf("%w: %s after %d frames: %v", ErrBadFile, path, info.Frames, err)
		}
		info.Frames++
		info.Duration += d
	}
}
