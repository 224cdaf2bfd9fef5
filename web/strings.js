// strings.js — every text the person sees, in one place: English (en) and
// Simplified Chinese (zh), objects of the same shape. pickLang chooses one
// from a saved choice or navigator.languages.

/** @typedef {typeof en} Strings */

export const en = {
  lang: "en",
  langName: "English",
  langSwitch: "中文", // the switch names the other language, in that language
  langSwitchLabel: "Switch language to Chinese",
  title: "duet",
  tagline: "A private video call for two. No account, nothing to install.",
  newCall: "Start a new call",
  joinLabel: "Or join with a code or link",
  joinPlaceholder: "Room code or link",
  joinButton: "Join",
  badCode: "That does not look like a duet room code or link.",
  nameLabel: "Your name (optional)",
  namePlaceholder: "Shown to the other person",
  shareLabel: "Send this link to the other person:",
  checkLink: "Check your camera, microphone and network",
  check: {
    title: "Pre-call check",
    level: "Microphone level",
    mediaOk: "Camera and microphone work.",
    mediaNone: "No camera or microphone could be used: ",
    stun: "Public address (STUN)",
    turn: "Relay (TURN)",
    pending: "checking…",
    stunFound: "found: ",
    stunNoNat: "no NAT between you and the server",
    stunFail: "not reachable",
    turnOk: "reachable",
    turnFail: "not reachable",
    lanMode: "not used: the server is in LAN mode",
    verdict: {
      pending: "Checking your network…",
      direct: "Calls will connect directly.",
      relay: "Calls will connect through the relay.",
      none: "Calls will not connect from this network.",
      lan: "LAN mode: calls connect directly with people on this network.",
    },
    again: "Check again",
  },
  qrAlt: "QR code of this link, for a phone's camera",
  verifyLabel: "Verify code:",
  verifyHelp: "Read these digits aloud. If the other person sees the same ones, no one can listen in between you.",
  lanMode: "LAN mode: this server gives out no STUN or TURN, so calls connect directly on this network only.",
  copy: "Copy link",
  copied: "Copied",
  hangup: "Hang up",
  rejoin: "Rejoin this call",
  retry: "Try again",
  chatTitle: "Chat",
  chatPlaceholder: "Write a message",
  chatSend: "Send",
  chatTooLong: "That message is too long to send.",
  chatClosed: "Chat opens once you are connected.",
  me: "You",
  them: "Them",

  // Call controls: the visible label, and what a screen reader says.
  mute: "Mute",
  unmute: "Unmute",
  muteLabel: "Mute your microphone (M)",
  unmuteLabel: "Unmute your microphone (M)",
  cameraOff: "Camera off",
  cameraOn: "Camera on",
  cameraOffLabel: "Turn your camera off (V)",
  cameraOnLabel: "Turn your camera on (V)",
  share: "Share screen",
  stopShare: "Stop sharing",
  pip: "Picture in picture",
  fullscreen: "Full screen",
  info: "Connection info",
  devicesTitle: "Devices",
  camera: "Camera",
  microphone: "Microphone",
  speaker: "Speaker",
  defaultDevice: "Default",
  remoteMuted: "Muted",
  remoteCameraOff: "Camera off",
  remoteSharing: "Sharing their screen",
  localCameraOff: "Your camera is off",
  shortcuts: "Shortcuts: M mute, V camera",
  shareFailed: "Screen sharing did not start.",

  // Files over the data channel.
  fileLabel: "Send a file",
  fileSending: "Sending",
  fileReceiving: "Receiving",
  fileDone: "Done, SHA-256 checked",
  fileBad: "Damaged: SHA-256 does not match",
  fileCancelled: "Cancelled",
  fileCancel: "Cancel",
  fileSave: "Save",
  fileTooBig: "That file is too big to send (at most 256 MB).",

  // The connection info panel.
  statsTitle: "Connection",
  statsPath: "Path",
  statsDirect: "direct",
  statsRelayed: "relayed (TURN)",
  statsCandidates: "Candidates (you / them)",
  statsRtt: "Round trip",
  statsSend: "Sending",
  statsRecv: "Receiving",
  statsLoss: "Packet loss",
  statsVideoIn: "Video in",
  statsVideoOut: "Video out",
  statsCodecs: "Codecs",
  statsChart: "Bitrate (blue, kbit/s) and round trip (orange, ms) over the last minute",
  statsNone: "Not connected yet.",

  // Call states, as call-status shows them.
  state: {
    idle: "",
    media: "Asking for your camera and microphone…",
    waiting: "Waiting for the other person to join…",
    connecting: "Connecting…",
    connected: "Connected",
    "peer-left": "The other person left. Waiting for someone to join this link…",
    "room-full": "This call already has two people in it.",
    failed: "The connection failed. Check your network, or try again.",
    reconnecting: "The connection dropped. Reconnecting…",
    "server-gone": "The server went away. Trying to reconnect…",
    ended: "You left the call.",
    error: "Something went wrong: ",
  },

  // Why we have no camera or microphone.
  media: {
    denied:
      "You did not allow the camera and microphone, so the other person cannot see or hear you. " +
      "To allow them, use the camera icon in the address bar and reload.",
    "no-device": "No camera or microphone was found. You can still see and hear the other person, and chat.",
    "in-use": "Your camera or microphone is in use by another program.",
    insecure: "This page is not secure (https), so the browser offers no camera or microphone.",
    "audio-only": "No camera found: the other person will hear you but not see you.",
    "video-only": "No microphone found: the other person will see you but not hear you.",
  },
};

