// signaling.js — duet's signaling protocol (docs/protocol.md) over one
// WebSocket: join a room, send and receive messages, and reconnect with the
// resume token when the connection drops. No DOM and no WebRTC here, so the
// UI and the call logic can change without touching the wire.

/** The protocol version this app speaks; the server refuses others. */
export const PROTOCOL_VERSION = 1;

/** Room ids: 1–64 characters of the URL-safe base64 alphabet. */
export const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A fresh room id: 16 random bytes (128 bits) as unpadded URL-safe base64,
 * 22 characters. Unguessable, so the link is the only key to the room.
 * @returns {string}
 */
export function newRoomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * @typedef {{type: string, [key: string]: any}} Message
 * @typedef {"connecting"|"open"|"reconnecting"|"closed"} SocketStatus
 * @typedef {{
 *   url: string,
 *   room: string,
 *   onMessage: (msg: Message) => void,
 *   onStatus?: (status: SocketStatus) => void,
 * }} SignalingOptions
 */

/**
 * Signaling is one peer's connection to the server for one room. It sends
 * join on every (re)connection, with the last resume token so that the
 * server gives back the same place and the other peer sees no leave.
 */
export class Signaling {
  /** @param {SignalingOptions} opts */
  constructor(opts) {
    this.url = opts.url;
    this.room = opts.room;
    this.onMessage = opts.onMessage;
    this.onStatus = opts.onStatus || (() => {});
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {string} the resume token of the last joined, in memory only:
     * a reloaded page is a new peer with a new connection, not a resume. */
    this.resume = "";
    this.attempt = 0;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.timer = undefined;
    /** preconnect was called and join not yet: the socket opens, nothing is sent. */
    this.held = false;
  }

  /**
   * Opens the WebSocket without joining; join() then joins on it. The
   * handshake (TCP, TLS, the upgrade: a round trip each) so overlaps
   * whatever the app does first, such as starting the camera. A socket
   * that closes while held (the server closes one that does not join
   * within seconds) is not reconnected: join() opens a new one.
   */
  preconnect() {
    this.held = true;
    this.connect();
  }

  /** Joins the room on the socket preconnect opened, or on a new one. */
  join() {
    this.held = false;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) this.sendJoin();
    else if (!ws || ws.readyState > WebSocket.OPEN) this.connect();
    // Still connecting: onopen joins.
  }

  sendJoin() {
    /** @type {Message} */
    const join = { type: "join", v: PROTOCOL_VERSION, room: this.room };
    if (this.resume) join.resume = this.resume;
    this.sendRaw(join);
  }

  /** Opens the WebSocket and joins the room. */
  connect() {
    this.stopped = false;
    clearTimeout(this.timer);
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      if (!this.held) this.sendJoin();
    };
    // bye is the server's last word on a connection (docs/protocol.md):
    // anything after it, such as a peer-left caused by the other peer's
    // socket closing in the same shutdown, is not about the room we will
    // resume, so it is ignored.
    let byeSeen = false;
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string" || byeSeen) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (err) {
        console.error("signaling: bad JSON from server", err);
        return;
      }
      if (!msg || typeof msg.type !== "string") return;
      if (msg.type !== "candidate") console.debug("signaling: <- " + msg.type);
      if (msg.type === "joined") {
        this.resume = msg.resume || "";
        this.attempt = 0;
        this.onStatus("open");
      } else if (msg.type === "bye") {
        byeSeen = true;
        // "replaced": a newer connection of ours holds the place; coming
        // back would only push it out again.
        if (msg.reason === "replaced") this.stopped = true;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      console.debug("signaling: socket closed, code " + ev.code);
      if (this.ws !== ws) return; // an old socket we already replaced
      this.ws = null;
      if (this.held && !this.stopped) return; // join() connects again
      if (this.stopped) {
        this.onStatus("closed");
        return;
      }
      this.scheduleReconnect();
    };
    // onerror is always followed by onclose, which does the work.
    ws.onerror = () => {};
  }

  /** Exponential backoff with jitter: 0.5 s doubling to 10 s, ±50 %. */
  scheduleReconnect() {
    const base = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt++;
    const delay = base * (0.5 + Math.random());
    this.onStatus("reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Sends a message to the server (and through it to the other peer).
   * Returns false if the socket is not open; the message is then lost,
   * which perfect negotiation tolerates (the next negotiation repairs it).
   * @param {Message} msg
   * @returns {boolean}
   */
  send(msg) {
    return this.sendRaw(msg);
  }

  /** @param {Message} msg */
  sendRaw(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Leaves the room for good: sends leave so the other peer hears at once,
   * then closes the socket with a close frame and stops reconnecting.
   */
  leave() {
    this.sendRaw({ type: "leave" });
    this.close();
  }

  /** Drops the socket and connects again after the usual backoff. */
  reconnect() {
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "retry");
  }

  /** Closes the socket and stops reconnecting, without a leave. */
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "bye");
  }
}

/**
 * The WebSocket URL of the signaling endpoint of the server that served the
 * page.
 * @param {Location} loc
 * @returns {string}
 */
export function signalingURL(loc) {
  return (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + "/ws";
}
