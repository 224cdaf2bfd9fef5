// files.js — sending and receiving files over the "chat" data channel
// (docs/protocol.md, "Files"). No DOM: the app draws each transfer from
// onUpdate.
//
// One file at a time in each direction: a file-offer, then the bytes as
// binary messages in order (the channel is ordered and reliable), then a
// file-end with the SHA-256 of the whole file, which the receiver checks.
// Either side may send file-cancel. The sender keeps at most HIGH_WATER
// bytes queued in the channel and waits for bufferedamountlow before
// sending more, so a big file never fills the browser's buffer (which
// closes the channel in Chromium) and chat lines still get through.

import { cleanText } from "./text.js";

/** Bytes of file data per binary message; 16 KiB crosses every browser. */
export const CHUNK = 16 * 1024;
/** Pause sending while more than this is queued in the channel. */
const HIGH_WATER = 1024 * 1024;
/** Resume when the queue drains to this (bufferedAmountLowThreshold). */
const LOW_WATER = 256 * 1024;
/** Largest file either side sends or accepts: it is held in memory whole. */
export const MAX_FILE = 256 * 1024 * 1024;
/**
 * Most files taken from the other side in one connection. Each stays
 * listed (and savable) until the call ends, so a peer that floods
 * file-offer messages must meet a limit; later offers are cancelled.
 */
export const MAX_INCOMING = 200;
/** Longest file name kept, in characters. */
const MAX_NAME = 255;
/**
 * The type every received file gets, whatever the sender said: a blob:
 * URL belongs to duet's origin, so a received text/html or SVG file
 * opened from it would run its script there (with duet's storage and
 * camera permission, and without its CSP). As octet-stream it can only
 * be saved. The sender's type is kept in the transfer, for show.
 */
export const RECEIVED_TYPE = "application/octet-stream";

/**
 * @typedef {"active"|"verifying"|"done"|"bad"|"cancelled"} TransferState
 * @typedef {{
 *   id: string, dir: "out"|"in", name: string, size: number, mime: string,
 *   done: number, state: TransferState, sha256: string, url: string,
 * }} Transfer
 */

