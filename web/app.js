// app.js — the page: which view to show, the call status, buttons and chat.
// The wire protocol lives in signaling.js, the peer connection in call.js,
// media in media.js and every visible string in strings.js; this file only
// ties them to the DOM.
//
// Test hook: window.duet (docs/ui.md). Tests read, never drive, through it:
//   window.duet.pc()       the current RTCPeerConnection, or null
//   window.duet.state()    the call state (the data-state of call-status)
//   window.duet.room()     the room id, "" on the home page
//   window.duet.joined()   whether the server has answered our join
//   window.duet.chatOpen() whether the chat data channel is open
//   window.duet.media()    "audio-video", "audio-only", "video-only" or "receive-only"
//   window.duet.lang()     "en" or "zh-CN", the language shown
//   window.duet.remote()   what the other side said of itself: {audio, video, screen, name}
//   window.duet.stats()    the last connection info sample (stats.js), or null
//   window.duet.statsHistory() how many samples the chart holds (at most 60)
//   window.duet.files()    every file transfer of this connection (files.js)

import { Signaling, newRoomId, ROOM_RE, signalingURL } from "./signaling.js";
import { Call } from "./call.js";
import { getLocalMedia, stopMedia } from "./media.js";
import { reportCallOutcome } from "./report.js";
import { verifyCode } from "./verify.js";
import { en, zh, pickLang, saveLang } from "./strings.js";
import { Files, MAX_FILE } from "./files.js";
import { StatsPanel } from "./stats.js";
import { drawTransferItem } from "./fileview.js";
import { CallControls } from "./callcontrols.js";
import { cleanText } from "./text.js";

/** @typedef {keyof typeof en.state} State */

/** The strings shown; the language switch swaps them. */
let S = pickLang();

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
  lanMode: $("lan-mode"),
  verify: $("verify"),
  verifyCode: $("verify-code"),
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
  lang: $("lang-switch"),
  homeName: $("home-name"),
  callName: $("call-name"),
  mute: $("mute"),
  camera: $("camera"),
  screen: $("screen"),
  pip: $("pip"),
  fullscreen: $("fullscreen"),
  devicesButton: $("devices-button"),
  infoButton: $("info-button"),
  devices: $("devices"),
  stats: $("stats"),
  cameraSelect: $("camera-select"),
  micSelect: $("mic-select"),
  speakerSelect: $("speaker-select"),
  speakerRow: $("speaker-row"),
  remoteName: $("remote-name"),
  remoteMuted: $("remote-muted"),
  remoteCameraOff: $("remote-camera-off"),
  remoteSharing: $("remote-sharing"),
  fileInput: $("file-input"),
  fileError: $("file-error"),
  fileList: $("file-list"),
  shortcuts: $("shortcuts"),
};

/** Controls that only make sense in a call, hidden once it is over. */
const inCallOnly = [el.mute, el.camera, el.screen, el.pip, el.fullscreen, el.devicesButton, el.infoButton, el.shortcuts];

/** Longest display name, in characters (docs/protocol.md, hello). */
const MAX_NAME = 64;
const NAME_KEY = "duet.name";

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
let joinAnswered = false; // the server has sent "joined" (for tests: window.duet.joined)
/** File transfers over the current connection's chat channel, once open. */
/** @type {Files|null} */
let files = null;
/** What the other side last said of itself (media and hello messages). */
let remote = { audio: true, video: true, screen: false, name: "" };
/** Mute, camera, screen, devices, PiP, full screen and their keys. */
const controls = new CallControls({
  el,
  strings: () => S,
  pc: () => (call ? call.pc : null),
  stream: () => (local ? local.stream : null),
  changed: () => sendMediaState(),
});

const stats = new StatsPanel({
  root: el.stats,
  chart: $("stats-chart"),
  pc: () => (call ? call.pc : null),
  strings: () => S,
  fields: {
    none: $("stats-none"), list: $("stats-list"), path: $("stats-path"), candidates: $("stats-candidates"),
    rtt: $("stats-rtt"), send: $("stats-send"), recv: $("stats-recv"), loss: $("stats-loss"),
    videoIn: $("stats-video-in"), videoOut: $("stats-video-out"), codecs: $("stats-codecs"),
  },
});

