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
 * ICE restart (docs/protocol.md, "ICE restart"; the Go SDK keeps the same
 * rule): a connection that had connected and is then disconnected for
 * this long, or failed, gets an ICE restart from the impolite peer.
 */
export const ICE_RESTART_GRACE_MS = 3000;
/** An outage not repaired after this long is reported as failed. */
export const ICE_RESTART_GIVE_UP_MS = 30000;

/**
 * @typedef {"new"|"connecting"|"connected"|"disconnected"|"failed"|"closed"|"reconnecting"} CallState
 * "reconnecting" is the call's own: a connection that had connected lost
 * its path and ICE is being restarted (see connectionChanged).
 * @typedef {{
 *   send: (msg: {type: string, [key: string]: any}) => boolean,
 *   polite: boolean,
 *   iceServers: RTCIceServer[],
 *   relayOnly?: boolean,
 *   localStream?: MediaStream|null,
 *   peerId?: string,
 *   answerOnly?: boolean,
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
    this.waitedForOffer = false;
    // ICE restart state: see connectionChanged.
    this.wasConnected = false;
    this.outage = false;
    this.lastRestart = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.graceTimer = undefined;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.giveUpTimer = undefined;
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
    // What the app shows is a stream of its own holding the receivers'
    // tracks, not the browser's ev.streams: a rollback or a renegotiation
    // may re-associate those streams (the track leaves the stream the
    // video element shows, and no track event says so), while a
    // receiver's track stays the same for the life of its transceiver.
    this.pc.ontrack = () => this.syncRemote();
    this.pc.onsignalingstatechange = () => {
      if (this.pc.signalingState === "stable") this.syncRemote();
    };
    this.pc.onconnectionstatechange = () => this.connectionChanged();

    const local = opts.localStream;
    if (local) for (const track of local.getTracks()) this.pc.addTrack(track, local);
  }

  /**
   * Makes remoteStream hold exactly the tracks the connection receives
   * (live receivers of negotiated transceivers whose current direction
   * receives), and tells the app when that set changed; a new set is a new
   * stream, so the video element always binds afresh. A transceiver that
   * was never negotiated counts as not receiving: its receiver's track is
   * "live" but never gets a frame, and a video element given two video
   * tracks shows the first. That happens whenever the other side offers
   * send-only (a WHIP publisher): JSEP gives such an m-line a new
   * transceiver rather than the one addTrack made, which stays unused.
   */
  syncRemote() {
    if (this.closed) return;
    const tracks = this.pc.getTransceivers()
      .filter((t) => !t.stopped && t.mid !== null &&
        (t.currentDirection === "recvonly" || t.currentDirection === "sendrecv"))
      .map((t) => t.receiver.track)
      .filter((t) => t && t.readyState === "live");
    const had = this.remoteStream.getTracks();
    const same = had.length === tracks.length && tracks.every((t) => had.includes(t));
    if (same && had.length > 0) return;
    if (!same) this.remoteStream = new MediaStream(tracks);
    if (tracks.length && this.opts.onTrack) this.opts.onTrack(this.remoteStream);
  }

  async negotiate() {
    // The other place is a WHIP publisher or WHEP player (peerKind in
    // docs/protocol.md): it sent its offer over HTTP and cannot take one,
    // so this side answers and never offers (the server would refuse it).
    if (this.opts.answerOnly) return;
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

  /**
   * Follows the connection state. A connection that never connected and
   * fails is reported as failed: a restart would gather the same
   * candidates. One that had connected is in an outage until it connects
   * again: it shows as "reconnecting", the impolite peer restarts ICE
   * when the connection fails or stays disconnected for the grace, and
   * after the give-up time the outage is reported as failed.
   */
  connectionChanged() {
    const state = /** @type {CallState} */ (this.pc.connectionState);
    if (state === "connected") {
      this.wasConnected = true;
      this.endOutage();
    } else if ((state === "disconnected" || state === "failed") && this.wasConnected) {
      if (!this.outage) {
        this.outage = true;
        this.graceTimer = setTimeout(() => this.restartIce(), ICE_RESTART_GRACE_MS);
        this.giveUpTimer = setTimeout(() => {
          if (this.closed || !this.outage) return;
          console.warn("call: the connection did not come back; giving up");
          this.endOutage();
          this.opts.onState && this.opts.onState("failed");
        }, ICE_RESTART_GIVE_UP_MS);
      }
      if (state === "failed") this.restartIce();
    }
    const shown = this.outage && state !== "closed" ? "reconnecting" : state;
    this.opts.onState && this.opts.onState(shown);
  }

  endOutage() {
    this.outage = false;
    clearTimeout(this.graceTimer);
    clearTimeout(this.giveUpTimer);
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

  /**
   * Restarts ICE during an outage, if this peer is the one to: the
   * impolite peer, as the protocol says, so the two never collide on
   * restart offers (a polite Go peer cannot roll one back). The polite
   * peer waits for that offer. Restarts are at least the grace apart, so
   * one that fails again is retried, not stormed; negotiationneeded sends
   * the offer.
   */
  restartIce() {
    // A WHIP/WHEP client restarts ICE itself (HTTP PATCH); an offer
    // from here could not reach it.
    if (this.closed || !this.outage || this.polite || this.opts.answerOnly) return;
    const wait = this.lastRestart + ICE_RESTART_GRACE_MS - Date.now();
    if (wait > 0) {
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => this.restartIce(), wait);
      return;
    }
    this.lastRestart = Date.now();
    console.info("call: restarting ICE");
    this.pc.restartIce();
  }

  /**
   * The same peer is back in the room after a signaling outage (of either
   * side). What the outage may have cut is picked up again: an offer of
   * ours still unanswered is sent again (the server may have lost it or
   * its answer), and an interrupted path gets its ICE restart.
   */
  peerBack() {
    if (this.closed) return;
    if (this.pc.signalingState === "have-local-offer" && this.pc.localDescription) {
      this.opts.send({ type: "description", description: this.pc.localDescription });
      return;
    }
    this.restartIce();
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
    this.endOutage();
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onsignalingstatechange = null;
    this.pc.onconnectionstatechange = null;
    this.chat.onopen = this.chat.onclose = this.chat.onmessage = null;
    this.pc.close();
  }
}
