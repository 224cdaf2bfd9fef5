// app.js — the page: it wires the parts and runs a call's life. The wire
// protocol is signaling.js, the peer connection call.js, media media.js;
// the screen is stage.js (video, card, top bar), controlbar.js (the bar
// and its menu), callcontrols.js (own media), panels.js (chat, devices,
// connection info), chat.js; the state has one owner, store.js; every
// visible string is in strings.js.
//
// Test hook: window.duet (docs/ui.md). Tests read, never drive, through it.

import { Signaling, ROOM_RE, signalingURL } from "./signaling.js";
import { wireHome } from "./home.js";
import { Call } from "./call.js";
import { getLocalMedia, stopMedia } from "./media.js";
import { reportCallOutcome } from "./report.js";
import { verifyCode } from "./verify.js";
import { en, zh, pickLang, saveLang } from "./strings.js";
import { StatsPanel } from "./stats.js";
import { CallControls } from "./callcontrols.js";
import { Store, NO_REMOTE } from "./store.js";
import { Stage } from "./stage.js";
import { ControlBar } from "./controlbar.js";
import { Panels } from "./panels.js";
import { Chat, MAX_NAME } from "./chat.js";
import { Attention } from "./attention.js";
import { WakeLock } from "./wakelock.js";
import { bindElements, fillStrings } from "./dom.js";
import { setButton } from "./icons.js";

const el = bindElements();
const NAME_KEY = "duet.name";
// ?relay=1 sends all media through TURN: for testing the relay path.
const relayOnly = new URLSearchParams(location.search).get("relay") === "1";

/** @type {Store<import("./store.js").AppState>} */
const store = new Store({
  state: "idle", room: "", joined: false, peerKind: "", polite: false, iceServers: [], S: pickLang(),
  remote: NO_REMOTE, panel: "", unread: 0, chatOpen: false, connectedAt: 0, verify: "", music: false,
  call: null, signaling: null, local: null, files: null,
});
const get = () => store.get();

const attention = new Attention(() => get().S);
const wakeLock = new WakeLock();
const stage = new Stage(store, el);
const controls = new CallControls({
  el,
  strings: () => get().S,
  pc: () => get().call?.pc || null,
  stream: () => get().local?.stream || null,
  changed: () => chat.send({ type: "media", ...controls.mediaState() }),
  notice: (text) => {
    el.notice.textContent = text;
    el.notice.hidden = false;
  },
});
const panels = new Panels(store, {
  chat: { panel: el.chat, button: el.chatButton, focus: () => (el.chatInput.disabled ? null : el.chatInput) },
  devices: { panel: el.devices, button: el.devicesButton, focus: () => el.callName },
  stats: { panel: el.stats, button: el.infoButton, focus: () => null },
});
const bar = new ControlBar(store, el, { toggleChat: () => panels.toggle("chat") });
const chat = new Chat(store, el, {
  onLine: () => attention.alert("chat"),
  mediaState: () => controls.mediaState(),
  name: () => el.callName.value.trim().slice(0, MAX_NAME),
});
const stats = new StatsPanel({
  root: el.stats,
  chart: el.statsChart,
  pc: () => get().call?.pc || null,
  strings: () => get().S,
  fields: {
    none: el.statsNone, list: el.statsList, path: el.statsPath, candidates: el.statsCandidates,
    rtt: el.statsRtt, send: el.statsSend, recv: el.statsRecv, loss: el.statsLoss,
    videoIn: el.statsVideoIn, videoOut: el.statsVideoOut, codecs: el.statsCodecs,
  },
  onSample: (s) => stage.renderSignal(s),
});
stage.onSignalClick = () => panels.toggle("stats");

