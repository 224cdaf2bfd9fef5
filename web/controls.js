// controls.js — what the call controls do to the local media: mute,
// camera off, switching devices, sharing the screen and back. No DOM; the
// app keeps the buttons in step with the returned state.
//
// Muting and camera off set track.enabled = false: the track keeps its
// sender, so unmuting needs no renegotiation, and the browser sends
// silence or black frames meanwhile. Device changes and screen sharing
// swap the track in the sender with replaceTrack, also without
// renegotiation; the local stream is updated too, so a later connection
// (the other person reloads) sends the same tracks.

/**
 * @param {MediaStream|null} stream
 * @param {"audio"|"video"} kind
 */
export function trackOf(stream, kind) {
  if (!stream) return null;
  return (kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks())[0] || null;
}

/**
 * Turns the stream's tracks of a kind on or off.
 * @param {MediaStream|null} stream @param {"audio"|"video"} kind @param {boolean} on
 */
export function setEnabled(stream, kind, on) {
  if (!stream) return;
  for (const t of kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks()) t.enabled = on;
}

/**
 * Puts track in place of the sender's track of its kind, or adds it when
 * there is none (that one renegotiates, which perfect negotiation does).
 * @param {RTCPeerConnection|null} pc @param {MediaStreamTrack} track @param {MediaStream} stream
 */
export async function sendTrack(pc, track, stream) {
  if (!pc || pc.connectionState === "closed") return;
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === track.kind);
  if (sender) await sender.replaceTrack(track);
  else pc.addTrack(track, stream);
}

/**
 * Switches a kind to another input device: a new track from deviceId,
 * sent in place of the old one, which is stopped. Keeps enabled as it was.
 * @param {MediaStream} stream @param {RTCPeerConnection|null} pc
 * @param {"audio"|"video"} kind @param {string} deviceId
 */
export async function switchDevice(stream, pc, kind, deviceId) {
  const old = trackOf(stream, kind);
  const constraint = deviceId ? { deviceId: { exact: deviceId } } : true;
  const got = await navigator.mediaDevices.getUserMedia(kind === "audio" ? { audio: constraint } : { video: constraint });
  const track = /** @type {MediaStreamTrack} */ (trackOf(got, kind));
  if (old) {
    track.enabled = old.enabled;
    stream.removeTrack(old);
    old.stop();
  }
  stream.addTrack(track);
  await sendTrack(pc, track, stream);
  return track;
}

/**
 * Input and output devices, for the device pickers. Labels are empty
 * before the page has camera or microphone permission.
 * @returns {Promise<{audioinput: MediaDeviceInfo[], videoinput: MediaDeviceInfo[], audiooutput: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  /** @type {{audioinput: MediaDeviceInfo[], videoinput: MediaDeviceInfo[], audiooutput: MediaDeviceInfo[]}} */
  const out = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return out;
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    if (d.kind in out) out[d.kind].push(d);
  }
  return out;
}

/** Whether the browser lets a page pick the speaker (Chromium, Firefox 116+). */
export function canPickSpeaker() {
  return "setSinkId" in HTMLMediaElement.prototype;
}

/**
 * Screen sharing: the screen's video track replaces the camera's in the
 * sender until stop() or the browser's own "stop sharing" bar.
 */
export class ScreenShare {
  /** @param {() => void} onEnded called when sharing ends, however it ends */
  constructor(onEnded) {
    this.onEnded = onEnded;
    /** @type {MediaStreamTrack|null} */
    this.track = null;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {MediaStream|null} */
    this.camera = null;
  }

  get active() {
    return !!this.track;
  }

  /**
   * Asks for a screen and sends it instead of the camera.
   * @param {RTCPeerConnection} pc @param {MediaStream} camera the local stream
   * @returns {Promise<MediaStream>} the screen, for the local preview
   */
  async start(pc, camera) {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = screen.getVideoTracks()[0];
    this.track = track;
    this.pc = pc;
    this.camera = camera;
    track.addEventListener("ended", () => this.stop());
    await sendTrack(pc, track, camera);
    return screen;
  }

  /** Back to the camera (if there is one). */
  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    const cam = trackOf(this.camera, "video");
    const sender = this.pc && this.pc.connectionState !== "closed"
      ? this.pc.getSenders().find((s) => s.track === track)
      : null;
    if (sender) {
      try {
        await sender.replaceTrack(cam); // null when there is no camera: sends nothing
      } catch (err) {
        console.warn("screen: back to the camera failed", err);
      }
    }
    this.onEnded();
  }
}
