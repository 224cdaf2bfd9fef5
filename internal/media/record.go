package media

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264writer"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// rtpWriter is what pion's ivfwriter and oggwriter share.
type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

// Record writes track to DIR/<kind>-<n>.ivf (VP8, VP9, AV1),
// DIR/<kind>-<n>.h264 (H.264, Annex B) or DIR/<kind>-<n>.ogg (Opus) until the track ends, then closes the file so
// its headers are final. It returns the file's path and the error that is
// not the track's normal end.
func Record(dir string, n int, track *webrtc.TrackRemote) (string, error) {
	codec := track.Codec()
	mime := codec.MimeType
	var (
		w    rtpWriter
		path string
		err  error
	)
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeOpus):
		path = filepath.Join(dir, fmt.Sprintf("audio-%d.ogg", n))
		ch := codec.Channels
		if ch == 0 {
			ch = 2
		}
		w, err = oggwriter.New(path, codec.ClockRate, ch)
	case strings.EqualFold(mime, webrtc.MimeTypeVP8), strings.EqualFold(mime, webrtc.MimeTypeVP9),
		strings.EqualFold(mime, webrtc.MimeTypeAV1):
		path = filepath.Join(dir, fmt.Sprintf("video-%d.ivf", n))
		w, err = ivfwriter.New(path, ivfwriter.WithCodec(canonicalMime(mime)))
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		// What OBS and most hardware encoders send, often alone (no VP8):
		// an Annex B byte stream, which ffmpeg and GStreamer read as is.
		path = filepath.Join(dir, fmt.Sprintf("video-%d.h264", n))
		w, err = h264writer.New(path)
	default:
		return "", fmt.Errorf("media: cannot record %s (only VP8, VP9, AV1, H.264 and Opus)", mime)
	}
	if err != nil {
		return "", fmt.Errorf("media: creating %s: %w", path, err)
	}
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			break // the track ended with its peer connection
		}
		if err := w.WriteRTP(pkt); err != nil {
			w.Close()
			return path, fmt.Errorf("media: writing %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return path, fmt.Errorf("media: closing %s: %w", path, err)
	}
	if strings.HasSuffix(path, ".ivf") {
		if err := fixIVFSize(path); err != nil {
			return path, fmt.Errorf("media: frame size in %s: %w", path, err)
		}
	}
	return path, nil
}

// canonicalMime: browsers may spell codecs in other cases than pion's
// writers match on.
func canonicalMime(m string) string {
	for _, c := range []string{webrtc.MimeTypeVP8, webrtc.MimeTypeVP9, webrtc.MimeTypeAV1} {
		if strings.EqualFold(m, c) {
			return c
		}
	}
	return m
}