window.duet = {
  pc: () => (call ? call.pc : null),
  state: () => state,
  room: () => room,
  joined: () => joinAnswered,
  chatOpen: () => !!call && call.chatOpen(),
  media: () => (local ? local.mode : ""),
  lang: () => S.lang,
  remote: () => ({ ...remote }),
  stats: () => (stats.last ? { ...stats.last } : null),
  statsHistory: () => stats.history.length,
  files: () => (files ? Array.from(files.all.values(), (t) => ({ ...t })) : []),
  // The raw chat channel, so a test can behave as a hostile peer would.
  channel: () => (call ? call.chat : null),
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
  for (const b of inCallOnly) b.hidden = over;
  // Offered only where the browser has them (no PiP in Firefox's API).
  if (!document.pictureInPictureEnabled) el.pip.hidden = true;
  if (!document.fullscreenEnabled) el.fullscreen.hidden = true;
  if (over) {
    el.notice.hidden = true;
    el.devices.hidden = true;
    el.stats.hidden = true;
    el.devicesButton.setAttribute("aria-expanded", "false");
    el.infoButton.setAttribute("aria-expanded", "false");
  }
}

/** Puts every visible string of the current language in the page. */
function fillStrings() {
  document.documentElement.lang = S.lang;
  document.title = S.title;
  $("title").textContent = S.title;
  el.lang.textContent = S.langSwitch;
  el.lang.title = S.langSwitchLabel;
  el.lang.lang = S === en ? "zh-CN" : "en";
  $("tagline").textContent = S.tagline;
  el.newCall.textContent = S.newCall;
  $("name-label").textContent = S.nameLabel;
  $("name-label-call").textContent = S.nameLabel;
  el.homeName.placeholder = S.namePlaceholder;
  el.callName.placeholder = S.namePlaceholder;
  $("join-label").textContent = S.joinLabel;
  el.joinCode.placeholder = S.joinPlaceholder;
  $("join-button").textContent = S.joinButton;
  $("check-link").textContent = S.checkLink;
  if (!el.joinError.hidden) el.joinError.textContent = S.badCode;
  $("share-label").textContent = S.shareLabel;
  el.lanMode.textContent = S.lanMode;
  $("verify-label").textContent = S.verifyLabel;
  $("qr").alt = S.qrAlt;
  el.verify.title = S.verifyHelp;
  el.copy.textContent = S.copy;
  el.hangup.textContent = S.hangup;
  el.rejoin.textContent = state === "ended" ? S.rejoin : S.retry;
  $("chat-title").textContent = S.chatTitle;
  el.chatInput.placeholder = call && call.chatOpen() ? S.chatPlaceholder : S.chatClosed;
  el.chatSend.textContent = S.chatSend;
  $("file-label-text").textContent = S.fileLabel;
  el.fileInput.setAttribute("aria-label", S.fileLabel);
  el.pip.textContent = S.pip;
  el.fullscreen.textContent = S.fullscreen;
  el.devicesButton.textContent = S.devicesTitle;
  el.infoButton.textContent = S.info;
  el.shortcuts.textContent = S.shortcuts;
  $("devices-title").textContent = S.devicesTitle;
  $("camera-label").textContent = S.camera;
  $("mic-label").textContent = S.microphone;
  $("speaker-label").textContent = S.speaker;
  $("stats-title").textContent = S.statsTitle;
  $("stats-none").textContent = S.statsNone;
  $("stats-path-label").textContent = S.statsPath;
  $("stats-candidates-label").textContent = S.statsCandidates;
  $("stats-rtt-label").textContent = S.statsRtt;
  $("stats-send-label").textContent = S.statsSend;
  $("stats-recv-label").textContent = S.statsRecv;
  $("stats-loss-label").textContent = S.statsLoss;
  $("stats-video-in-label").textContent = S.statsVideoIn;
  $("stats-video-out-label").textContent = S.statsVideoOut;
  $("stats-codecs-label").textContent = S.statsCodecs;
  el.remoteMuted.textContent = S.remoteMuted;
  el.remoteCameraOff.textContent = S.remoteCameraOff;
  el.remoteSharing.textContent = S.remoteSharing;
  el.status.textContent = S.state[state];
  if (local) showNotice();
  for (const li of el.chatLog.querySelectorAll("li.me .who")) li.textContent = S.me;
  for (const li of el.chatLog.querySelectorAll("li.them .who")) li.textContent = remote.name || S.them;
  controls.render();
  stats.render();
  if (files) for (const t of files.all.values()) drawTransfer(t);
  controls.fillDevices();
}

