// stage.js — the call's stage: the other person's video filling the space
// at its own aspect ratio; the card in its middle when there is no one to
// see (waiting with the link, Copy, Share and the QR code; the other left;
// the room is full; hung up) saying what the person can do next; a name
// and placeholder when the other camera is off; the movable self-view;
// and the top bar: status, call timer, signal strength and verify code.

import { icon } from "./icons.js";
import { cleanText } from "./text.js";

/** @typedef {import("./store.js").AppState} AppState */

/** Which card each call state shows, if any: [title, text, what to offer]. */
const CARDS = /** @type {const} */ ({
  media: ["waitingTitle", "", ""],
  waiting: ["waitingTitle", "waitingText", "share"],
  reconnecting: ["", "", ""],
  "peer-left": ["leftTitle", "leftText", "share"],
  "room-full": ["fullTitle", "fullText", "retry"],
  ended: ["endedTitle", "endedText", "rejoin"],
  error: ["errorTitle", "", "retry"],
  failed: ["failedTitle", "failedText", ""],
});

/**
 * Signal strength 1–4 from the connection's round trip and loss (the
 * figures the connection info panel shows); 0 without a sample.
 * @param {{rttMs: number, lossPct: number} | null} s
 */
export function signalLevel(s) {
  if (!s) return 0;
  const { rttMs: rtt, lossPct: loss } = s;
  if (rtt < 150 && loss < 2) return 4;
  if (rtt < 300 && loss < 5) return 3;
  if (rtt < 600 && loss < 10) return 2;
  return 1;
}

export class Stage {
  /**
   * @param {import("./store.js").Store<AppState>} store
   * @param {Record<string, any>} el
   */
  constructor(store, el) {
    this.store = store;
    this.el = el;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.clock = undefined;
    /** @type {{rttMs: number, lossPct: number} | null} */
    this.sample = null;
    /** Appended to an error state's words: what the server said. */
    this.errorText = "";
    /** @type {(() => void) | null} the signal indicator opens connection info */
    this.onSignalClick = null;
    store.subscribe((now, before) => this.render(now, before));
  }

  /** @param {AppState} now @param {AppState} [before] */
  render(now, before) {
    const el = this.el;
    const S = now.S;
    if (!before || now.state !== before.state || now.S !== before.S) this.renderState(now);
    if (!before || now.remote !== before.remote || now.call !== before.call || now.S !== before.S || now.state !== before.state ||
      now.peerKind !== before.peerKind) {
      this.renderRemote(now);
    }
    if (!before || now.verify !== before.verify || now.S !== before.S) {
      el.verifyCode.textContent = now.verify;
      el.verify.hidden = !now.verify;
      el.verifyLabel.textContent = S.verifyLabel;
      el.verifyHelp.textContent = S.verifyShort;
      el.verify.title = S.verifyHelp;
    }
    if (!before || now.connectedAt !== before.connectedAt || now.state !== before.state) this.renderTimer();
    if (!before || now.S !== before.S) {
      el.self.setAttribute("aria-label", S.selfView);
      el.selfOff.textContent = S.localCameraOff;
      el.qr.alt = S.qrAlt;
      el.copy.textContent = S.copy;
      el.webShare.textContent = S.shareLink;
      el.shareLabel.textContent = S.shareLabel;
      el.lanMode.textContent = S.lanMode;
      el.remoteMuted.textContent = S.remoteMuted;
      el.remoteCameraOff.textContent = S.remoteCameraOff;
      el.remoteSharing.textContent = S.remoteSharing;
      el.cardHome.textContent = S.newCall;
      el.sendAway.textContent = S.sendAway;
      el.timer.title = S.timer;
      this.renderSignal(this.sample);
    }
  }

  /** @param {AppState} now */
  renderState(now) {
    const el = this.el;
    const S = now.S;
    const s = now.state;
    el.status.textContent = S.state[s] + (s === "error" ? this.errorText : "");
    el.status.dataset.state = s;
    document.body.dataset.state = s;
    const card = /** @type {Record<string, readonly [string, string, string]>} */ (CARDS)[s];
    el.card.hidden = !card || !card[0];
    if (card && card[0]) {
      el.cardTitle.textContent = /** @type {any} */ (S)[card[0]];
      el.cardText.textContent = card[1] ? /** @type {any} */ (S)[card[1]] : s === "error" ? this.errorText : "";
      el.cardText.hidden = !el.cardText.textContent;
      el.share.hidden = card[2] !== "share";
      el.rejoin.hidden = card[2] !== "rejoin" && card[2] !== "retry";
      el.rejoin.textContent = card[2] === "rejoin" ? S.rejoin : S.retry;
      el.cardHome.hidden = card[2] !== "rejoin" && card[2] !== "retry";
    }
    el.webShare.hidden = !("share" in navigator);
    const over = s === "ended" || s === "room-full" || s === "error";
    el.controls.hidden = over;
    el.topbar.hidden = s === "idle";
    if (over) {
      el.notice.hidden = true;
      el.self.hidden = true;
    }
  }