window.duet = {
  // What the other place is: "whip", "whep", or "" for a person.
  peerKind: () => get().peerKind,
  pc: () => get().call?.pc || null,
  state: () => get().state,
  room: () => get().room,
  joined: () => get().joined,
  chatOpen: () => !!get().call && get().call.chatOpen(),
  media: () => get().local?.mode || "",
  lang: () => get().S.lang,
  remote: () => ({ ...get().remote }),
  stats: () => (stats.last ? { ...stats.last } : null),
  statsHistory: () => stats.history.length,
  files: () => Array.from(get().files?.all.values() || [], (t) => ({ ...t })),
  // The raw chat channel, so a test can behave as a hostile peer would.
  channel: () => get().call?.chat || null,
  panel: () => get().panel,
  unread: () => get().unread,
  wakeLock: () => wakeLock.status,
};

/** @param {import("./store.js").CallState} s @param {string} [detail] appended (errors) */
function setState(s, detail = "") {
  const before = get().state;
  // Logged for whoever debugs a call (and for test logs on failure).
  if (s !== before) console.info("duet: state " + before + " -> " + s);
  stage.setError(detail);
  /** @type {Partial<import("./store.js").AppState>} */
  const patch = { state: s };
  if (s === "ended" || s === "room-full" || s === "error") patch.panel = "";
  store.set(patch);
  wakeLock.want(s === "connected" || (s === "reconnecting" && get().connectedAt > 0));
}

store.subscribe((now, before) => {
  if (now.S !== before.S) {
    fillStrings(el, now.S);
    showNotice();
    attention.renderTitle();
    controls.render();
    stats.render();
    controls.fillDevices();
    renderMenu();
  }
  if (now.panel !== before.panel) {
    if (now.panel === "stats") stats.render();
    if (now.panel === "devices") controls.fillDevices();
  }
});

function renderMenu() {
  const S = get().S;
  setButton(el.lang, "globe", S.langSwitch, { labelHidden: false, title: S.langSwitchLabel });
  el.lang.lang = S === en ? "zh-CN" : "en";
  setButton(el.notify, "bell", S.notify, { labelHidden: false, title: attention.notifyBlocked() ? S.notifyBlocked : S.notify });
  el.notify.setAttribute("aria-checked", String(attention.notify));
  el.notify.disabled = attention.notifyBlocked();
}

function switchLang() {
  const S = get().S === en ? zh : en;
  saveLang(S);
  store.set({ S });
}

async function enterRoom() {
  const room = get().room;
  el.roomLink.value = location.origin + "/r/" + room;
  el.qr.src = "/qr/" + room; // the same link, drawn by the server
  setState("media");
  stopMedia(get().local?.stream || null); // from before a rejoin
  get().signaling?.close();
  // The signaling socket opens while the camera starts (its handshake
  // costs round trips that need not wait), and joins once the media is
  // ready: the other side never meets us before we have it to send.
  const signaling = newSignaling();
  store.set({ signaling });
  signaling.preconnect();
  const local = await getLocalMedia(controls.audioConstraints());
  if (get().signaling !== signaling) {
    stopMedia(local.stream); // hung up while the camera started
    return;
  }
  store.set({ local });
  controls.showPreview();
  showNotice();
  controls.render();
  controls.fillDevices();
  stats.start();
  setState("waiting");
  signaling.join();
}

function showNotice() {
  const m = get().local;
  const S = get().S;
  let why = "";
  if (m) {
    if (m.problem === "denied" || m.problem === "insecure" || m.problem === "in-use") why = S.media[m.problem];
    else if (m.mode === "receive-only") why = S.media["no-device"];
    else if (m.mode === "audio-only" || m.mode === "video-only") why = S.media[m.mode];
  }
  el.notice.textContent = why;
  el.notice.hidden = !why;
}

function newSignaling() {
  return new Signaling({
    url: signalingURL(location),
    room: get().room,
    onMessage,
    onStatus: (status) => {
      // Media flows peer to peer, so a connected call stays "connected"
      // while signaling reconnects behind it.
      const s = get().state;
      if (status === "reconnecting" && s !== "connected" && s !== "server-gone") setState("reconnecting");
    },
  });
}

