// check.js — the pre-call check at /check: camera and microphone with a
// level meter, and whether this network reaches the server's STUN and TURN,
// judged from the ICE candidates a throwaway peer connection gathers with
// the ICE servers the server hands out. Relay credentials go only to a
// connection that holds a place in a room (docs/protocol.md), so the check
// joins a fresh room of its own for as long as it gathers, then leaves.
// Nothing is sent to the other side of anything: no call is made.

import { en, zh, pickLang, saveLang } from "./strings.js";
import { Signaling, newRoomId, signalingURL } from "./signaling.js";

/** How long gathering may take before the check says what it found. */
const GATHER_MS = 10000;

let S = pickLang();
const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/**
 * What the check found; also the page's test hook (window.duetCheck).
 * @type {{media: string, level: number, maxLevel: number, stun: string, turn: string, verdict: string, publicAddress: string}}
 */
const result = { media: "pending", level: 0, maxLevel: 0, stun: "pending", turn: "pending", verdict: "pending", publicAddress: "" };
/** @type {any} */ (window).duetCheck = result;

/** @type {MediaStream | null} */
let stream = null;
/** @type {AudioContext | null} */
let audio = null;
let mediaError = "";

function render() {
  const C = S.check;
  document.documentElement.lang = S.lang;
  document.title = C.title + " · duet";
  $("check-title").textContent = C.title;
  $("lang-switch").textContent = S.langSwitch;
  $("lang-switch").title = S.langSwitchLabel;
  $("check-level-label").textContent = C.level;
  $("check-stun-label").textContent = C.stun;
  $("check-turn-label").textContent = C.turn;
  $("check-again").textContent = C.again;
  const media = $("check-media");
  media.dataset.state = result.media;
  media.textContent = result.media === "ok" ? C.mediaOk : result.media === "none" ? C.mediaNone + mediaError : C.pending;
  const stun = $("check-stun");
  stun.dataset.state = result.stun;
  stun.textContent = {
    pending: C.pending,
    ok: C.stunFound + result.publicAddress,
    "no-nat": C.stunNoNat,
    fail: C.stunFail,
    lan: C.lanMode,
  }[result.stun];
  const turn = $("check-turn");
  turn.dataset.state = result.turn;
  turn.textContent = { pending: C.pending, ok: C.turnOk, fail: C.turnFail, lan: C.lanMode }[result.turn];
  const verdict = $("check-verdict");
  verdict.dataset.verdict = result.verdict;
  verdict.textContent = /** @type {any} */ (C.verdict)[result.verdict];
}

/** Camera preview and a level meter from an AnalyserNode. */
async function checkMedia() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (e) {
    result.media = "none";
    mediaError = e instanceof Error ? e.name : String(e);
    render();
    return;
  }
  result.media = "ok";
  $("check-video").srcObject = stream;
  if (stream.getAudioTracks().length) {
    audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 512;
    audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      // RMS, scaled so speech at a normal distance fills most of the bar.
      result.level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      result.maxLevel = Math.max(result.maxLevel, result.level);
      $("check-level").value = result.level;
      if (audio) requestAnimationFrame(tick);
    };
    tick();
  }
  render();
}

/**
 * Gathers candidates with the server's ICE servers. A srflx candidate
 * means STUN answered from behind a NAT; a relay candidate means TURN
 * allocated. A relay candidate but no srflx means the server saw this
 * machine's own address (no NAT): the browser drops a srflx candidate
 * equal to a host one.
 */
async function checkNetwork() {
  const { iceServers, sig } = await joinForICEServers();
  try {
    await gather(iceServers);
  } finally {
    if (sig) sig.leave();
  }
}

/**
 * Joins a room of its own and resolves with the ICE servers of joined, and
 * the Signaling to leave once done; iceServers is null when the server
 * could not be reached or refused the join.
 * @returns {Promise<{iceServers: RTCIceServer[] | null, sig: Signaling | null}>}
 */
function joinForICEServers() {
  return new Promise((resolve) => {
    /** @type {Signaling} */
    let sig;
    const timer = setTimeout(() => {
      sig.close();
      resolve({ iceServers: null, sig: null });
    }, GATHER_MS);
    sig = new Signaling({
      url: signalingURL(location),
      room: "check-" + newRoomId(),
      onMessage: (msg) => {
        if (msg.type === "joined") {
          clearTimeout(timer);
          resolve({ iceServers: msg.iceServers || [], sig });
        } else if (msg.type === "error" && msg.ref === "join") {
          clearTimeout(timer);
          sig.close();
          resolve({ iceServers: null, sig: null });
        }
      },
    });
    sig.connect();
  });
}

/** @param {RTCIceServer[] | null} iceServers */
async function gather(iceServers) {
  if (iceServers === null) {
    result.stun = result.turn = "fail";
    result.verdict = "none";
    render();
    return;
  }
  if (iceServers.length === 0) {
    result.stun = result.turn = "lan";
    result.verdict = "lan";
    render();
    return;
  }
  const pc = new RTCPeerConnection({ iceServers });
  const types = new Set();
  const done = new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_MS);
    pc.onicecandidate = (ev) => {
      if (!ev.candidate) {
        clearTimeout(timer);
        resolve(undefined);
        return;
      }
      types.add(ev.candidate.type);
      if (ev.candidate.type === "srflx" && !result.publicAddress) result.publicAddress = ev.candidate.address || "";
    };
  });
  pc.createDataChannel("check");
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  const relay = types.has("relay");
  result.turn = relay ? "ok" : "fail";
  result.stun = types.has("srflx") ? "ok" : relay ? "no-nat" : "fail";
  result.verdict = result.stun === "ok" || result.stun === "no-nat" ? "direct" : relay ? "relay" : "none";
  render();
}

async function run() {
  result.stun = result.turn = result.verdict = "pending";
  result.publicAddress = "";
  render();
  await Promise.all([stream ? Promise.resolve() : checkMedia(), checkNetwork()]);
}

$("lang-switch").addEventListener("click", () => {
  S = S === en ? zh : en;
  saveLang(S);
  render();
});
$("check-again").addEventListener("click", () => run());
window.addEventListener("pagehide", () => {
  if (stream) for (const t of stream.getTracks()) t.stop();
  if (audio) audio.close();
  audio = null;
});
run();
