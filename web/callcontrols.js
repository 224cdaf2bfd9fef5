// callcontrols.js — the in-call buttons for one's own media: mute, camera,
// the front/back camera switch, screen sharing, original sound, device
// pickers, picture-in-picture, full screen, and the M and V keys. It keeps
// the buttons in step with the tracks; what is done to the tracks is
// controls.js. The app tells the other side through the changed callback.

import { trackOf, setEnabled, switchDevice, flipCamera, listDevices, canPickSpeaker, audioProcessing, ScreenShare } from "./controls.js";
import { setButton } from "./icons.js";

const MUSIC_KEY = "duet.music";

/**
 * @typedef {{
 *   el: Record<string, any>,
 *   strings: () => import("./strings.js").Strings,
 *   pc: () => RTCPeerConnection|null,
 *   stream: () => MediaStream|null,
 *   changed: () => void,
 *   notice: (text: string) => void,
 * }} CallControlsOptions
 */

export class CallControls {
  /** @param {CallControlsOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.el = opts.el;
    this.screen = new ScreenShare(() => this.screenEnded());
    /** @type {MediaDeviceInfo[]} the cameras, for the switch */
    this.cameras = [];
    /** Original sound: the microphone without its speech processing. */
    this.music = false;
    try {
      this.music = localStorage.getItem(MUSIC_KEY) === "on";
    } catch {
      // No storage: off.
    }
  }

  /** Constraints for a microphone track, following the music toggle. */
  audioConstraints() {
    return audioProcessing(this.music);
  }

  /** What the other side is told: docs/protocol.md, the media message. */
  mediaState() {
    const stream = this.opts.stream();
    const mic = trackOf(stream, "audio");
    const cam = trackOf(stream, "video");
    return {
      audio: !!mic && mic.enabled,
      video: this.screen.active || (!!cam && cam.enabled),
      screen: this.screen.active,
    };
  }

  /** Keeps the buttons in step with the tracks. */
  render() {
    const S = this.opts.strings();
    const el = this.el;
    const stream = this.opts.stream();
    const mic = trackOf(stream, "audio");
    const cam = trackOf(stream, "video");
    const muted = !mic || !mic.enabled;
    el.mute.disabled = !mic;
    // The label is the accessible name (and the text tests read); the
    // tooltip also says the shortcut.
    setButton(el.mute, muted ? "micOff" : "mic", muted ? S.unmute : S.mute, { title: muted ? S.unmuteLabel : S.muteLabel });
    el.mute.setAttribute("aria-pressed", String(muted && !!mic));
    el.mute.dataset.on = String(!muted);
    const camOff = !cam || !cam.enabled;
    el.camera.disabled = !cam;
    setButton(el.camera, camOff ? "cameraOff" : "camera", camOff ? S.cameraOn : S.cameraOff,
      { title: camOff ? S.cameraOnLabel : S.cameraOffLabel });
    el.camera.setAttribute("aria-pressed", String(camOff && !!cam));
    el.camera.dataset.on = String(!camOff);
    el.self.classList.toggle("off", camOff && !this.screen.active);
    el.selfOff.hidden = !(camOff && !this.screen.active);
    setButton(el.flip, "flip", S.flipCamera);
    el.flip.hidden = !cam || this.cameras.length < 2 || this.screen.active;
    el.screen.disabled = !this.opts.pc() || !navigator.mediaDevices || !("getDisplayMedia" in navigator.mediaDevices);
    setButton(el.screen, "screen", this.screen.active ? S.stopShare : S.share, { labelHidden: false });
    el.screen.setAttribute("aria-checked", String(this.screen.active));
    setButton(el.music, "music", S.music, { labelHidden: false, title: S.musicLabel });
    el.music.setAttribute("aria-checked", String(this.music));
    el.music.disabled = !mic;
  }

  /** @param {"audio"|"video"} kind */
  toggle(kind) {
    const stream = this.opts.stream();
    const t = trackOf(stream, kind);
    if (!t) return;
    setEnabled(stream, kind, !t.enabled);
    this.render();
    this.opts.changed();
  }

  async toggleScreen() {
    if (this.screen.active) {
      await this.screen.stop();
      return;
    }
    const pc = this.opts.pc();
    if (!pc) return;
    const el = this.el;
    try {
      const screen = await this.screen.start(pc, this.opts.stream() || new MediaStream());
      el.localVideo.srcObject = screen;
      el.self.hidden = false;
      el.self.classList.add("screen");
    } catch (err) {
      // Refused in the picker, or not allowed: nothing changed.
      console.warn("screen: " + err);
      if (err instanceof Error && err.name !== "NotAllowedError") this.opts.notice(this.opts.strings().shareFailed);
    }
    this.render();
    this.opts.changed();
  }

  /** Stops sharing, if sharing (the connection is closing). */
  stopSharing() {
    this.screen.stop();
  }

  /** Sharing ended (our button, or the browser's own stop): the camera again. */
  screenEnded() {
    this.showPreview();
    this.el.self.classList.remove("screen");
    this.render();
    this.opts.changed();
  }

  /** The local preview shows the camera (or nothing without one). */
  showPreview() {
    const stream = this.opts.stream();
    const el = this.el;
    const video = !!stream && stream.getVideoTracks().length > 0;
    if (!this.screen.active && el.localVideo.srcObject !== (video ? stream : null)) el.localVideo.srcObject = video ? stream : null;
    el.self.hidden = !video && !this.screen.active;
  }

  /** The front/back (or next) camera, in place of this one. */
  async flip() {
    const stream = this.opts.stream();
    if (!stream || this.screen.active) return;
    try {
      await flipCamera(stream, this.opts.pc(), this.cameras);
    } catch (err) {
      console.warn("camera: switching failed", err);
      this.opts.notice(this.opts.strings().switchCameraFailed);
    }
    this.showPreview();
    this.render();
    this.fillDevices();
  }

  /** Original sound on or off: a new microphone track with or without processing. */
  async toggleMusic() {
    this.music = !this.music;
    try {
      localStorage.setItem(MUSIC_KEY, this.music ? "on" : "off");
    } catch {
      // Not remembered.
    }
    const stream = this.opts.stream();
    const mic = trackOf(stream, "audio");
    if (stream && mic) {
      const pc = this.screen.withAudio ? null : this.opts.pc(); // the mix keeps its sender
      try {
        await switchDevice(stream, pc, "audio", mic.getSettings().deviceId || "", this.audioConstraints());
      } catch (err) {
        console.warn("microphone: original sound failed", err);
      }
    }
    this.render();
  }

  /** Fills the device pickers; the chosen one is the track's device. */
  async fillDevices() {
    let list;
    try {
      list = await listDevices();
    } catch {
      return;
    }
    const S = this.opts.strings();
    const el = this.el;
    const stream = this.opts.stream();
    this.cameras = list.videoinput.filter((d) => d.deviceId);
    /** @param {HTMLSelectElement} sel @param {MediaDeviceInfo[]} devs @param {string} current */
    const fill = (sel, devs, current) => {
      sel.replaceChildren();
      if (devs.length === 0 || devs.every((d) => !d.deviceId)) {
        sel.append(new Option(S.defaultDevice, ""));
      }
      devs.forEach((d, i) => {
        if (d.deviceId) sel.append(new Option(d.label || S.defaultDevice + " " + (i + 1), d.deviceId));
      });
      if (current) sel.value = current;
    };
    /** @param {MediaStreamTrack|null} t */
    const dev = (t) => (t && t.getSettings().deviceId) || "";
    fill(el.cameraSelect, list.videoinput, dev(trackOf(stream, "video")));
    fill(el.micSelect, list.audioinput, dev(trackOf(stream, "audio")));
    fill(el.speakerSelect, list.audiooutput, el.remoteVideo.sinkId || "");
    el.cameraSelect.disabled = !trackOf(stream, "video");
    el.micSelect.disabled = !trackOf(stream, "audio");
    el.speakerRow.hidden = !canPickSpeaker();
    this.render();
  }

  /** @param {"audio"|"video"} kind @param {string} deviceId */
  async chooseDevice(kind, deviceId) {
    const stream = this.opts.stream();
    if (!stream) return;
    try {
      // While sharing, the camera's sender carries the screen (and the
      // microphone's may carry the mix): the new device waits in the
      // stream until sharing stops.
      const pc = this.screen.active ? null : this.opts.pc();
      await switchDevice(stream, pc, kind, deviceId, kind === "audio" ? this.audioConstraints() : {});
    } catch (err) {
      console.warn("devices: switching failed", err);
    }
    this.showPreview();
    this.render();
    this.fillDevices();
  }

  /**
   * Wires the buttons, pickers and keys.
   * @param {() => boolean} inRoom whether the page is a call (keys do nothing on the home page)
   */
  wire(inRoom) {
    const el = this.el;
    el.mute.addEventListener("click", () => this.toggle("audio"));
    el.camera.addEventListener("click", () => this.toggle("video"));
    el.flip.addEventListener("click", () => this.flip());
    el.screen.addEventListener("click", () => this.toggleScreen());
    el.music.addEventListener("click", () => this.toggleMusic());
    el.pip.addEventListener("click", async () => {
      try {
        if (document.pictureInPictureElement) await document.exitPictureInPicture();
        else await el.remoteVideo.requestPictureInPicture();
      } catch (err) {
        console.warn("picture-in-picture: " + err); // no video yet
      }
    });
    el.fullscreen.addEventListener("click", async () => {
      try {
        if (document.fullscreenElement) await document.exitFullscreen();
        else await el.call.requestFullscreen();
      } catch (err) {
        console.warn("full screen: " + err);
      }
    });
    el.cameraSelect.addEventListener("change", () => this.chooseDevice("video", el.cameraSelect.value));
    el.micSelect.addEventListener("change", () => this.chooseDevice("audio", el.micSelect.value));
    el.speakerSelect.addEventListener("change", async () => {
      try {
        await el.remoteVideo.setSinkId(el.speakerSelect.value);
      } catch (err) {
        console.warn("speaker: " + err);
      }
    });
    if (navigator.mediaDevices) navigator.mediaDevices.addEventListener("devicechange", () => this.fillDevices());
    // M and V toggle the microphone and camera, unless the person is typing.
    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat || !inRoom()) return;
      const t = /** @type {HTMLElement} */ (ev.target);
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      const k = ev.key.toLowerCase();
      if (k === "m") this.toggle("audio");
      else if (k === "v") this.toggle("video");
      else return;
      ev.preventDefault();
    });
  }
}
