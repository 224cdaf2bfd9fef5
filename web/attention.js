// attention.js — so a call in a background tab is never missed: while the
// page is hidden, the other person joining or writing plays a short
// chime (made here with Web Audio: no sound file), puts the count in the
// title ("(1) duet") and, if the person turned it on with a click, shows
// a system notification. Nothing of it while the page is visible, and
// the title comes back as soon as it is.

const NOTIFY_KEY = "duet.notify";

export class Attention {
  /** @param {() => import("./strings.js").Strings} strings */
  constructor(strings) {
    this.strings = strings;
    this.count = 0;
    /** @type {AudioContext|null} */
    this.audio = null;
    this.notify = false;
    try {
      this.notify = localStorage.getItem(NOTIFY_KEY) === "on";
    } catch {
      // No storage: off.
    }
  }

  /** Whether the page is out of sight (another tab, minimised, locked). */
  hidden() {
    return document.visibilityState === "hidden";
  }

  /** The title the page has when nothing waits for the person. */
  baseTitle() {
    return this.strings().title;
  }

  /** Puts the right title on the page (also after a language switch). */
  renderTitle() {
    document.title = this.count > 0 ? this.strings().attentionTitle(this.count) : this.baseTitle();
  }

  /**
   * Something happened the person should know of: a join or a chat line.
   * @param {"joined"|"chat"} what
   */
  alert(what) {
    if (!this.hidden()) return;
    this.count++;
    this.renderTitle();
    this.chime();
    if (this.notify && "Notification" in window && Notification.permission === "granted") {
      const S = this.strings();
      try {
        const n = new Notification(S.title, { body: what === "joined" ? S.notifyJoined : S.notifyChat, tag: "duet", icon: "/icon-192.png" });
        n.onclick = () => {
          window.focus();
          n.close();
        };
      } catch (err) {
        console.info("notification: " + err); // Android wants a service worker's
      }
    }
  }

  /** Two short sine tones, soft at both ends so they do not click. */
  chime() {
    try {
      if (!this.audio) this.audio = new AudioContext();
      const ctx = this.audio;
      if (ctx.state === "suspended") ctx.resume();
      const t0 = ctx.currentTime + 0.01;
      for (const [i, freq] of [660, 880].entries()) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        const t = t0 + i * 0.16;
        gain.gain.setValueAtTime(0, t);
        gain.gain.linearRampToValueAtTime(0.2, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.001, t + 0.3);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t);
        osc.stop(t + 0.32);
      }
    } catch (err) {
      console.info("chime: " + err);
    }
  }

  /**
   * Notifications on or off, from the person's click (browsers ask for
   * the permission only from a click).
   * @returns {Promise<boolean>} whether they are on
   */
  async toggleNotify() {
    if (this.notify) {
      this.notify = false;
    } else if ("Notification" in window) {
      const p = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
      this.notify = p === "granted";
    }
    try {
      localStorage.setItem(NOTIFY_KEY, this.notify ? "on" : "off");
    } catch {
      // Not remembered.
    }
    return this.notify;
  }

  /** Whether notifications can be had at all here. */
  notifyBlocked() {
    return !("Notification" in window) || Notification.permission === "denied";
  }

  wire() {
    document.addEventListener("visibilitychange", () => {
      if (this.hidden()) return;
      this.count = 0;
      this.renderTitle();
    });
    // Browsers start an AudioContext only after a gesture on the page: make
    // it on the first one, so a chime later in a hidden tab can play.
    const unlock = () => {
      if (!this.audio) {
        try {
          this.audio = new AudioContext();
        } catch {
          return;
        }
      }
      if (this.audio.state === "suspended") this.audio.resume();
    };
    document.addEventListener("pointerdown", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });
  }
}