/** @param {{type: string, [key: string]: any}} msg */
function onMessage(msg) {
  const call = get().call;
  switch (msg.type) {
    case "joined":
      store.set({ polite: !!msg.polite, iceServers: msg.iceServers || [], joined: true });
      // No ICE servers at all is what LAN mode (--lan) hands out: only
      // host candidates, so say why a call from elsewhere cannot connect.
      el.lanMode.hidden = get().iceServers.length !== 0;
      if (msg.peerPresent) {
        peerArrived(msg.peer, !!msg.resumed, kindOf(msg.peerKind));
      } else if (msg.resumed && call && (call.pc.connectionState === "connected" || call.outage)) {
        // We are back after a server restart before the other peer is:
        // the media still flows peer to peer, so keep the call; the peer
        // resumes too (peer-joined, same id) or the connection fails.
      } else {
        closeCall();
        if (get().state !== "peer-left") setState("waiting");
      }
      break;
    case "peer-joined":
      peerArrived(msg.peer, !!msg.resumed, kindOf(msg.peerKind));
      if (!msg.resumed) attention.alert("joined");
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
  const signaling = get().signaling;
  if (msg.code === "room-full") {
    signaling?.close();
    setState("room-full");
  } else if (msg.code === "too-many-connections" || msg.code === "over-capacity" || msg.code === "shutting-down") {
    // The server closes this connection itself; the socket then
    // reconnects with backoff, which is what these ask for.
    console.warn("signaling: " + msg.code + "; reconnecting");
  } else if (msg.code === "rate-limited" && msg.ref === "join") {
    // Not admitted, but the connection stays open: try again later.
    signaling?.reconnect();
  } else if (msg.ref === "join") {
    signaling?.close();
    setState("error", msg.message);
  } else {
    console.warn("signaling error", msg.code, msg.message);
  }
}

/**
 * The other place's peerKind as the app knows it; anything else (a newer
 * server's kind) is shown as a person.
 * @param {unknown} k @returns {"" | "whip" | "whep"}
 */
function kindOf(k) {
  return k === "whip" || k === "whep" ? k : "";
}

/**
 * The other peer is in the room. The same peer back from a signaling
 * outage keeps its connection; anyone else gets a fresh one.
 * @param {string} peerId @param {boolean} resumed
 * @param {"" | "whip" | "whep"} kind the peerKind: "" for a person
 */
function peerArrived(peerId, resumed, kind) {
  const old = get().call;
  if (old && resumed && peerId && old.peerId === peerId) {
    old.peerBack(); // re-sends a cut offer, or restarts ICE (impolite side)
    old.connectionChanged();
    return;
  }
  closeCall();
  setState("connecting");
  const c = new Call({
    send: (m) => get().signaling?.send(m) || false,
    polite: get().polite,
    iceServers: get().iceServers, // unchanged, as the server gave them
    relayOnly,
    localStream: get().local?.stream || null,
    peerId,
    answerOnly: kind !== "",
    onTrack: (stream) => {
      // The call's own stream of the receivers' tracks: the same tracks
      // whatever a renegotiation or rollback does to the browser's streams.
      if (el.remoteVideo.srcObject !== stream) el.remoteVideo.srcObject = stream;
      el.remoteVideo.play().catch(() => {
        // Autoplay refused (no camera, no gesture): let a tap start it.
        el.remoteVideo.controls = true;
      });
    },
    onState: (s) => get().call === c && callStateChanged(s),
    onChat: (text) => chat.addLine("them", text),
    onChatOpen: (open) => get().call === c && store.set({ chatOpen: open }),
  });
  store.set({ call: c, peerKind: kind, remote: NO_REMOTE, connectedAt: 0, verify: "" });
  controls.render(); // screen sharing needs a connection
  // The app's own messages on the chat channel (media state, name,
  // files); call.js handles text lines and ignores the rest.
  c.chat.addEventListener("message", (ev) => get().call === c && chat.onChannelMessage(ev.data));
  reportCallOutcome(c.pc);
}

/** @param {import("./call.js").CallState} s */
async function callStateChanged(s) {
  if (s === "connected") {
    if (!get().connectedAt) store.set({ connectedAt: Date.now() });
    setState("connected");
    // An ICE restart keeps the certificates, so the code stays the same.
    const c = get().call;
    const code = c ? await verifyCode(c.pc) : "";
    if (code && get().call === c) store.set({ verify: code });
  } else if (s === "failed") setState("failed");
  else if (s === "reconnecting") setState("reconnecting"); // ICE restart under way
  else if (s === "new" || s === "connecting" || s === "disconnected") setState("connecting");
}

function closeCall() {
  const call = get().call;
  if (!call) return;
  controls.stopSharing();
  call.close();
  el.remoteVideo.srcObject = null;
  el.remoteVideo.controls = false;
  store.set({ chatOpen: false });
  store.set({ call: null, peerKind: "", verify: "", connectedAt: 0 });
  controls.render();
}

function hangUp() {
  get().signaling?.leave();
  store.set({ signaling: null });
  closeCall();
  stopMedia(get().local?.stream || null);
  el.localVideo.srcObject = null;
  stats.stop();
  setState("ended");
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

function wire() {
  wireHome(el, () => get().S);
  el.hangup.addEventListener("click", hangUp);
  el.rejoin.addEventListener("click", () => {
    el.rejoin.hidden = true;
    enterRoom();
  });
  el.lang.addEventListener("click", switchLang);
  // A WHIP publisher or WHEP player took the other place: the person may
  // send it away (dismiss); the server answers with peer-left.
  el.sendAway.addEventListener("click", () => get().signaling?.send({ type: "dismiss" }));
  el.notify.addEventListener("click", async () => {
    await attention.toggleNotify();
    renderMenu();
  });
  el.devicesButton.addEventListener("click", () => panels.toggle("devices"));
  el.infoButton.addEventListener("click", () => panels.toggle("stats"));
  el.homeName.addEventListener("change", () => setName(el.homeName.value));
  el.callName.addEventListener("change", () => {
    setName(el.callName.value);
    chat.sendHello(true);
  });
  controls.wire(() => !!get().room);
  bar.wire();
  panels.wire();
  chat.wire();
  attention.wire();
  stage.wireSelf();
  stage.wireShare();
  // Tell the other side at once rather than after a timeout; the socket's
  // close frame would too, but leave says it explicitly.
  window.addEventListener("pagehide", () => get().signaling?.leave());
  // Back from the back-forward cache the page has left its room; start over.
  window.addEventListener("pageshow", (ev) => ev.persisted && get().room && location.reload());
}

function main() {
  let name = "";
  try {
    name = localStorage.getItem(NAME_KEY) || "";
  } catch {
    // No storage: no remembered name.
  }
  el.homeName.value = el.callName.value = name.slice(0, MAX_NAME);
  wire();
  fillStrings(el, get().S);
  renderMenu();
  const m = location.pathname.match(/^\/r\/([^/]+)$/);
  const inRoom = !!m && ROOM_RE.test(m[1]);
  document.body.dataset.view = inRoom ? "call" : "home";
  el.home.hidden = inRoom;
  el.call.hidden = !inRoom;
  if (inRoom) {
    el.moreMenu.insertBefore(el.lang, el.shortcuts); // in a call the switch is in "more"
    el.lang.setAttribute("role", "menuitem");
    store.set({ room: m[1] });
    enterRoom();
  } else {
    setState("idle");
  }
  stage.render(get());
  // The app shell for offline and instant starts (sw.js); never signaling or media.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch((err) => console.info("service worker: " + err));
  }
}

main();
