// app.js — the page: which view to show, the call status, buttons and chat.
// The wire protocol lives in signaling.js, the peer connection in call.js,
// media in media.js and every visible string in strings.js; this file only
// ties them to the DOM.
//
// Test hook: window.duet (docs/ui.md). Tests read, never drive, through it:
//   window.duet.pc()       the current RTCPeerConnection, or null
//   window.duet.state()    the call state (the data-state of call-status)
//   window.duet.room()     the room id, "" on the home page
//   window.duet.chatOpen() whether the chat data channel is open
//   window.duet.media()    "audio-video", "audio-only", "video-only" or "receive-only"

import { Signaling, newRoomId, ROOM_RE, signalingURL } from "./signaling.js";
import { Call } from "./call.js";
import { getLocalMedia, stopMedia } from "./media.js";
import { reportCallOutcome } from "./report.js";
import { en } from "./strings.js";

/** @typedef {keyof typeof en.state} State */

const S = en;

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

const el = {
  status: $("status"),
  home: $("home"),
  call: $("call"),
  newCall: $("new-call"),
  joinForm: $("join-form"),
  joinCode: $("join-code"),
  joinError: $("join-error"),
  remoteVideo: $("remote-video"),
  localVideo: $("local-video"),
  notice: $("media-notice"),
  stage: $("stage"),
  chat: $("chat"),
  share: $("share"),
  roomLink: $("room-link"),
  copy: $("copy"),
  hangup: $("hangup"),
  rejoin: $("rejoin"),
  chatLog: $("chat-log"),
  chatForm: $("chat-form"),
  chatInput: $("chat-input"),
  chatSend: $("chat-send"),
};

const params = new URLSearchParams(location.search);
// ?relay=1 sends all media through TURN: for testing the relay path.
const relayOnly = params.get("relay") === "1";

/** @type {State} */
let state = "idle";
let room = "";
/** @type {Call|null} */
let call = null;
/** @type {Signaling|null} */
let signaling = null;
/** @type {import("./media.js").LocalMedia|null} */
let local = null;
/** What the last joined said: our role and the ICE servers to use. */
let session = { polite: false, /** @type {RTCIceServer[]} */ iceServers: [] };

window.duet = {
  pc: () => (call ? call.pc : null),
  state: () => state,
  room: () => room,
  chatOpen: () => !!call && call.chatOpen(),
  media: () => (local ? local.mode : ""),
};

/**
 * Shows a call state in call-status and sets which controls make sense.
 * @param {State} s
 * @param {string} [detail] appended to the state's text (for errors)
 */
function setState(s, detail = "") {
  // Logged for whoever debugs a call (and for test logs on failure).
  if (s !== state) console.info("duet: state " + state + " -> " + s);
  state = s;
  el.status.textContent = S.state[s] + detail;
  el.status.dataset.state = s;
  document.body.dataset.state = s;
  // After the call (hung up, refused) the videos and chat are gone; what
  // is left is the way back in, or to a new call.
  const over = s === "ended" || s === "room-full" || s === "error";
  el.hangup.hidden = over;
  el.rejoin.hidden = !over;
  el.rejoin.textContent = s === "ended" ? S.rejoin : S.retry;
  el.home.hidden = !over;
  el.stage.hidden = over;
  el.chat.hidden = over;
  el.share.hidden = over || s === "connected";
  if (over) el.notice.hidden = true;
}

function fillStrings() {
  document.title = S.title;
  $("title").textContent = S.title;
  $("tagline").textContent = S.tagline;
  el.newCall.textContent = S.newCall;
  $("join-label").textContent = S.joinLabel;
  el.joinCode.placeholder = S.joinPlaceholder;
  $("join-button").textContent = S.joinButton;
  $("share-label").textContent = S.shareLabel;
  el.copy.textContent = S.copy;
  el.hangup.textContent = S.hangup;
  el.rejoin.textContent = S.rejoin;
  $("chat-title").textContent = S.chatTitle;
  el.chatInput.placeholder = S.chatClosed;
  el.chatSend.textContent = S.chatSend;
}

