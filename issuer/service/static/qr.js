// The QR page: count down the freshness window and fetch a new presentation before it ends.
// Once the window has passed without a new code, the code is greyed out; once the log-in
// has ended (qr.json answers 401), renewing stops and the page asks the resident to log in.
(function () {
  "use strict";
  var box = document.getElementById("qr");
  if (!box) { return; }
  var img = document.getElementById("qr-image");
  var countdown = document.getElementById("countdown");
  var qrVersion = document.getElementById("qr-version");
  var ended = document.getElementById("qr-ended");
  var url = box.dataset.jsonUrl;
  var state = {};
  var offset = 0; // server time minus browser time, in seconds
  var busy = false;
  var stopped = false;
  var timer = null;

  function serverNow() { return Date.now() / 1000 + offset; }

  function apply(data) {
    offset = data.now - Date.now() / 1000;
    state = { freshUntil: data.fresh_until, renewAt: data.renew_at };
    if (data.png) { img.src = data.png; }
    img.dataset.presentedAt = String(data.presented_at);
    box.dataset.presentedAt = String(data.presented_at);
    if (data.version && qrVersion) { qrVersion.textContent = String(data.version); }
  }

  function loggedOut() {
    stopped = true;
    clearInterval(timer);
    box.classList.add("stale");
    img.hidden = true; // a code that no desk will accept is not shown
    countdown.textContent = "0";
    if (ended) { ended.hidden = false; } // "请重新登录 / please log in again", with the link
  }

  function renew() {
    if (busy || stopped) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { loggedOut(); return; } // the log-in has ended
        if (!r.ok) { throw new Error(r.status); }
        return r.json().then(apply);
      })
      .catch(function () { state.renewAt = serverNow() + 2; }) // retry shortly
      .then(function () { busy = false; });
  }

  function tick() {
    if (stopped) { return; }
    var now = serverNow();
    countdown.textContent = String(Math.max(0, Math.ceil(state.freshUntil - now)));
    box.classList.toggle("stale", now >= state.freshUntil); // a desk would refuse this code
    if (now >= state.renewAt) { renew(); }
  }

  apply({
    now: Number(box.dataset.now),
    fresh_until: Number(box.dataset.freshUntil),
    renew_at: Number(box.dataset.renewAt),
    presented_at: Number(box.dataset.presentedAt)
  });
  tick();
  timer = setInterval(tick, 250);
})();
