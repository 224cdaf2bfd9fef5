// controlbar.js — the bar over the stage: microphone, camera, camera
// switch, chat (with its unread badge), "more" and hang up, as icon
// buttons; the "more" menu with the rest; and hiding both bars after a few
// seconds without movement during a call, back on any touch, movement or
// key. What the media buttons do is callcontrols.js.

import { setButton } from "./icons.js";

/** Bars hide after this long without a touch, movement or key in a call. */
export const IDLE_MS = 4000;

/** @typedef {import("./store.js").AppState} AppState */

export class ControlBar {
  /**
   * @param {import("./store.js").Store<AppState>} store
   * @param {Record<string, any>} el
   * @param {{toggleChat: () => void}} actions
   */
  constructor(store, el, actions) {
    this.store = store;
    this.el = el;
    this.actions = actions;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.idleTimer = undefined;
    store.subscribe((now, before) => {
      if (now.S !== before.S || now.unread !== before.unread || now.state !== before.state) this.render();
      if (now.state !== before.state || now.panel !== before.panel) this.wake();
    });
  }

  render() {
    const { S, unread } = this.store.get();
    const el = this.el;
    setButton(el.chatButton, "chat", unread ? S.chatButton + " (" + S.unread(unread) + ")" : S.chatButton, { title: S.chatButton });
    el.unread.hidden = unread === 0;
    el.unread.textContent = unread > 9 ? "9+" : String(unread);
    setButton(el.more, "more", S.more);
    setButton(el.hangup, "hangup", S.hangup);
    const item = (/** @type {HTMLElement} */ b, /** @type {any} */ name, /** @type {string} */ label) =>
      setButton(b, name, label, { labelHidden: false });
    item(el.pip, "pip", S.pip);
    item(el.fullscreen, "fullscreen", S.fullscreen);
    item(el.devicesButton, "devices", S.devicesTitle);
    item(el.infoButton, "info", S.info);
    el.shortcuts.textContent = S.shortcuts;
  }

  /** Whether the menu is open. */
  get menuOpen() {
    return !this.el.moreMenu.hidden;
  }

  /** @param {boolean} open @param {boolean} [focusFirst] */
  setMenu(open, focusFirst = false) {
    this.el.moreMenu.hidden = !open;
    this.el.more.setAttribute("aria-expanded", String(open));
    if (open && focusFirst) this.items()[0]?.focus();
    this.wake();
  }

  /** The menu's usable items, in order. */
  items() {
    return /** @type {HTMLElement[]} */ (Array.from(this.el.moreMenu.querySelectorAll("[role^=menuitem]")))
      .filter((b) => !b.hidden && !(/** @type {HTMLButtonElement} */ (b).disabled));
  }

  /**
   * Shows the bars and starts the idle countdown again; in a call the
   * bars hide when it runs out, unless something of them is in use.
   */
  wake() {
    const stage = this.el.stage;
    stage.classList.remove("idle");
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const { state, panel } = this.store.get();
      const busy = this.menuOpen || panel !== "" || stage.querySelector(".bars:focus-within, .bars:hover");
      if (state === "connected" && !busy) stage.classList.add("idle");
      else this.wake();
    }, IDLE_MS);
  }

  wire() {
    const el = this.el;
    el.chatButton.addEventListener("click", () => this.actions.toggleChat());
    el.more.addEventListener("click", () => this.setMenu(!this.menuOpen, true));
    el.more.addEventListener("keydown", (/** @type {KeyboardEvent} */ ev) => {
      if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
        ev.preventDefault();
        this.setMenu(true, true);
      }
    });
    // An item chosen closes the menu; the item's own handler does the rest.
    el.moreMenu.addEventListener("click", (/** @type {MouseEvent} */ ev) => {
      const item = /** @type {HTMLElement} */ (ev.target).closest("[role^=menuitem]");
      if (item) this.setMenu(false);
    });
    el.moreMenu.addEventListener("keydown", (/** @type {KeyboardEvent} */ ev) => {
      const items = this.items();
      const i = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
      if (ev.key === "Escape") {
        ev.preventDefault();
        this.setMenu(false);
        el.more.focus();
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const n = items.length;
        items[(i + (ev.key === "ArrowDown" ? 1 : n - 1)) % n]?.focus();
      } else if (ev.key === "Home" || ev.key === "End") {
        ev.preventDefault();
        items[ev.key === "Home" ? 0 : items.length - 1]?.focus();
      } else if (ev.key === "Tab") {
        this.setMenu(false);
      }
    });
    // A click or tap anywhere else closes the menu.
    document.addEventListener("pointerdown", (ev) => {
      const t = /** @type {Node} */ (ev.target);
      if (this.menuOpen && !el.moreMenu.contains(t) && !el.more.contains(t)) this.setMenu(false);
    });
    for (const type of ["pointermove", "pointerdown", "keydown", "touchstart", "focusin"]) {
      document.addEventListener(type, () => this.wake(), { passive: true });
    }
    this.render();
  }
}
