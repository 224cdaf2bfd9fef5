// store.js — the one owner of the app's state. Every part of the screen
// reads the state from here and changes it only through set(); whoever
// must react to a change subscribes. No DOM here.
//
// What is plain data (the call state, the room, the other side's media,
// which panel is open, unread lines) and the live objects of a call (the
// Call, the Signaling, the local media, the file transfers) all live in
// the one state object, so no module keeps a copy that could go stale.

/**
 * @typedef {import("./strings.js").Strings} Strings
 * @typedef {keyof Strings["state"]} CallState
 * @typedef {"" | "chat" | "devices" | "stats"} Panel
 * @typedef {{
 *   state: CallState,
 *   room: string,
 *   joined: boolean,
 *   peerKind: "" | "whip" | "whep",
 *   polite: boolean,
 *   iceServers: RTCIceServer[],
 *   S: Strings,
 *   remote: {audio: boolean, video: boolean, screen: boolean, name: string},
 *   panel: Panel,
 *   unread: number,
 *   chatOpen: boolean,
 *   connectedAt: number,
 *   verify: string,
 *   music: boolean,
 *   call: import("./call.js").Call | null,
 *   signaling: import("./signaling.js").Signaling | null,
 *   local: import("./media.js").LocalMedia | null,
 *   files: import("./files.js").Files | null,
 * }} AppState
 */

/** @template T */
export class Store {
  /** @param {T} initial */
  constructor(initial) {
    /** @type {T} */
    this.state = initial;
    /** @type {Set<(now: T, before: T) => void>} */
    this.subs = new Set();
  }

  /** @returns {T} */
  get() {
    return this.state;
  }

  /**
   * Changes some fields and tells every subscriber, with the state before.
   * @param {Partial<T>} patch
   */
  set(patch) {
    const before = this.state;
    this.state = { ...before, ...patch };
    for (const f of this.subs) f(this.state, before);
  }

  /**
   * Calls f on every change; returns the way to stop.
   * @param {(now: T, before: T) => void} f
   */
  subscribe(f) {
    this.subs.add(f);
    return () => this.subs.delete(f);
  }
}

/** Nothing is known of the other side until it says so. */
export const NO_REMOTE = Object.freeze({ audio: true, video: true, screen: false, name: "" });
