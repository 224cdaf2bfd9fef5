// strings.js — every text the person sees, in one place, so that a
// translation (中文 and others, later) is one more object of the same shape.

/** @typedef {typeof en} Strings */

export const en = {
  title: "duet",
  tagline: "A private video call for two. No account, nothing to install.",
  newCall: "Start a new call",
  joinLabel: "Or join with a code or link",
  joinPlaceholder: "Room code or link",
  joinButton: "Join",
  badCode: "That does not look like a duet room code or link.",
  shareLabel: "Send this link to the other person:",
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