  /** @param {AppState} now */
  renderRemote(now) {
    const el = this.el;
    const { remote, S } = now;
    const present = !!now.call;
    el.remoteMuted.hidden = !present || remote.audio;
    el.remoteCameraOff.hidden = !present || remote.video;
    el.remoteSharing.hidden = !present || !remote.screen;
    el.remoteName.hidden = !present || !remote.name;
    el.remoteName.textContent = remote.name;
    // With the other camera off (or none), a name and an initial where
    // the video would be, as on a phone call.
    const dark = present && now.state === "connected" && !remote.video;
    el.remotePlaceholder.hidden = !dark;
    el.remoteVideo.classList.toggle("dark", dark);
    // A WHIP publisher or WHEP player is no person: say what it is and
    // offer to send it away. A player sends no picture, so its
    // placeholder names it instead of "Them".
    const kind = present ? now.peerKind : "";
    el.peerKind.hidden = !kind;
    el.peerKindText.textContent = kind === "whip" ? S.peerKindWhip : kind === "whep" ? S.peerKindWhep : "";
    const kindName = kind === "whip" ? S.peerKindWhipName : kind === "whep" ? S.peerKindWhepName : "";
    el.remotePlaceholderName.textContent = remote.name || kindName || S.them;
    const initial = cleanText(remote.name, 64).charAt(0).toUpperCase();
    el.remoteInitial.replaceChildren(initial || icon(kind ? "screen" : "person"));
  }

  /** Sets the text an error state shows after its words. @param {string} text */
  setError(text) {
    this.errorText = text;
  }

  renderTimer() {
    const { state, connectedAt } = this.store.get();
    const on = connectedAt > 0 && (state === "connected" || state === "reconnecting" || state === "connecting");
    this.el.timer.hidden = !on;
    clearInterval(this.clock);
    this.clock = undefined;
    if (!on) return;
    const tick = () => {
      const sec = Math.max(0, Math.floor((Date.now() - connectedAt) / 1000));
      const h = Math.floor(sec / 3600);
      const mm = String(Math.floor((sec % 3600) / 60)).padStart(h ? 2 : 1, "0");
      const ss = String(sec % 60).padStart(2, "0");
      this.el.timer.textContent = (h ? h + ":" : "") + mm + ":" + ss;
    };
    tick();
    this.clock = setInterval(tick, 1000);
  }

  /**
   * The signal indicator: bars from the last connection info sample,
   * the figures in its tooltip and accessible name.
   * @param {{rttMs: number, lossPct: number} | null} sample
   */
  renderSignal(sample) {
    this.sample = sample;
    const { S, state } = this.store.get();
    const el = this.el;
    const level = signalLevel(sample);
    el.signal.hidden = !sample || (state !== "connected" && state !== "reconnecting");
    el.signal.dataset.level = String(level);
    const words = S.signal + ": " + S.signalLevels[level] + (sample ? ", " + S.signalDetail(Math.round(sample.rttMs), sample.lossPct) : "");
    el.signalText.textContent = words;
    el.signal.dataset.tip = words;
  }

  /** Self-view: sized to its own picture, so nothing is cropped; movable. */
  wireSelf() {
    const el = this.el;
    const v = el.localVideo;
    const fit = () => {
      if (v.videoWidth && v.videoHeight) el.self.style.aspectRatio = v.videoWidth + " / " + v.videoHeight;
    };
    v.addEventListener("loadedmetadata", fit);
    v.addEventListener("resize", fit);
    el.self.dataset.corner = "br";
    /** @type {{x: number, y: number, id: number} | null} */
    let drag = null;
    el.self.addEventListener("pointerdown", (/** @type {PointerEvent} */ ev) => {
      drag = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
      el.self.setPointerCapture(ev.pointerId);
      el.self.classList.add("dragging");
    });
    el.self.addEventListener("pointermove", (/** @type {PointerEvent} */ ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      el.self.style.translate = ev.clientX - drag.x + "px " + (ev.clientY - drag.y) + "px";
    });
    const drop = (/** @type {PointerEvent} */ ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      drag = null;
      el.self.classList.remove("dragging");
      el.self.style.translate = "";
      // Into the nearest corner of the stage.
      const r = el.stage.getBoundingClientRect();
      el.self.dataset.corner = (ev.clientY < r.top + r.height / 2 ? "t" : "b") + (ev.clientX < r.left + r.width / 2 ? "l" : "r");
    };
    el.self.addEventListener("pointerup", drop);
    el.self.addEventListener("pointercancel", drop);
    el.self.addEventListener("keydown", (/** @type {KeyboardEvent} */ ev) => {
      const c = el.self.dataset.corner;
      const next = { ArrowUp: "t" + c[1], ArrowDown: "b" + c[1], ArrowLeft: c[0] + "l", ArrowRight: c[0] + "r" }[ev.key];
      if (!next) return;
      ev.preventDefault();
      el.self.dataset.corner = next;
    });
  }

  /** Copy and Share of the room link. */
  wireShare() {
    const el = this.el;
    el.copy.addEventListener("click", async () => {
      const S = this.store.get().S;
      try {
        await navigator.clipboard.writeText(el.roomLink.value);
      } catch {
        el.roomLink.select(); // no clipboard API (plain http): select for the person
        return;
      }
      el.copy.textContent = S.copied;
      setTimeout(() => (el.copy.textContent = this.store.get().S.copy), 2000);
    });
    el.webShare.addEventListener("click", async () => {
      const S = this.store.get().S;
      try {
        await navigator.share({ title: S.title, text: S.shareText, url: el.roomLink.value });
      } catch (err) {
        console.info("share: " + err); // cancelled by the person, mostly
      }
    });
    el.signal.addEventListener("click", () => this.onSignalClick && this.onSignalClick());
  }
}
