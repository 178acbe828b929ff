// The QR page: count down the freshness window and fetch a new presentation before it ends.
(function () {
  "use strict";
  var box = document.getElementById("qr");
  if (!box) { return; }
  var img = document.getElementById("qr-image");
  var countdown = document.getElementById("countdown");
  var qrVersion = document.getElementById("qr-version");
  var url = box.dataset.jsonUrl;
  var state = {};
  var offset = 0; // server time minus browser time, in seconds
  var busy = false;

  function serverNow() { return Date.now() / 1000 + offset; }

  function apply(data) {
    offset = data.now - Date.now() / 1000;
    state = { freshUntil: data.fresh_until, renewAt: data.renew_at };
    if (data.png) { img.src = data.png; }
    img.dataset.presentedAt = String(data.presented_at);
    box.dataset.presentedAt = String(data.presented_at);
    if (data.version && qrVersion) { qrVersion.textContent = String(data.version); }
  }

  function renew() {
    if (busy) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(apply)
      .catch(function () { state.renewAt = serverNow() + 2; }) // retry shortly
      .then(function () { busy = false; });
  }

  function tick() {
    var now = serverNow();
    countdown.textContent = String(Math.max(0, Math.ceil(state.freshUntil - now)));
    if (now >= state.renewAt) { renew(); }
  }

  apply({
    now: Number(box.dataset.now),
    fresh_until: Number(box.dataset.freshUntil),
    renew_at: Number(box.dataset.renewAt),
    presented_at: Number(box.dataset.presentedAt)
  });
  tick();
  setInterval(tick, 250);
})();
