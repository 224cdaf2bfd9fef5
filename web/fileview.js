// fileview.js — one file transfer (files.js) as a list item: name and
// size, a progress bar, its state in words, cancel, and save once the
// SHA-256 matched. Updates find the item by its data-file-id.

/**
 * Draws one file transfer as a list item with a progress bar; the item
 * keeps its data-file-id so updates find it.
 * @param {HTMLElement} list the file-list element
 * @param {import("./files.js").Transfer} t
 * @param {import("./strings.js").Strings} S
 * @param {(id: string) => void} onCancel
 */
export function drawTransferItem(list, t, S, onCancel) {
  /** @type {HTMLElement|null} */
  let li = list.querySelector(`li[data-file-id="${CSS.escape(t.id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.fileId = t.id;
    li.setAttribute("data-testid", "file-transfer");
    const name = document.createElement("span");
    name.className = "file-name";
    const bar = document.createElement("progress");
    bar.setAttribute("data-testid", "file-progress");
    const status = document.createElement("span");
    status.className = "file-status";
    status.setAttribute("data-testid", "file-status");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "small";
    cancel.setAttribute("data-testid", "file-cancel");
    cancel.addEventListener("click", () => onCancel(t.id));
    const save = document.createElement("a");
    save.className = "file-save";
    save.setAttribute("data-testid", "file-save");
    li.append(name, bar, status, cancel, save);
    list.append(li);
  }
  li.dataset.dir = t.dir;
  li.dataset.state = t.state;
  const [name, bar, status, cancel, save] = /** @type {any[]} */ (Array.from(li.children));
  name.textContent = (t.dir === "out" ? "↑ " : "↓ ") + t.name + " (" + sizeText(t.size) + ")";
  bar.max = Math.max(1, t.size);
  bar.value = t.size === 0 && t.state === "done" ? 1 : t.done;
  const pct = t.size ? Math.floor((100 * t.done) / t.size) : t.state === "done" ? 100 : 0;
  bar.setAttribute("aria-label", t.name + " " + pct + " %");
  li.dataset.percent = String(pct);
  li.dataset.sha256 = t.sha256;
  const word = {
    active: t.dir === "out" ? S.fileSending : S.fileReceiving,
    verifying: S.fileReceiving,
    done: S.fileDone,
    bad: S.fileBad,
    cancelled: S.fileCancelled,
  }[t.state];
  status.textContent = word + (t.state === "active" || t.state === "verifying" ? " " + pct + " %" : "");
  cancel.textContent = S.fileCancel;
  cancel.setAttribute("aria-label", S.fileCancel + " " + t.name);
  cancel.hidden = t.state !== "active" && t.state !== "verifying";
  save.hidden = !t.url;
  if (t.url) {
    save.href = t.url;
    save.download = t.name;
    save.textContent = S.fileSave;
  }
}

/** @param {number} n bytes */
function sizeText(n) {
  if (n >= 1024 * 1024) return (n / (1024 * 1024)).toFixed(1) + " MB";
  if (n >= 1024) return Math.round(n / 1024) + " KB";
  return n + " B";
}