/** @param {ArrayBuffer} buf */
async function sha256Hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function newId() {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class Files {
  /**
   * @param {RTCDataChannel} channel the open "chat" channel
   * @param {(t: Transfer) => void} onUpdate called on every change of a transfer
   */
  constructor(channel, onUpdate) {
    this.ch = channel;
    this.ch.binaryType = "arraybuffer";
    this.ch.bufferedAmountLowThreshold = LOW_WATER;
    this.onUpdate = onUpdate;
    /** @type {Map<string, Transfer>} every transfer of this connection */
    this.all = new Map();
    /** Offers taken from the other side so far (see MAX_INCOMING). */
    this.incoming = 0;
    /** @type {{t: Transfer, file: Blob}[]} files waiting to be sent */
    this.queue = [];
    /** @type {Transfer|null} */
    this.sending = null;
    /** @type {Transfer|null} the file whose bytes are arriving */
    this.receiving = null;
    /** @type {Uint8Array[]} */
    this.parts = [];
    this.closed = false;
  }

  /**
   * Queues a file to send; returns its transfer, or null if too big.
   * @param {File} file
   */
  send(file) {
    if (file.size > MAX_FILE) return null;
    /** @type {Transfer} */
    const t = {
      id: newId(), dir: "out", name: cleanText(file.name, MAX_NAME) || "file", size: file.size,
      mime: file.type || "", done: 0, state: "active", sha256: "", url: "",
    };
    this.all.set(t.id, t);
    this.queue.push({ t, file });
    this.onUpdate(t);
    if (!this.sending) this.pump();
    return t;
  }

  async pump() {
    while (this.queue.length && !this.closed) {
      const next = /** @type {{t: Transfer, file: Blob}} */ (this.queue.shift());
      if (next.t.state !== "active") continue; // cancelled while queued
      this.sending = next.t;
      try {
        await this.sendOne(next.t, next.file);
      } catch (err) {
        console.warn("files: sending " + next.t.name + " stopped", err);
        this.finish(next.t, "cancelled");
      }
      this.sending = null;
    }
  }

  /** @param {Transfer} t @param {Blob} file */
  async sendOne(t, file) {
    const buf = await file.arrayBuffer();
    // Cancelled while reading: the other side has heard of nothing yet
    // (its file-cancel named an id it did not know, and was ignored).
    if (t.state !== "active" || this.closed) return;
    // Hash while the bytes go out; the digest is needed only at the end.
    const hash = sha256Hex(buf);
    this.json({ type: "file-offer", id: t.id, name: t.name, size: t.size, mime: t.mime });
    for (let off = 0; off < buf.byteLength; off += CHUNK) {
      if (t.state !== "active" || this.closed) return;
      if (this.ch.bufferedAmount > HIGH_WATER) await this.drained();
      if (t.state !== "active" || this.closed) return;
      this.ch.send(new Uint8Array(buf, off, Math.min(CHUNK, buf.byteLength - off)));
      t.done = Math.min(off + CHUNK, buf.byteLength);
      this.onUpdate(t);
    }
    t.sha256 = await hash;
    if (t.state !== "active" || this.closed) return;
    this.json({ type: "file-end", id: t.id, sha256: t.sha256 });
    this.finish(t, "done");
  }

  /** Resolves when the channel's queue is low again, or it closed. */
  drained() {
    return new Promise((resolve) => {
      const done = () => {
        this.ch.removeEventListener("bufferedamountlow", done);
        this.ch.removeEventListener("close", done);
        resolve(undefined);
      };
      this.ch.addEventListener("bufferedamountlow", done);
      this.ch.addEventListener("close", done);
    });
  }

  /**
   * Handles a file message from the other side; false if msg is not one.
   * @param {any} msg a parsed JSON message of the channel
   */
  handle(msg) {
    switch (msg.type) {
      case "file-offer":
        this.offered(msg);
        return true;
      case "file-end":
        this.ended(msg);
        return true;
      case "file-cancel": {
        const t = typeof msg.id === "string" ? this.all.get(msg.id) : undefined;
        if (t && (t.state === "active" || t.state === "verifying")) this.finish(t, "cancelled");
        if (t && t === this.receiving) this.dropReceiving();
        return true;
      }
    }
    return false;
  }

  /** @param {any} msg */
  offered(msg) {
    if (this.receiving) {
      // A new offer while one is under way means the other side gave the
      // old one up without saying so: it is cancelled.
      this.finish(this.receiving, "cancelled");
      this.dropReceiving();
    }
    const ok = typeof msg.id === "string" && msg.id.length > 0 && msg.id.length <= 64 && !this.all.has(msg.id) &&
      Number.isSafeInteger(msg.size) && msg.size >= 0 && msg.size <= MAX_FILE && this.incoming < MAX_INCOMING;
    if (!ok) {
      if (typeof msg.id === "string") this.json({ type: "file-cancel", id: msg.id.slice(0, 64) });
      return;
    }
    /** @type {Transfer} */
    const t = {
      id: msg.id, dir: "in", name: (typeof msg.name === "string" && cleanText(msg.name, MAX_NAME)) || "file",
      size: msg.size, mime: typeof msg.mime === "string" ? cleanText(msg.mime, 100) : "",
      done: 0, state: "active", sha256: "", url: "",
    };
    this.all.set(t.id, t);
    this.incoming++;
    this.receiving = t;
    this.parts = [];
    this.onUpdate(t);
  }

  /**
   * Bytes of the file being received; ignored when there is none (the
   * tail of a cancelled file).
   * @param {ArrayBuffer} data
   */
  handleBinary(data) {
    const t = this.receiving;
    if (!t || !(data instanceof ArrayBuffer)) return;
    if (t.done + data.byteLength > t.size) {
      this.cancel(t.id); // more than offered: not the file we were told of
      return;
    }
    this.parts.push(new Uint8Array(data));
    t.done += data.byteLength;
    this.onUpdate(t);
  }

  /** @param {any} msg */
  async ended(msg) {
    const t = this.receiving;
    if (!t || msg.id !== t.id) return;
    const parts = this.parts;
    this.dropReceiving();
    if (t.done !== t.size) {
      this.finish(t, "bad");
      return;
    }
    t.state = "verifying";
    this.onUpdate(t);
    const blob = new Blob(/** @type {BlobPart[]} */ (parts), { type: RECEIVED_TYPE });
    t.sha256 = await sha256Hex(await blob.arrayBuffer());
    if (t.state !== "verifying") return; // cancelled meanwhile
    const good = typeof msg.sha256 === "string" && msg.sha256.toLowerCase() === t.sha256;
    if (good) t.url = URL.createObjectURL(blob);
    this.finish(t, good ? "done" : "bad");
  }

  /** Cancels a transfer of either direction and tells the other side. @param {string} id */
  cancel(id) {
    const t = this.all.get(id);
    if (!t || (t.state !== "active" && t.state !== "verifying")) return;
    this.json({ type: "file-cancel", id });
    if (t === this.receiving) this.dropReceiving();
    this.finish(t, "cancelled");
  }

  dropReceiving() {
    this.receiving = null;
    this.parts = [];
  }

  /** @param {Transfer} t @param {TransferState} state */
  finish(t, state) {
    t.state = state;
    this.onUpdate(t);
  }

  /** @param {object} msg */
  json(msg) {
    if (this.ch.readyState === "open") this.ch.send(JSON.stringify(msg));
  }

  /** The connection is gone: whatever is under way is cancelled. */
  close() {
    this.closed = true;
    for (const t of this.all.values()) {
      if (t.state === "active" || t.state === "verifying") this.finish(t, "cancelled");
    }
    this.dropReceiving();
    this.queue = [];
  }
}
