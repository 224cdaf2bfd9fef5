// wakelock.js — keeps a phone's screen on while a call is connected (the
// Screen Wake Lock API), as a phone call does. The browser drops the lock
// when the page is hidden; it is asked for again when the page is back.

export class WakeLock {
  constructor() {
    /** @type {any} the WakeLockSentinel */
    this.sentinel = null;
    this.wanted = false;
    /** "", "held", "released", "refused" or "unsupported": for window.duet. */
    this.status = "";
    document.addEventListener("visibilitychange", () => {
      if (this.wanted && document.visibilityState === "visible" && !this.sentinel) this.acquire();
    });
  }

  /** @param {boolean} on whether the call wants the screen kept on */
  async want(on) {
    if (on === this.wanted) return;
    this.wanted = on;
    if (on) await this.acquire();
    else await this.release();
  }

  async acquire() {
    const wl = /** @type {any} */ (navigator).wakeLock;
    if (!wl) {
      this.status = "unsupported";
      return;
    }
    try {
      const s = await wl.request("screen");
      if (!this.wanted) {
        s.release();
        return;
      }
      this.sentinel = s;
      this.status = "held";
      s.addEventListener("release", () => {
        if (this.sentinel === s) this.sentinel = null;
        this.status = "released";
      });
    } catch (err) {
      // Not allowed (battery saver, a hidden page): the call goes on.
      this.status = "refused";
      console.info("wake lock: " + err);
    }
  }

  async release() {
    const s = this.sentinel;
    this.sentinel = null;
    if (s) await s.release();
  }
}
