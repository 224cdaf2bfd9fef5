// call.js — one RTCPeerConnection with the other peer, negotiated with the
// perfect negotiation pattern (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example)
// so that it works whichever peer joins first and when either reloads, plus
// the "chat" data channel of docs/protocol.md. No DOM here: the app gives
// callbacks and a send function.

/** Largest chat text, in UTF-8 bytes (docs/protocol.md). */
export const MAX_CHAT_BYTES = 16 * 1024;

/** How long a polite peer waits for the first offer before making one. */
const FIRST_OFFER_WAIT_MS = 3000;

/**
 * @typedef {"new"|"connecting"|"connected"|"disconnected"|"failed"|"closed"} CallState
 * @typedef {{
 *   send: (msg: {type: string, [key: string]: any}) => boolean,
 *   polite: boolean,
 *   iceServers: RTCIceServer[],
 *   relayOnly?: boolean,
 *   localStream?: MediaStream|null,
 *   peerId?: string,
 *   onTrack?: (stream: MediaStream) => void,
 *   onState?: (state: CallState) => void,
 *   onChat?: (text: string) => void,
 *   onChatOpen?: (open: boolean) => void,
 * }} CallOptions
 */

/**
 * Call is one peer connection. Make a new one for every new remote peer;
 * close it when that peer leaves.
 */
export class Call {
  /** @param {CallOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.polite = opts.polite;
    this.peerId = opts.peerId || "";
    this.closed = false;
    // Perfect negotiation state.
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.restarted = false;
    this.waitedForOffer = false;
    // Incoming descriptions and candidates are handled one at a time, in
    // order, so a candidate never overtakes the offer it belongs to.
    /** @type {Promise<void>} */
    this.inbox = Promise.resolve();
    /** @type {MediaStream} */
    this.remoteStream = new MediaStream();

    /** @type {RTCConfiguration} */
    const config = { iceServers: opts.iceServers || [] };
    if (opts.relayOnly) config.iceTransportPolicy = "relay";
    this.pc = new RTCPeerConnection(config);

    // Pre-negotiated on both sides with the same id: no ondatachannel,
    // and it works whichever side offers first.
    this.chat = this.pc.createDataChannel("chat", { negotiated: true, id: 0 });
    this.chat.onopen = () => opts.onChatOpen && opts.onChatOpen(true);
    this.chat.onclose = () => opts.onChatOpen && opts.onChatOpen(false);
    this.chat.onmessage = (ev) => this.receiveChat(ev.data);

    this.pc.onnegotiationneeded = () => this.negotiate();
    this.pc.onicecandidate = ({ candidate }) => {
      // null ends the candidates; the protocol spells that as "".
      opts.send({ type: "candidate", candidate: candidate ? candidate.toJSON() : { candidate: "" } });
    };
    this.pc.ontrack = (ev) => {
      const stream = ev.streams[0];
      if (stream) {
        this.remoteStream = stream;
      } else if (!this.remoteStream.getTracks().includes(ev.track)) {
        this.remoteStream.addTrack(ev.track);
      }
      opts.onTrack && opts.onTrack(this.remoteStream);
    };
    this.pc.onconnectionstatechange = () => this.connectionChanged();

    const local = opts.localStream;
    if (local) for (const track of local.getTracks()) this.pc.addTrack(track, local);
  }

  async negotiate() {
    // The first offer comes from the impolite peer. When both offered at
    // once, the polite peer rolled back its first offer as the pattern
    // says, and Chromium 156 then gathered no candidates for a connection
    // with only the data channel: the call never connected (seen in
    // e2e). So the polite peer waits for the first offer, and offers
    // itself only if none has come after a while (a lost message); a
    // collision then is still resolved by the pattern.
    if (this.polite && !this.pc.remoteDescription && !this.waitedForOffer) {
      this.waitedForOffer = true;
      setTimeout(() => {
        if (!this.closed && !this.pc.remoteDescription && this.pc.signalingState === "stable") {
          this.negotiate();
        }
      }, FIRST_OFFER_WAIT_MS);
      return;
    }
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      if (this.closed) return;
      this.opts.send({ type: "description", description: this.pc.localDescription });
    } catch (err) {
      console.error("call: making an offer failed", err);
    } finally {
      this.makingOffer = false;
    }
  }

  connectionChanged() {
    const state = /** @type {CallState} */ (this.pc.connectionState);
    if (state === "connected") this.restarted = false;
    if (state === "failed" && !this.restarted) {
      // One ICE restart per failure: a network change may have broken
      // the path; negotiationneeded sends the new offer.
      this.restarted = true;
      this.pc.restartIce();
    }
    this.opts.onState && this.opts.onState(state);
  }

  /**
   * Handles a description or candidate message from the other peer.
   * @param {{type: string, description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} msg
   * @returns {Promise<void>}
   */
  handle(msg) {
    this.inbox = this.inbox.then(() => this.handleNow(msg)).catch((err) => {
      console.error("call: handling " + msg.type + " failed", err);
    });
    return this.inbox;
  }

  /** @param {{type: string, description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} msg */
  async handleNow(msg) {
    if (this.closed) return;
    const pc = this.pc;
    if (msg.type === "description" && msg.description) {
      const desc = msg.description;
      const readyForOffer =
        !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = desc.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = desc.type === "answer";
      try {
        await pc.setRemoteDescription(desc); // a polite peer rolls back here
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (desc.type === "offer") {
        await pc.setLocalDescription();
        if (this.closed) return;
        this.opts.send({ type: "description", description: pc.localDescription });
      }
    } else if (msg.type === "candidate" && msg.candidate) {
      try {
        await pc.addIceCandidate(msg.candidate);
      } catch (err) {
        // Candidates of an offer we ignored fail; that is expected.
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  /** Restarts ICE, for when the other peer is back after an outage. */
  restartIce() {
    if (!this.closed) this.pc.restartIce();
  }

  /**
   * Sends a chat line over the data channel.
   * @param {string} text
   * @returns {boolean} false if the channel is not open or the text too long
   */
  sendChat(text) {
    if (this.chat.readyState !== "open") return false;
    if (new TextEncoder().encode(text).length > MAX_CHAT_BYTES) return false;
    this.chat.send(JSON.stringify({ type: "text", text }));
    return true;
  }

  /** @param {any} data */
  receiveChat(data) {
    if (typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn("chat: ignoring a message that is not JSON");
      return;
    }
    // Unknown types are ignored so that either side may be newer.
    if (msg && msg.type === "text" && typeof msg.text === "string") {
      this.opts.onChat && this.opts.onChat(msg.text.slice(0, MAX_CHAT_BYTES));
    }
  }

  /** @returns {boolean} whether the chat channel is open */
  chatOpen() {
    return this.chat.readyState === "open";
  }

  /** Closes the peer connection; the local tracks stay (they are the app's). */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.chat.onopen = this.chat.onclose = this.chat.onmessage = null;
    this.pc.close();
  }
}
