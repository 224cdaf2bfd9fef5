// dom.js — the page's elements by role, found once, and the strings of
// the parts that hold no state of their own (home page, panel labels).

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

/** Every element the app's parts use, by a name of what it is. */
export function bindElements() {
  /** @type {Record<string, string>} name → element id */
  const ids = {
    status: "status", home: "home", call: "call", newCall: "new-call", joinForm: "join-form",
    joinCode: "join-code", joinError: "join-error", remoteVideo: "remote-video", localVideo: "local-video",
    self: "self", selfOff: "self-off", notice: "media-notice", lanMode: "lan-mode", verify: "verify",
    verifyCode: "verify-code", verifyLabel: "verify-label", verifyHelp: "verify-help", stage: "stage",
    topbar: "topbar", controls: "controls", card: "card", cardTitle: "card-title", cardText: "card-text",
    cardHome: "card-home", chat: "chat", share: "share", shareLabel: "share-label", roomLink: "room-link",
    copy: "copy", webShare: "web-share", qr: "qr", hangup: "hangup", rejoin: "rejoin", chatLog: "chat-log",
    chatForm: "chat-form", chatInput: "chat-input", chatSend: "chat-send", chatTitle: "chat-title",
    chatButton: "chat-button", unread: "unread", lang: "lang-switch", homeName: "home-name", callName: "call-name",
    mute: "mute", camera: "camera", flip: "flip", screen: "screen", pip: "pip", fullscreen: "fullscreen",
    more: "more", moreMenu: "more-menu", music: "music", notify: "notify", devicesButton: "devices-button",
    infoButton: "info-button", devices: "devices", stats: "stats", cameraSelect: "camera-select",
    micSelect: "mic-select", speakerSelect: "speaker-select", speakerRow: "speaker-row",
    remoteName: "remote-name", remoteMuted: "remote-muted", remoteCameraOff: "remote-camera-off",
    remoteSharing: "remote-sharing", peerKind: "peer-kind", peerKindText: "peer-kind-text", sendAway: "send-away", remotePlaceholder: "remote-placeholder", remoteInitial: "remote-initial",
    remotePlaceholderName: "remote-placeholder-name", signal: "signal", signalText: "signal-text", timer: "timer",
    fileInput: "file-input", fileError: "file-error", fileList: "file-list", fileLabelText: "file-label-text",
    shortcuts: "shortcuts", statsChart: "stats-chart", statsNone: "stats-none", statsList: "stats-list",
    statsPath: "stats-path", statsCandidates: "stats-candidates", statsRtt: "stats-rtt", statsSend: "stats-send",
    statsRecv: "stats-recv", statsLoss: "stats-loss", statsVideoIn: "stats-video-in",
    statsVideoOut: "stats-video-out", statsCodecs: "stats-codecs",
  };
  /** @type {Record<string, any>} */
  const el = {};
  for (const [name, id] of Object.entries(ids)) {
    el[name] = $(id);
    if (!el[name]) throw new Error("index.html lacks #" + id);
  }
  return el;
}

/**
 * The strings of the home page and the panels' labels.
 * @param {Record<string, any>} el @param {import("./strings.js").Strings} S
 */
export function fillStrings(el, S) {
  document.documentElement.lang = S.lang;
  $("title").textContent = S.title;
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
  el.moreMenu.setAttribute("aria-label", S.more);
  el.controls.setAttribute("aria-label", S.controlsLabel);
  $("devices-title").textContent = S.devicesTitle;
  $("camera-label").textContent = S.camera;
  $("mic-label").textContent = S.microphone;
  $("speaker-label").textContent = S.speaker;
  $("stats-title").textContent = S.statsTitle;
  $("stats-none").textContent = S.statsNone;
  for (const [id, key] of Object.entries({
    "stats-path-label": "statsPath", "stats-candidates-label": "statsCandidates", "stats-rtt-label": "statsRtt",
    "stats-send-label": "statsSend", "stats-recv-label": "statsRecv", "stats-loss-label": "statsLoss",
    "stats-video-in-label": "statsVideoIn", "stats-video-out-label": "statsVideoOut", "stats-codecs-label": "statsCodecs",
  })) {
    $(id).textContent = /** @type {any} */ (S)[key];
  }
}
