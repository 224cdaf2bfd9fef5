// callcontrols.js — the in-call buttons for one's own media: mute, camera,
// screen sharing, device pickers, picture-in-picture, full screen, and
// the M and V keys. It keeps the buttons in step with the tracks; what is
// done to the tracks is controls.js. The app tells the other side through
// the changed callback.

import { trackOf, setEnabled, switchDevice, listDevices, canPickSpeaker, ScreenShare } from "./controls.js";

/**
 * @typedef {{
 *   el: Record<string, any>,
 *   strings: () => import("./strings.js").Strings,
 *   pc: () => RTCPeerConnection|null,
 *   stream: () => MediaStream|null,
 *   changed: () => void,
 * }} CallControlsOptions
 */

export class CallControls {
  /** @param {CallControlsOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.el = opts.el;
    this.screen = new ScreenShare(() => this.screenEnded());
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

  /** Keeps the mute, camera and screen buttons in step with the tracks. */
  render() {
    const S = this.opts.strings();
    const el = this.el;
    const stream = this.opts.stream();
    const mic = trackOf(stream, "audio");
    const cam = trackOf(stream, "video");
    const muted = !mic || !mic.enabled;
    el.mute.disabled = !mic;
    el.mute.textContent = muted ? S.unmute : S.mute;
    el.mute.setAttribute("aria-pressed", String(muted && !!mic));
    // The visible text is the accessible name; the title says the shortcut.
    el.mute.title = muted ? S.unmuteLabel : S.muteLabel;
    el.mute.dataset.on = String(!muted);
    const camOff = !cam || !cam.enabled;
    el.camera.disabled = !cam;
    el.camera.textContent = camOff ? S.cameraOn : S.cameraOff;
    el.camera.setAttribute("aria-pressed", String(camOff && !!cam));
    el.camera.title = camOff ? S.cameraOnLabel : S.cameraOffLabel;
    el.camera.dataset.on = String(!camOff);
    el.localVideo.classList.toggle("off", camOff && !this.screen.active);
    el.screen.disabled = !this.opts.pc() || !navigator.mediaDevices || !("getDisplayMedia" in navigator.mediaDevices);
    el.screen.textContent = this.screen.active ? S.stopShare : S.share;
    el.screen.setAttribute("aria-pressed", String(this.screen.active));
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
      el.localVideo.hidden = false;
      el.localVideo.classList.add("screen");
    } catch (err) {
      // Refused in the picker, or not allowed: nothing changed.
      console.warn("screen: " + err);
      if (err instanceof Error && err.name !== "NotAllowedError") {
        el.notice.textContent = this.opts.strings().shareFailed;
        el.notice.hidden = false;
      }
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
    const el = this.el;
    const stream = this.opts.stream();
    el.localVideo.srcObject = stream;
    el.localVideo.hidden = !stream || stream.getVideoTracks().length === 0;
    el.localVideo.classList.remove("screen");
    this.render();
    this.opts.changed();
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
  }

  /** @param {"audio"|"video"} kind @param {string} deviceId */
  async chooseDevice(kind, deviceId) {
    const stream = this.opts.stream();
    if (!stream) return;
    try {
      // While sharing, the camera's sender carries the screen: the new
      // camera waits in the stream until sharing stops.
      const pc = kind === "video" && this.screen.active ? null : this.opts.pc();
      await switchDevice(stream, pc, kind, deviceId);
    } catch (err) {
      console.warn("devices: switching failed", err);
    }
    if (!this.screen.active) this.el.localVideo.srcObject = stream;
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
    el.screen.addEventListener("click", () => this.toggleScreen());
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
        else await el.stage.requestFullscreen();
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
