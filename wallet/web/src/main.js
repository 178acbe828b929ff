// The wallet page's entry point (bundled into static/wallet.js): install the service worker
// that keeps the page for offline use, then start the wallet.

import { start } from "./app.js";

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/wallet/sw.js", { scope: "/wallet/" }).catch(() => {});
}
start().catch((err) => {
  const problem = document.querySelector("#net");
  if (problem) problem.textContent = `钱包无法启动 / The wallet could not start: ${err && err.name}`;
});
