// strings.js — every text the person sees comes from one of two objects of
// the same shape: en (strings-en.js) and zh (strings-zh.js, Simplified
// Chinese). pickLang chooses one from a saved choice or the browser's
// languages.

import { en } from "./strings-en.js";
import { zh } from "./strings-zh.js";

export { en, zh };

/** @typedef {import("./strings-en.js").Strings} Strings */

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
