package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-call/duet/client"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// TestPeerOutputReadable: an ordinary call between two duet peers, as a
// tool author first meets it. At the default log level stderr holds duet
// peer's own lines only — no pion message — and each once; at
// --log-level debug pion's messages are there.
func TestPeerOutputReadable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantPion bool
	}{
		{"default", nil, false},
		{"debug", []string{"--log-level", "debug"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTestServer(t)
			room := "output-" + tc.name
			a := startPeer(t, append([]string{"--server", srv.URL(), "--room", room}, tc.args...)...)
			b := startPeer(t, "--server", srv.URL(), "--room", room, "--loop",
				"--play", "../../testdata/media/vp8.ivf", "--play", "../../testdata/media/opus.ogg")
			waitOutput(t, "stderr", a.stderr, "duet peer: verify code")
			time.Sleep(2 * time.Second) // media and RTCP flow for a while
			b.cancel()
			if code := a.wait(t, 20*time.Second); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, a.stderr)
			}
			out := a.stderr.String()
			if got := strings.Contains(out, "pion="); got != tc.wantPion {
				t.Fatalf("pion's messages shown: %v, want %v; stderr:\n%s", got, tc.wantPion, out)
			}
			if n := strings.Count(out, "duet peer: closed\n"); n != 1 {
				t.Fatalf("%d closed lines, want 1; stderr:\n%s", n, out)
			}
			if tc.wantPion {
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, "duet peer: ") || strings.HasPrefix(line, "duet peer: duet peer:") {
					t.Errorf("line %q is not one duet peer line", line)
				}
			}
		})
	}
}

// TestPeerExitLine: the last line says why once, without a doubled prefix.
func TestPeerExitLine(t *testing.T) {
	srv := startTestServer(t)
	p := startPeer(t, "--server", srv.URL(), "--room", "exit-line", "--timeout", "300ms")
	if code := p.wait(t, 20*time.Second); code != exitTimeout {
		t.Fatalf("exit %d, want %d", code, exitTimeout)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if last := lines[len(lines)-1]; last != "duet peer: --timeout elapsed (exit 6)" {
		t.Fatalf("last line %q; stderr:\n%s", last, p.stderr)
	}
}

// TestPeerRecordsH264: a peer that sends H.264 (as OBS does, with no VP8)
// is recorded as an Annex B stream holding the NAL units it sent.
func TestPeerRecordsH264(t *testing.T) {
	srv := startTestServer(t)
	dir := t.TempDir()
	rec := startPeer(t, "--server", srv.URL(), "--room", "h264", "--record", dir)
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "h264")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := client.Dial(ctx, srv.URL(), "h264", client.WithTracks(track))
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	if err := call.WaitChat(ctx); err != nil {
		t.Fatal(err)
	}
	// SPS, PPS and an IDR slice: made-up payloads, real NAL unit types.
	au := []byte{0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21}
	// pion reports the track once its first packet arrives: send until the
	// recorder has it, then a second's worth more.
	sent := 0
	for more := 30; more > 0; sent++ {
		if err := track.WriteSample(media.Sample{Data: au, Duration: 33 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(33 * time.Millisecond)
		if strings.Contains(rec.stderr.String(), "recording video") {
			more--
		} else if sent > 600 {
			t.Fatalf("no video track recorded after 20 s; stderr:\n%s", rec.stderr)
		}
	}
	rec.cancel()
	if code := rec.wait(t, 15*time.Second); code != exitOK {
		t.Fatalf("recorder exit %d; stderr:\n%s", code, rec.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "video-1.h264"))
	if err != nil {
		t.Fatalf("%v; stderr:\n%s", err, rec.stderr)
	}
	if !bytes.HasPrefix(data, []byte{0, 0, 0, 1}) || !bytes.Contains(data, []byte{0x65, 0x88, 0x84, 0x21}) {
		t.Fatalf("video-1.h264 (%d bytes) is not the Annex B stream sent: % x", len(data), data[:min(len(data), 32)])
	}
}
