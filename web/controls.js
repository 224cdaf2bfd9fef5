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
 * The microphone's processing: on by default; "original sound" (for an
 * instrument or music) turns echo cancellation, noise suppression and
 * automatic gain off, which otherwise treat music as noise.
 * @param {boolean} original
 */
export function audioProcessing(original) {
  return { echoCancellation: !original, noiseSuppression: !original, autoGainControl: !original };
}

/**
 * Puts a new track of the stream's kind in place of the old one, in the
 * stream and in the sender (replaceTrack: no renegotiation), and stops the
 * old one. Keeps enabled as it was. A camera is closed before the next
 * is opened: many phones cannot hold two open at once (and Chromium's
 * fake cameras then starve the new one); if the new one is refused, the
 * old device is opened again.
 * @param {MediaStream} stream @param {RTCPeerConnection|null} pc
 * @param {"audio"|"video"} kind @param {MediaTrackConstraints|boolean} constraint
 */
export async function replaceInput(stream, pc, kind, constraint) {
  const old = trackOf(stream, kind);
  /** @param {MediaTrackConstraints|boolean} c */
  const ask = (c) => navigator.mediaDevices.getUserMedia(kind === "audio" ? { audio: c } : { video: c });
  const oldDevice = old ? old.getSettings().deviceId || "" : "";
  if (old && kind === "video") old.stop();
  let got;
  try {
    got = await ask(constraint);
  } catch (err) {
    if (old && kind === "video") {
      // Back to the camera we had, so a failed switch leaves the call as it was.
      got = await ask(oldDevice ? { deviceId: { exact: oldDevice } } : true);
      console.warn("camera: switching failed, the old camera is back", err);
    } else {
      throw err;
    }
  }
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
 * Switches a kind to another input device: a new track from deviceId,
 * sent in place of the old one, which is stopped. extra adds constraints
 * (the microphone's processing).
 * @param {MediaStream} stream @param {RTCPeerConnection|null} pc
 * @param {"audio"|"video"} kind @param {string} deviceId
 * @param {MediaTrackConstraints} [extra]
 */
export function switchDevice(stream, pc, kind, deviceId, extra = {}) {
  /** @type {MediaTrackConstraints} */
  const c = { ...extra };
  if (deviceId) c.deviceId = { exact: deviceId };
  return replaceInput(stream, pc, kind, Object.keys(c).length ? c : true);
}

/**
 * The other camera: the other facingMode where the camera says which
 * way it faces (phones), else the next camera of the list (laptops with
 * a second camera, which report no facing). Sent with replaceTrack, so
 * the call is not renegotiated.
 * @param {MediaStream} stream @param {RTCPeerConnection|null} pc
 * @param {MediaDeviceInfo[]} cameras
 */
export async function flipCamera(stream, pc, cameras) {
  const old = trackOf(stream, "video");
  const settings = old ? old.getSettings() : {};
  const facing = settings.facingMode;
  if (facing === "user" || facing === "environment") {
    try {
      return await replaceInput(stream, pc, "video", { facingMode: { exact: facing === "user" ? "environment" : "user" } });
    } catch (err) {
      console.warn("camera: no camera faces the other way", err);
    }
  }
  const ids = cameras.map((c) => c.deviceId).filter(Boolean);
  if (ids.length < 2) throw new Error("only one camera");
  const next = ids[(ids.indexOf(settings.deviceId || "") + 1) % ids.length];
  return replaceInput(stream, pc, "video", { deviceId: { exact: next } });
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
 * sender until stop() or the browser's own "stop sharing" bar. Where the
 * browser offers the tab's (or system's) sound with it, that sound is
 * mixed with the microphone in Web Audio and the mix replaces the
 * microphone's track in its sender, so both are heard and nothing is
 * renegotiated; muting still mutes the microphone in the mix.
 */
export class ScreenShare {
  /** @param {() => void} onEnded called when sharing ends, however it ends */
  constructor(onEnded) {
    this.onEnded = onEnded;
    /** @type {MediaStreamTrack|null} */
    this.track = null;
    /** @type {MediaStreamTrack|null} the shared tab's sound, if any */
    this.audio = null;
    /** @type {AudioContext|null} */
    this.mixer = null;
    /** @type {RTCRtpSender|null} the microphone's sender, carrying the mix */
    this.audioSender = null;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {MediaStream|null} */
    this.camera = null;
  }

  get active() {
    return !!this.track;
  }

  /** Whether the shared tab's sound is being sent. */
  get withAudio() {
    return !!this.audioSender;
  }

  /**
   * Asks for a screen and sends it instead of the camera.
   * @param {RTCPeerConnection} pc @param {MediaStream} camera the local stream
   * @returns {Promise<MediaStream>} the screen, for the local preview
   */
  async start(pc, camera) {
    /** @type {any} */
    const opts = { video: true, audio: true, systemAudio: "include" };
    const screen = await navigator.mediaDevices.getDisplayMedia(opts);
    const track = screen.getVideoTracks()[0];
    this.track = track;
    this.pc = pc;
    this.camera = camera;
    track.addEventListener("ended", () => this.stop());
    await sendTrack(pc, track, camera);
    const tab = screen.getAudioTracks()[0];
    if (tab) await this.mix(pc, camera, tab);
    return new MediaStream([track]);
  }

  /** @param {RTCPeerConnection} pc @param {MediaStream} camera @param {MediaStreamTrack} tab */
  async mix(pc, camera, tab) {
    this.audio = tab;
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (!sender) return; // no microphone sender: adding one would renegotiate
    const ctx = new AudioContext();
    const out = ctx.createMediaStreamDestination();
    const mic = trackOf(camera, "audio");
    if (mic) ctx.createMediaStreamSource(new MediaStream([mic])).connect(out);
    ctx.createMediaStreamSource(new MediaStream([tab])).connect(out);
    this.mixer = ctx;
    this.audioSender = sender;
    await sender.replaceTrack(out.stream.getAudioTracks()[0]);
  }

  /** Back to the camera (if there is one) and the microphone alone. */
  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    const open = this.pc && this.pc.connectionState !== "closed";
    const cam = trackOf(this.camera, "video");
    const sender = open && this.pc ? this.pc.getSenders().find((s) => s.track === track) : null;
    try {
      if (sender) await sender.replaceTrack(cam); // null when there is no camera: sends nothing
      if (open && this.audioSender) await this.audioSender.replaceTrack(trackOf(this.camera, "audio"));
    } catch (err) {
      console.warn("screen: back to the camera failed", err);
    }
    if (this.audio) this.audio.stop();
    if (this.mixer) this.mixer.close();
    this.audio = this.mixer = this.audioSender = null;
    this.onEnded();
  }
}
