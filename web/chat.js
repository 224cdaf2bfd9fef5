// chat.js — the chat panel: the lines of both sides, the form, files (the
// picker and the transfers, files.js and fileview.js), and the app's own
// messages on the chat channel: the other side's media state and name
// (docs/protocol.md). Lines that arrive while the panel is closed count as
// unread, and the attention module hears of them when the page is hidden.

import { Files, MAX_FILE } from "./files.js";
import { drawTransferItem } from "./fileview.js";
import { cleanText } from "./text.js";

/** Longest display name, in characters (docs/protocol.md, hello). */
export const MAX_NAME = 64;

/** @typedef {import("./store.js").AppState} AppState */

export class Chat {
  /**
   * @param {import("./store.js").Store<AppState>} store
   * @param {Record<string, any>} el
   * @param {{onLine: () => void, mediaState: () => object, name: () => string}} hooks
   */
  constructor(store, el, hooks) {
    this.store = store;
    this.el = el;
    this.hooks = hooks;
    store.subscribe((now, before) => {
      if (now.S !== before.S) this.fillStrings();
      if (now.chatOpen !== before.chatOpen) this.channelChanged(now.chatOpen);
      if (now.remote.name !== before.remote.name) this.relabel();
    });
  }

  fillStrings() {
    const S = this.store.get().S;
    const el = this.el;
    el.chatTitle.textContent = S.chatTitle;
    el.chatInput.placeholder = this.store.get().chatOpen ? S.chatPlaceholder : S.chatClosed;
    el.chatInput.setAttribute("aria-label", S.chatPlaceholder);
    el.chatSend.textContent = S.chatSend;
    el.fileLabelText.textContent = S.fileLabel;
    el.fileInput.setAttribute("aria-label", S.fileLabel);
    if (!el.fileError.hidden) el.fileError.textContent = S.fileTooBig;
    this.relabel();
    const files = this.store.get().files;
    if (files) for (const t of files.all.values()) this.drawTransfer(t);
  }

  /** Names on the lines follow the language and the other side's name. */
  relabel() {
    const { S, remote } = this.store.get();
    for (const w of this.el.chatLog.querySelectorAll("li.me .who")) w.textContent = S.me;
    for (const w of this.el.chatLog.querySelectorAll("li.them .who")) w.textContent = remote.name || S.them;
  }

  /** The channel opened or closed: the form and the files follow. @param {boolean} open */
  channelChanged(open) {
    const el = this.el;
    const S = this.store.get().S;
    el.chatInput.disabled = !open;
    el.chatSend.disabled = !open;
    el.fileInput.disabled = !open;
    el.chatInput.placeholder = open ? S.chatPlaceholder : S.chatClosed;
    const old = this.store.get().files;
    if (old) old.close();
    const call = this.store.get().call;
    this.store.set({ files: open && call ? new Files(call.chat, (t) => this.drawTransfer(t)) : null });
    if (open) {
      this.send({ type: "media", ...this.hooks.mediaState() });
      this.sendHello(false);
    }
  }

  /**
   * Adds one line to the chat log; the text goes in as text, never HTML.
   * @param {"me"|"them"} who
   * @param {string} text
   */
  addLine(who, text) {
    const { S, remote, panel, unread } = this.store.get();
    const li = document.createElement("li");
    li.className = who;
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who === "me" ? S.me : remote.name || S.them;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    li.append(name, body);
    this.el.chatLog.append(li);
    this.el.chatLog.scrollTop = this.el.chatLog.scrollHeight;
    if (who === "them") {
      if (panel !== "chat") this.store.set({ unread: unread + 1 });
      this.hooks.onLine();
    }
  }

  /**
   * One message of the chat channel that is not a text line: the other
   * side's media state and name, or a file. Binary messages are file bytes.
   * @param {any} data
   */
  onChannelMessage(data) {
    const files = this.store.get().files;
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
    const remote = this.store.get().remote;
    if (msg.type === "media") {
      this.store.set({ remote: { ...remote, audio: msg.audio !== false, video: msg.video !== false, screen: msg.screen === true } });
    } else if (msg.type === "hello") {
      this.store.set({ remote: { ...remote, name: typeof msg.name === "string" ? cleanText(msg.name, MAX_NAME) : "" } });
    } else if (files) {
      files.handle(msg); // file-*; anything else is for a newer app
    }
  }

  /** @param {object} msg */
  send(msg) {
    const call = this.store.get().call;
    if (call && call.chatOpen()) call.chat.send(JSON.stringify(msg));
  }

  /** Tells the other side our name; on open only if there is one. @param {boolean} always */
  sendHello(always) {
    const name = this.hooks.name();
    if (name || always) this.send({ type: "hello", name });
  }

  /** @param {import("./files.js").Transfer} t */
  drawTransfer(t) {
    drawTransferItem(this.el.fileList, t, this.store.get().S, (id) => this.store.get().files?.cancel(id));
  }

  wire() {
    const el = this.el;
    el.chatForm.addEventListener("submit", (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const call = this.store.get().call;
      const text = el.chatInput.value.trim();
      if (!text || !call) return;
      if (call.sendChat(text)) {
        this.addLine("me", text);
        el.chatInput.value = "";
      } else if (call.chatOpen()) {
        el.chatInput.setCustomValidity(this.store.get().S.chatTooLong);
        el.chatInput.reportValidity();
      }
    });
    el.chatInput.addEventListener("input", () => el.chatInput.setCustomValidity(""));
    el.fileInput.addEventListener("change", () => {
      const files = this.store.get().files;
      const list = Array.from(/** @type {FileList} */ (el.fileInput.files));
      el.fileInput.value = "";
      el.fileError.hidden = true;
      for (const f of list) {
        if (f.size > MAX_FILE || !files) {
          el.fileError.textContent = this.store.get().S.fileTooBig;
          el.fileError.hidden = !files;
          continue;
        }
        files.send(f);
      }
    });
    this.fillStrings();
  }
}