/** Switches between English and Chinese, and remembers it. */
function switchLang() {
  S = S === en ? zh : en;
  saveLang(S);
  fillStrings();
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
  $("qr").src = "/qr/" + room; // the same link, drawn by the server
  setState("media");
  stopMedia(local && local.stream); // from before a rejoin
  local = await getLocalMedia();
  el.localVideo.srcObject = local.stream;
  el.localVideo.hidden = !local.stream || local.stream.getVideoTracks().length === 0;
  showNotice();
  controls.render();
  controls.fillDevices();
  stats.start();
  connect();
}

function showNotice() {
  const why = local ? mediaNotice(local) : "";
  el.notice.textContent = why;
  el.notice.hidden = !why;
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
      joinAnswered = true;
      // No ICE servers at all is what LAN mode (--lan) hands out: only
      // host candidates, so say why a call from elsewhere cannot connect.
      el.lanMode.hidden = session.iceServers.length !== 0;
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
  remote = { audio: true, video: true, screen: false, name: "" };
  showRemote();
  controls.render(); // screen sharing needs a connection
  // The app's own messages on the chat channel (media state, name,
  // files); call.js handles text lines and ignores the rest, and this
  // listener ignores text.
  c.chat.addEventListener("message", (ev) => call === c && onChannelMessage(ev.data));
  reportCallOutcome(c.pc);
}

/**
 * Shows the verify code of c once it is connected (an ICE restart keeps
 * the certificates, so the code stays the same).
 * @param {Call | null} c
 */
async function showVerifyCode(c) {
  if (!c) return;
  const code = await verifyCode(c.pc);
  if (call !== c || !code) return;
  el.verifyCode.textContent = code;
  el.verify.hidden = false;
}

/** @param {import("./call.js").CallState} s */
function callStateChanged(s) {
  if (s === "connected") {
    setState("connected");
    showVerifyCode(call);
  }
  else if (s === "failed") setState("failed");
  else if (s === "reconnecting") setState("reconnecting"); // ICE restart under way
  else if (s === "new" || s === "connecting" || s === "disconnected") setState("connecting");
}

function closeCall() {
  if (!call) return;
  el.verify.hidden = true;
  controls.stopSharing();
  call.close();
  call = null;
  el.remoteVideo.srcObject = null;
  el.remoteVideo.controls = false;
  setChatOpen(false);
  showRemote();
  controls.render();
}

function hangUp() {
  if (signaling) signaling.leave();
  signaling = null;
  closeCall();
  stopMedia(local && local.stream);
  el.localVideo.srcObject = null;
  el.localVideo.hidden = true;
  stats.stop();
  setState("ended");
}

/** @param {boolean} open */
function setChatOpen(open) {
  el.chatInput.disabled = !open;
  el.chatSend.disabled = !open;
  el.fileInput.disabled = !open;
  el.chatInput.placeholder = open ? S.chatPlaceholder : S.chatClosed;
  if (files) files.close();
  files = null;
  if (open && call) {
    files = new Files(call.chat, drawTransfer);
    sendMediaState();
    sendHello();
  }
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
  name.textContent = who === "me" ? S.me : remote.name || S.them;
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
  wireControls();
  // Tell the other side at once rather than after a timeout; the socket's
  // close frame would too, but leave says it explicitly.
  window.addEventListener("pagehide", () => signaling && signaling.leave());
  // Back from the back-forward cache the page has left its room; start over.
  window.addEventListener("pageshow", (ev) => ev.persisted && room && location.reload());
}

