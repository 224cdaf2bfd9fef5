// text.js — what the other side says of itself (a display name, a file
// name) made safe to show: control characters and the bidirectional
// formatting characters are removed, so "\u202Egnp.exe" reads as the
// gnp.exe it is and not as "exe.png", and no line break or NUL gets into
// a label. No DOM here.

/**
 * C0 and C1 controls, the bidi marks, embeddings, overrides and isolates
 * (U+200E, U+200F, U+061C, U+202A–U+202E, U+2066–U+2069), line and
 * paragraph separators and the BOM.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * The text with every unsafe character removed and the ends trimmed,
 * cut to at most max characters.
 * @param {string} s @param {number} max
 */
export function cleanText(s, max) {
  return String(s).replace(UNSAFE, "").trim().slice(0, max);
}
