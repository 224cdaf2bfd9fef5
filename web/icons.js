// icons.js — the control bar's icons, drawn here as inline SVG (24 × 24,
// stroked in currentColor, so they follow the button's colour and the
// contrast rules): no icon font or image to fetch, nothing a CSP must
// allow. Every icon is decoration: the button's accessible name is its
// text label (docs/ui.md).

const NS = "http://www.w3.org/2000/svg";

/** @typedef {[string, Record<string, string|number>][]} Shape */

/** @type {Record<string, Shape>} */
const SHAPES = {
  mic: [["rect", { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ["path", { d: "M5 11a7 7 0 0 0 14 0M12 18v3" }]],
  micOff: [["rect", { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ["path", { d: "M5 11a7 7 0 0 0 14 0M12 18v3M3 3l18 18" }]],
  camera: [["rect", { x: 2, y: 6, width: 13, height: 12, rx: 2 }], ["path", { d: "M15 10l7-4v12l-7-4z" }]],
  cameraOff: [["rect", { x: 2, y: 6, width: 13, height: 12, rx: 2 }], ["path", { d: "M15 10l7-4v12l-7-4zM2 3l19 18" }]],
  flip: [["path", { d: "M4 12a8 8 0 0 1 14-5.3M20 12a8 8 0 0 1-14 5.3M18 3v4h-4M6 21v-4h4" }]],
  chat: [["path", { d: "M4 5h16v11H9l-5 4z" }]],
  more: [["circle", { cx: 5, cy: 12, r: 1.6, fill: "currentColor" }], ["circle", { cx: 12, cy: 12, r: 1.6, fill: "currentColor" }],
    ["circle", { cx: 19, cy: 12, r: 1.6, fill: "currentColor" }]],
  hangup: [["path", { d: "M3 14c5-5 13-5 18 0l-2 3-4-1v-2.5c-2-.7-4-.7-6 0V16l-4 1z", fill: "currentColor" }]],
  screen: [["rect", { x: 2, y: 4, width: 20, height: 13, rx: 2 }], ["path", { d: "M8 21h8M12 17v4" }]],
  pip: [["rect", { x: 2, y: 4, width: 20, height: 16, rx: 2 }], ["rect", { x: 12, y: 11, width: 7, height: 6, fill: "currentColor" }]],
  fullscreen: [["path", { d: "M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5" }]],
  devices: [["path", { d: "M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1" }], ["circle", { cx: 15, cy: 6, r: 2 }],
    ["circle", { cx: 9, cy: 12, r: 2 }], ["circle", { cx: 17, cy: 18, r: 2 }]],
  info: [["circle", { cx: 12, cy: 12, r: 10 }], ["path", { d: "M12 11v6" }], ["circle", { cx: 12, cy: 7.5, r: 1, fill: "currentColor" }]],
  music: [["path", { d: "M9 18V5l11-2v13" }], ["circle", { cx: 6, cy: 18, r: 3 }], ["circle", { cx: 17, cy: 16, r: 3 }]],
  bell: [["path", { d: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0" }]],
  globe: [["circle", { cx: 12, cy: 12, r: 10 }], ["ellipse", { cx: 12, cy: 12, rx: 4, ry: 10 }], ["path", { d: "M2 12h20" }]],
  close: [["path", { d: "M6 6l12 12M18 6L6 18" }]],
  person: [["circle", { cx: 12, cy: 8, r: 4 }], ["path", { d: "M4 21a8 8 0 0 1 16 0" }]],
};

/**
 * A new SVG element of the named icon, hidden from screen readers.
 * @param {keyof typeof SHAPES} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = document.createElementNS(NS, "svg");
  for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: 24, height: 24, fill: "none", stroke: "currentColor",
    "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" })) {
    svg.setAttribute(k, String(v));
  }
  svg.classList.add("icon");
  svg.dataset.icon = name;
  for (const [tag, attrs] of SHAPES[name]) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    svg.append(e);
  }
  return svg;
}

/**
 * Gives a button an icon and a label: the label is the button's text (so
 * its accessible name, and what tests read), visually hidden when
 * labelHidden; the title is the tooltip. Only what changed is redrawn.
 * @param {HTMLElement} button
 * @param {keyof typeof SHAPES} name
 * @param {string} label
 * @param {{title?: string, labelHidden?: boolean}} [opts]
 */
export function setButton(button, name, label, opts = {}) {
  let svg = /** @type {SVGSVGElement|null} */ (button.querySelector("svg.icon"));
  if (!svg || svg.dataset.icon !== name) {
    const fresh = icon(name);
    if (svg) svg.replaceWith(fresh);
    else button.prepend(fresh);
  }
  let text = /** @type {HTMLElement|null} */ (button.querySelector(".label"));
  if (!text) {
    text = document.createElement("span");
    text.className = "label";
    button.querySelector("svg.icon")?.after(text);
  }
  text.classList.toggle("sr-only", opts.labelHidden !== false);
  if (text.textContent !== label) text.textContent = label;
  button.title = opts.title || label;
}
