// panels.js — chat, devices and connection info as drawers beside the
// stage (below it on a narrow screen): one open at a time, named by the
// store's "panel". Opening one shows it in view and moves the focus into
// it; Escape or its close button closes it and gives the focus back to
// what had it. They are not modal: the call's own buttons stay usable
// while one is open, as in every call app.

import { setButton } from "./icons.js";

/**
 * @typedef {import("./store.js").AppState} AppState
 * @typedef {import("./store.js").Panel} Panel
 */

export class Panels {
  /**
   * @param {import("./store.js").Store<AppState>} store
   * @param {Record<Exclude<Panel, "">, {panel: HTMLElement, button: HTMLElement, focus: () => HTMLElement|null}>} panels
   */
  constructor(store, panels) {
    this.store = store;
    this.panels = panels;
    /** @type {HTMLElement|null} where the focus goes back to on close */
    this.returnTo = null;
    store.subscribe((now, before) => {
      if (now.panel !== before.panel) this.show(now.panel, before.panel);
      if (now.S !== before.S) this.fillStrings();
    });
  }

  /** Opens p, or closes it if it is the one open. @param {Exclude<Panel, "">} p */
  toggle(p) {
    const open = this.store.get().panel;
    if (open === p) this.close();
    else this.open(p);
  }

  /** @param {Exclude<Panel, "">} p */
  open(p) {
    const active = /** @type {HTMLElement|null} */ (document.activeElement);
    // Opened from the more menu, the focus goes back to "more" (the menu
    // closes), not to an item of a closed menu.
    if (!this.store.get().panel) this.returnTo = active && active.closest("[role=menu]") ? document.getElementById("more") : active;
    const patch = /** @type {Partial<AppState>} */ ({ panel: p });
    if (p === "chat") patch.unread = 0;
    this.store.set(patch);
  }

  close() {
    if (!this.store.get().panel) return;
    this.store.set({ panel: "" });
    const back = this.returnTo;
    this.returnTo = null;
    if (back && back.isConnected && !back.closest("[hidden]")) back.focus();
  }

  /** @param {Panel} now @param {Panel} before */
  show(now, before) {
    for (const [name, p] of Object.entries(this.panels)) {
      p.panel.hidden = name !== now;
      p.button.setAttribute("aria-expanded", String(name === now));
    }
    document.body.dataset.panel = now;
    if (now) {
      const p = this.panels[now];
      p.panel.scrollIntoView({ block: "nearest" });
      const target = p.focus() || p.panel.querySelector("h2");
      if (target) target.focus({ preventScroll: true });
    } else if (before && this.panels[before].panel.contains(document.activeElement)) {
      /** @type {HTMLElement} */ (document.activeElement).blur();
    }
  }

  fillStrings() {
    const S = this.store.get().S;
    for (const b of document.querySelectorAll("button[data-close]")) setButton(/** @type {HTMLElement} */ (b), "close", S.close);
  }

  wire() {
    for (const b of document.querySelectorAll("button[data-close]")) b.addEventListener("click", () => this.close());
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || ev.defaultPrevented || !this.store.get().panel) return;
      ev.preventDefault();
      this.close();
    });
    this.fillStrings();
  }
}