/**
 * One message of the chat channel that is not a text line: the other
 * side's media state and name (docs/protocol.md), or a file. Binary
 * messages are file bytes.
 * @param {any} data
 */
function onChannelMessage(data) {
  if (typeof data !== "string") {
    if (files) files.handleBinary(data);
    return;
  }
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return; // call.js has said so already
  }
  if (!msg || typeof msg !== "object") return;
  if (msg.type === "media") {
    remote.audio = msg.audio !== false;
    remote.video = msg.video !== false;
    remote.screen = msg.screen === true;
    showRemote();
  } else if (msg.type === "hello") {
    remote.name = typeof msg.name === "string" ? cleanText(msg.name, MAX_NAME) : "";
    showRemote();
    for (const li of el.chatLog.querySelectorAll("li.them .who")) li.textContent = remote.name || S.them;
  } else if (files) {
    files.handle(msg); // file-*; anything else is for a newer app
  }
}

/** @param {object} msg */
function sendChannel(msg) {
  if (call && call.chatOpen()) call.chat.send(JSON.stringify(msg));
}

/** Tells the other side whether our microphone and camera are on. */
function sendMediaState() {
  sendChannel({ type: "media", ...controls.mediaState() });
}

/** Tells the other side our name; on open only if there is one. @param {boolean} [always] */
function sendHello(always = false) {
  const name = el.callName.value.trim().slice(0, MAX_NAME);
  if (name || always) sendChannel({ type: "hello", name });
}

/** @param {string} name */
function setName(name) {
  name = name.trim().slice(0, MAX_NAME);
  el.homeName.value = el.callName.value = name;
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Not remembered; still used for this call.
  }
}

function showRemote() {
  const present = !!call;
  el.remoteMuted.hidden = !present || remote.audio;
  el.remoteCameraOff.hidden = !present || remote.video;
  el.remoteSharing.hidden = !present || !remote.screen;
  el.remoteName.hidden = !present || !remote.name;
  el.remoteName.textContent = remote.name;
}

/** @param {import("./files.js").Transfer} t */
function drawTransfer(t) {
  drawTransferItem(el.fileList, t, S, (id) => files && files.cancel(id));
}

/**
 * Opens one panel (devices, stats) and closes the other.
 * @param {HTMLElement} panel @param {HTMLElement} button
 */
function togglePanel(panel, button) {
  const open = panel.hidden;
  for (const [p, b] of [[el.devices, el.devicesButton], [el.stats, el.infoButton]]) {
    p.hidden = !(open && p === panel);
    b.setAttribute("aria-expanded", String(!p.hidden));
  }
  if (open && panel === el.stats) stats.render();
  if (open && panel === el.devices) controls.fillDevices();
}

function wireControls() {
  el.lang.addEventListener("click", switchLang);
  controls.wire(() => !!room);
  el.devicesButton.addEventListener("click", () => togglePanel(el.devices, el.devicesButton));
  el.infoButton.addEventListener("click", () => togglePanel(el.stats, el.infoButton));
  el.homeName.addEventListener("change", () => setName(el.homeName.value));
  el.callName.addEventListener("change", () => {
    setName(el.callName.value);
    sendHello(true);
  });
  el.fileInput.addEventListener("change", () => {
    const list = Array.from(/** @type {FileList} */ (el.fileInput.files));
    el.fileInput.value = "";
    el.fileError.hidden = true;
    for (const f of list) {
      if (f.size > MAX_FILE || !files) {
        el.fileError.textContent = S.fileTooBig;
        el.fileError.hidden = !files;
        continue;
      }
      files.send(f);
    }
  });
}

function main() {
  let name = "";
  try {
    name = localStorage.getItem(NAME_KEY) || "";
  } catch {
    // No storage: no remembered name.
  }
  el.homeName.value = el.callName.value = name.slice(0, MAX_NAME);
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