/** Goes to a room page, keeping the query (such as ?relay=1). @param {string} id */
function goToRoom(id) {
  location.assign("/r/" + id + location.search);
}

/**
 * The room id in a code or a pasted link, or "".
 * @param {string} input
 */
function parseRoom(input) {
  const s = input.trim();
  const m = s.match(/\/r\/([A-Za-z0-9_-]{1,64})(?:[?#/]|$)/);
  if (m) return m[1];
  return ROOM_RE.test(s) ? s : "";
}

async function enterRoom() {
  el.call.hidden = false;
  el.roomLink.value = location.origin + "/r/" + room;
  setState("media");
  stopMedia(local && local.stream); // from before a rejoin
  local = await getLocalMedia();
  el.localVideo.srcObject = local.stream;
  el.localVideo.hidden = !local.stream || local.stream.getVideoTracks().length === 0;
  const why = mediaNotice(local);
  el.notice.textContent = why;
  el.notice.hidden = !why;
  connect();
}

/**
 * Why the person has less than camera and microphone, in words, or "".
 * @param {import("./media.js").LocalMedia} m
 */
function mediaNotice(m) {
  if (m.problem === "denied" || m.problem === "insecure" || m.problem === "in-use") return S.media[m.problem];
  if (m.mode === "receive-only") return S.media["no-device"];
  if (m.mode === "audio-only" || m.mode === "video-only") return S.media[m.mode];
  return "";
}

function connect() {
  signaling = new Signaling({
    url: signalingURL(location),
    room,
    onMessage,
    onStatus: (status) => {
      // Media flows peer to peer, so a connected call stays "connected"
      // while signaling reconnects behind it.
      if (status === "reconnecting" && state !== "connected" && state !== "server-gone") {
        setState("reconnecting");
      }
    },
  });
  setState("waiting");
  signaling.connect();
}

/** @param {{type: string, [key: string]: any}} msg */
function onMessage(msg) {
  switch (msg.type) {
    case "joined":
      session = { polite: !!msg.polite, iceServers: msg.iceServers || [] };
      if (msg.peerPresent) {
        peerArrived(msg.peer, !!msg.resumed);
      } else if (msg.resumed && call && (call.pc.connectionState === "connected" || call.outage)) {
        // We are back after a server restart before the other peer is:
        // the media still flows peer to peer, so keep the call; the peer
        // resumes too (peer-joined, same id) or the connection fails.
      } else {
        closeCall();
        if (state !== "peer-left") setState("waiting");
      }
      break;
    case "peer-joined":
      peerArrived(msg.peer, !!msg.resumed);
      break;
    case "peer-left":
      closeCall();
      setState("peer-left");
      break;
    case "description":
    case "candidate":
      if (call) call.handle(msg);
      break;
    case "error":
      onError(msg);
      break;
    case "bye":
      setState("server-gone");
      break;
  }
}

/** @param {{code: string, message: string, ref?: string}} msg */
function onError(msg) {
  if (msg.code === "room-full") {
    signaling && signaling.close();
    setState("room-full");
  } else if (msg.code === "too-many-connections" || msg.code === "over-capacity" || msg.code === "shutting-down") {
    // The server closes this connection itself; the socket then
    // reconnects with backoff, which is what these ask for.
    console.warn("signaling: " + msg.code + "; reconnecting");
  } else if (msg.code === "rate-limited" && msg.ref === "join") {
    // Not admitted, but the connection stays open: try again later.
    signaling && signaling.reconnect();
  } else if (msg.ref === "join") {
    signaling && signaling.close();
    setState("error", msg.message);
  } else {
    console.warn("signaling error", msg.code, msg.message);
  }
}

/**
 * The other peer is in the room. The same peer back from a signaling
 * outage keeps its connection; anyone else gets a fresh one.
 * @param {string} peerId
 * @param {boolean} resumed
 */
function peerArrived(peerId, resumed) {
  if (call && resumed && peerId && call.peerId === peerId) {
    call.peerBack(); // re-sends a cut offer, or restarts ICE (impolite side)
    call.connectionChanged();
    return;
  }
  closeCall();
  setState("connecting");
  const c = new Call({
    send: (m) => (signaling ? signaling.send(m) : false),
    polite: session.polite,
    iceServers: session.iceServers, // unchanged, as the server gave them
    relayOnly,
    localStream: local && local.stream,
    peerId,
    onTrack: (stream) => {
      if (el.remoteVideo.srcObject !== stream) el.remoteVideo.srcObject = stream;
      el.remoteVideo.play().catch(() => {
        // Autoplay refused (no camera, no gesture): let a tap start it.
        el.remoteVideo.controls = true;
      });
    },
    onState: (s) => call === c && callStateChanged(s),
    onChat: (text) => addChatLine("them", text),
    onChatOpen: (open) => call === c && setChatOpen(open),
  });
  call = c;
  reportCallOutcome(c.pc);
}

/** @param {import("./call.js").CallState} s */
function callStateChanged(s) {
  if (s === "connected") setState("connected");
  else if (s === "failed") setState("failed");
  else if (s === "reconnecting") setState("reconnecting"); // ICE restart under way
  else if (s === "new" || s === "connecting" || s === "disconnected") setState("connecting");
}

function closeCall() {
  if (!call) return;
  call.close();
  call = null;
  el.remoteVideo.srcObject = null;
  el.remoteVideo.controls = false;
  setChatOpen(false);
}

function hangUp() {
  if (signaling) signaling.leave();
  signaling = null;
  closeCall();
  stopMedia(local && local.stream);
  el.localVideo.srcObject = null;
  el.localVideo.hidden = true;
  setState("ended");
}

/** @param {boolean} open */
function setChatOpen(open) {
  el.chatInput.disabled = !open;
  el.chatSend.disabled = !open;
  el.chatInput.placeholder = open ? S.chatPlaceholder : S.chatClosed;
}

/**
 * Adds one line to the chat log; the text goes in as text, never HTML.
 * @param {"me"|"them"} who
 * @param {string} text
 */
function addChatLine(who, text) {
  const li = document.createElement("li");
  li.className = who;
  const name = document.createElement("span");
  name.className = "who";
  name.textContent = who === "me" ? S.me : S.them;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(name, body);
  el.chatLog.append(li);
  el.chatLog.scrollTop = el.chatLog.scrollHeight;
}

function wire() {
  el.newCall.addEventListener("click", () => goToRoom(newRoomId()));
  el.joinForm.addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const id = parseRoom(el.joinCode.value);
    el.joinError.textContent = id ? "" : S.badCode;
    el.joinError.hidden = !!id;
    if (id) goToRoom(id);
  });
  el.copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(el.roomLink.value);
    } catch {
      el.roomLink.select(); // no clipboard API (plain http): select for the person
      return;
    }
    el.copy.textContent = S.copied;
    setTimeout(() => (el.copy.textContent = S.copy), 2000);
  });
  el.hangup.addEventListener("click", hangUp);
  el.rejoin.addEventListener("click", () => {
    el.rejoin.hidden = true;
    enterRoom();
  });
  el.chatForm.addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const text = el.chatInput.value.trim();
    if (!text || !call) return;
    if (call.sendChat(text)) {
      addChatLine("me", text);
      el.chatInput.value = "";
    } else if (call.chatOpen()) {
      el.chatInput.setCustomValidity(S.chatTooLong);
      el.chatInput.reportValidity();
    }
  });
  el.chatInput.addEventListener("input", () => el.chatInput.setCustomValidity(""));
  // Tell the other side at once rather than after a timeout; the socket's
  // close frame would too, but leave says it explicitly.
  window.addEventListener("pagehide", () => signaling && signaling.leave());
  // Back from the back-forward cache the page has left its room; start over.
  window.addEventListener("pageshow", (ev) => ev.persisted && room && location.reload());
}

function main() {
  fillStrings();
  wire();
  const m = location.pathname.match(/^\/r\/([^/]+)$/);
  if (m && ROOM_RE.test(m[1])) {
    room = m[1];
    enterRoom();
  } else {
    setState("idle");
    el.home.hidden = false;
    el.hangup.hidden = true;
  }
}

main();
