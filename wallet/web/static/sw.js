// The wallet's service worker (served at /wallet/sw.js, scope /wallet/). It keeps the shell
// of the wallet page so that the page opens with no network: the page itself, its script,
// style and icons. The resident's licences are not here but in IndexedDB (src/store.js);
// the API (/wallet/api/) always goes to the network. The service fills in the version (a
// digest of the shell's files: a new one installs a new worker) and the shell's URLs.

const VERSION = "__SHELL_VERSION__";
const CACHE = `certfree-wallet-${VERSION}`;
const SHELL = ["__SHELL_URLS__"];
const OFFLINE_PAGE = SHELL[0];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("certfree-wallet-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/wallet/api/")) {
    return; // the network, as without a worker
  }
  if (request.mode === "navigate") {
    // the live page when online (it knows the log-in); the kept shell when not
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_PAGE)));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
