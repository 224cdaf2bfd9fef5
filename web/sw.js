// sw.js — the service worker: it keeps the app shell (the page, its
// modules, styles and icons) so the app opens at once and offline. It
// caches nothing else: signaling (/ws), the API (/api/…), QR codes and
// media never pass through its cache.
//
// The server writes this build's version and shell list into the two
// placeholders below, so an upgraded server is a changed worker: it
// installs the new shell beside the old, and on activation deletes the
// old one. Versioned files live under /v/<version>/, so a page only ever
// loads modules of its own build (docs/architecture.md, "Caching").

const VERSION = "__DUET_VERSION__";
/** @type {string[]} */
const SHELL = JSON.parse('__DUET_SHELL__');
const CACHE = "duet-shell-" + VERSION;
/** Pages that are the app shell: the home page, a room, the check. */
const PAGE = /^\/(?:r\/[A-Za-z0-9_-]{1,64}|check)?$/;

self.addEventListener("install", (/** @type {any} */ ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => /** @type {any} */ (self).skipWaiting()));
});

self.addEventListener("activate", (/** @type {any} */ ev) => {
  ev.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith("duet-shell-") && k !== CACHE) await caches.delete(k);
    // The page's request starts while the worker starts, not after it.
    const reg = /** @type {any} */ (self).registration;
    if (reg.navigationPreload) await reg.navigationPreload.enable();
    await /** @type {any} */ (self).clients.claim();
  })());
});

self.addEventListener("fetch", (/** @type {any} */ ev) => {
  const req = /** @type {Request} */ (ev.request);
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && PAGE.test(url.pathname)) {
    // The network first, for this server's current page (and the right
    // language); the cached shell when there is none.
    const shell = url.pathname === "/check" ? "/check" : "/";
    ev.respondWith((async () => {
      try {
        return (await ev.preloadResponse) || (await fetch(req));
      } catch {
        return (await caches.match(shell, { cacheName: CACHE })) || Response.error();
      }
    })());
    return;
  }
  if (SHELL.includes(url.pathname)) {
    // Versioned and unchanging: from the cache, without a round trip.
    ev.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((r) => r || fetch(req)));
  }
  // Anything else goes to the network untouched.
});
