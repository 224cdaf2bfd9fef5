// home.js — the home page: start a new call, or join one by its code or a
// pasted link.

import { newRoomId, ROOM_RE } from "./signaling.js";

/** Goes to a room page, keeping the query (such as ?relay=1). @param {string} id */
function goToRoom(id) {
  location.assign("/r/" + id + location.search);
}

/** The room id in a code or a pasted link, or "". @param {string} input */
export function parseRoom(input) {
  const s = input.trim();
  const m = s.match(/\/r\/([A-Za-z0-9_-]{1,64})(?:[?#/]|$)/);
  if (m) return m[1];
  return ROOM_RE.test(s) ? s : "";
}

/**
 * Wires the home page's buttons and form.
 * @param {Record<string, any>} el @param {() => import("./strings.js").Strings} strings
 */
export function wireHome(el, strings) {
  el.newCall.addEventListener("click", () => goToRoom(newRoomId()));
  el.joinForm.addEventListener("submit", (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const id = parseRoom(el.joinCode.value);
    el.joinError.textContent = id ? "" : strings().badCode;
    el.joinError.hidden = !!id;
    if (id) goToRoom(id);
  });
}