/** @type {Strings} */
export const zh = {
  lang: "zh-CN",
  langName: "中文",
  langSwitch: "English",
  langSwitchLabel: "切换为英文",
  title: "duet",
  tagline: "两个人的私密视频通话。无需账号，无需安装。",
  newCall: "发起新通话",
  joinLabel: "或用房间码或链接加入",
  joinPlaceholder: "房间码或链接",
  joinButton: "加入",
  badCode: "这不像是 duet 的房间码或链接。",
  nameLabel: "你的名字（可选）",
  namePlaceholder: "对方会看到",
  shareLabel: "把这个链接发给对方：",
  checkLink: "检查摄像头、麦克风和网络",
  check: {
    title: "通话前检查",
    level: "麦克风音量",
    mediaOk: "摄像头和麦克风正常。",
    mediaNone: "无法使用摄像头或麦克风：",
    stun: "公网地址（穿透）",
    turn: "中继",
    pending: "检查中…",
    stunFound: "已找到：",
    stunNoNat: "你和服务器之间没有地址转换",
    stunFail: "无法连接",
    turnOk: "可以连接",
    turnFail: "无法连接",
    lanMode: "未使用：服务器处于局域网模式",
    verdict: {
      pending: "正在检查你的网络…",
      direct: "通话将直接连接。",
      relay: "通话将通过中继连接。",
      none: "从这个网络无法接通通话。",
      lan: "局域网模式：可以和本网络内的人直接通话。",
    },
    again: "重新检查",
  },
  qrAlt: "此链接的二维码，可用手机相机扫描",
  verifyLabel: "验证码：",
  verifyHelp: "请大声读出这些数字。如果对方看到的相同，就没有人能在你们之间窃听。",
  lanMode: "局域网模式：此服务器不提供穿透和中继服务，通话只能在本网络内直接连接。",
  copy: "复制链接",
  copied: "已复制",
  hangup: "挂断",
  rejoin: "重新加入此通话",
  retry: "重试",
  chatTitle: "聊天",
  chatPlaceholder: "输入消息",
  chatSend: "发送",
  chatTooLong: "消息太长，无法发送。",
  chatClosed: "连接后即可聊天。",
  me: "你",
  them: "对方",

  mute: "静音",
  unmute: "取消静音",
  muteLabel: "关闭麦克风（M）",
  unmuteLabel: "打开麦克风（M）",
  cameraOff: "关闭摄像头",
  cameraOn: "打开摄像头",
  cameraOffLabel: "关闭摄像头（V）",
  cameraOnLabel: "打开摄像头（V）",
  share: "共享屏幕",
  stopShare: "停止共享",
  pip: "画中画",
  fullscreen: "全屏",
  info: "连接信息",
  devicesTitle: "设备",
  camera: "摄像头",
  microphone: "麦克风",
  speaker: "扬声器",
  defaultDevice: "默认",
  remoteMuted: "已静音",
  remoteCameraOff: "摄像头已关闭",
  remoteSharing: "正在共享屏幕",
  localCameraOff: "你的摄像头已关闭",
  shortcuts: "快捷键：M 静音，V 摄像头",
  shareFailed: "屏幕共享未能开始。",

  fileLabel: "发送文件",
  fileSending: "正在发送",
  fileReceiving: "正在接收",
  fileDone: "完成，SHA-256 校验通过",
  fileBad: "文件损坏：SHA-256 不匹配",
  fileCancelled: "已取消",
  fileCancel: "取消",
  fileSave: "保存",
  fileTooBig: "文件太大，无法发送（最多 256 MB）。",

  statsTitle: "连接",
  statsPath: "路径",
  statsDirect: "直连",
  statsRelayed: "中继（TURN）",
  statsCandidates: "候选类型（你 / 对方）",
  statsRtt: "往返时间",
  statsSend: "发送",
  statsRecv: "接收",
  statsLoss: "丢包",
  statsVideoIn: "接收视频",
  statsVideoOut: "发送视频",
  statsCodecs: "编解码器",
  statsChart: "最近一分钟的码率（蓝色，kbit/s）和往返时间（橙色，毫秒）",
  statsNone: "尚未连接。",

  state: {
    idle: "",
    media: "正在请求摄像头和麦克风…",
    waiting: "正在等待对方加入…",
    connecting: "正在连接…",
    connected: "已连接",
    "peer-left": "对方已离开。正在等待有人通过此链接加入…",
    "room-full": "此通话已有两个人。",
    failed: "连接失败。请检查网络，或重试。",
    reconnecting: "连接中断，正在重新连接…",
    "server-gone": "服务器已离开，正在尝试重新连接…",
    ended: "你已离开通话。",
    error: "出错了：",
  },

  media: {
    denied: "你没有允许使用摄像头和麦克风，对方看不到也听不到你。要允许，请点击地址栏中的摄像头图标，然后重新加载。",
    "no-device": "没有找到摄像头或麦克风。你仍然可以看到和听到对方，也可以聊天。",
    "in-use": "你的摄像头或麦克风正被其他程序使用。",
    insecure: "此页面不安全（不是 https），浏览器不提供摄像头和麦克风。",
    "audio-only": "没有找到摄像头：对方能听到你，但看不到你。",
    "video-only": "没有找到麦克风：对方能看到你，但听不到你。",
  },
};

const LANG_KEY = "duet.lang";

/**
 * The strings to show: a choice saved by the language switch, else the
 * first of navigator.languages that is Chinese or English, else English.
 * @returns {Strings}
 */
export function pickLang() {
  let saved = "";
  try {
    saved = localStorage.getItem(LANG_KEY) || "";
  } catch {
    // Storage refused (private mode): follow the browser.
  }
  if (saved === "zh") return zh;
  if (saved === "en") return en;
  for (const l of navigator.languages || [navigator.language]) {
    if (/^zh\b/i.test(l)) return zh;
    if (/^en\b/i.test(l)) return en;
  }
  return en;
}

/** Remembers the person's choice. @param {Strings} s */
export function saveLang(s) {
  try {
    localStorage.setItem(LANG_KEY, s === zh ? "zh" : "en");
  } catch {
    // Not saved; the switch still works for this page.
  }
}
