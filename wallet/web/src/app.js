// The wallet page: lists the licences the phone holds, shows a fresh code for a licence and
// a scenario (#/<licence_type>/<scenario>), enrols the phone, and syncs with the service
// whenever there is a network. Everything a code needs is on the phone.

import * as api from "./api.js";
import { keepAwake } from "./awake.js";
import { newDeviceKey, present, publicJwk, thumbprint } from "./device.js";
import { splitCompact } from "./envelope.js";
import { draw } from "./qr.js";
import * as store from "./store.js";
import { $, ago, el, show, stateLabel } from "./ui.js";

const RENEW_DAYS = 7; // views are renewed by the service when this little is left (issuer VIEW_RENEW_DAYS)
const RENEW_MARGIN = 10; // a new code this many seconds before the old one goes stale

// turn: counts the code pages opened; a page's late work (a slow signature) checks it is still the one shown
const state = { device: null, licences: [], meta: null, loggedIn: "", online: false, timer: null, turn: 0 };

const phoneNow = () => Date.now() / 1000;
const serviceNow = () => phoneNow() + ((state.meta && state.meta.offset) || 0);

function viewClaims(jws) {
  return JSON.parse(splitCompact(jws)[1]);
}

function viewUsable(jws, now) {
  const c = viewClaims(jws);
  return (c.nbf ?? c.iat) <= now && now < c.exp;
}

function scenarioTitle(name) {
  const s = state.meta && state.meta.scenarios && state.meta.scenarios[name];
  return s ? [s.title_zh, s.title_en] : [name, ""];
}

// ---- the list -----------------------------------------------------------------------------

function renewNote(licence, now) {
  if (licence.state !== "valid") {
    return el("p", { class: "error renew" },
      `此证照${stateLabel(licence.state)}，二维码无法更新，请联系签发机关 / This licence is ${licence.state}: its codes cannot be renewed; contact the issuer`);
  }
  const ends = Object.values(licence.views).map((jws) => viewClaims(jws).exp);
  if (!ends.length) return null;
  const left = Math.min(...ends) - now;
  if (left <= 0) return el("p", { class: "error renew" }, "二维码凭证已过期，请联网更新 / Codes expired: connect to the network to renew");
  if (left < RENEW_DAYS * 86400) {
    const days = Math.max(1, Math.floor(left / 86400));
    return el("p", { class: "warning renew" }, `${days} 天后到期，请联网更新 / Ends in ${days} d: connect to renew`);
  }
  return null;
}

function card(licence, now) {
  const face = licence.face;
  const links = Object.keys(licence.views).map((name) => {
    const [zh, en] = scenarioTitle(name);
    // the licence's own id: a resident may hold two of a type (two e-bikes, two cars)
    return el("a", { class: "scenario", href: `#/${licence.type}/${name}/${licence.id}`, "data-scenario": name }, zh, el("small", {}, en));
  });
  return el("li", { class: `licence state-${licence.state}`, "data-type": licence.type, "data-id": licence.id },
    el("div", { class: "face" },
      el("h2", {}, face.title_zh, " ", el("small", {}, face.title_en)),
      el("p", { class: "holder" }, face.name),
      el("p", { class: "number" }, face.number),
      face.valid_until ? el("p", { class: "valid" }, `有效期至 Valid until ${face.valid_until}`) : null,
      el("p", { class: `state state-${licence.state}` }, stateLabel(licence.state))),
    renewNote(licence, now),
    links.length ? el("p", { class: "show-label" }, "出示二维码 Show a code:") : null,
    links.length ? el("nav", { class: "scenarios" }, ...links)
      : el("p", { class: "muted" }, "暂无可出示的二维码 / No code to show for this licence"));
}

function renderList() {
  const list = $("#licences");
  list.replaceChildren(...state.licences.map((l) => card(l, serviceNow())));
  show("#list-section", state.device !== null);
  show("#no-licences", state.device !== null && state.licences.length === 0);
}

function renderNet(message) {
  const net = $("#net");
  const meta = state.meta;
  const offline = !navigator.onLine;
  const age = meta ? phoneNow() - meta.syncedAt : 0;
  const copy = meta ? `本机副本更新于${ago(age, "zh")} / copy from ${ago(age, "en")}` : "";
  if (message) net.textContent = message;
  else if (state.online) net.textContent = `已同步 Synced · ${copy}`;
  else if (offline) net.textContent = copy ? `离线 Offline · ${copy}` : "离线 Offline";
  else if (state.loggedIn === "0" && state.device !== null) {
    net.textContent = `未登录：二维码仍可出示，登录后可更新 / Not logged in: codes still work; log in to renew them · ${copy}`;
  } else net.textContent = copy; // online, not synced: say how old the copy is
  net.classList.toggle("offline", offline || (Boolean(copy) && !state.online));
}

// ---- one code ----------------------------------------------------------------------------

function stopCode() {
  clearInterval(state.timer);
  state.timer = null;
  state.turn += 1; // a code page still signing draws nothing, and starts no timer, once it ends
  keepAwake(false);
}

/** The code page of licence ``id`` for ``scenario``; without an id (a bookmark of the type),
 * the first licence of ``type`` whose code is usable. */
async function showCode(type, scenario, id) {
  stopCode();
  const turn = state.turn;
  show("#list-section", false);
  show("#code-section", true);
  const [zh, en] = scenarioTitle(scenario);
  $("#code-scenario").textContent = `${zh} · ${en}`;
  const canvas = $("#qr");
  const problem = $("#code-problem");
  problem.hidden = true;
  const now = serviceNow();
  const held = state.licences.filter((l) => l.type === type && l.views[scenario] && (!id || l.id === id));
  const licence = held.find((l) => viewUsable(l.views[scenario], now)) || held[0];
  $("#code-title").replaceChildren(...(licence ? [licence.face.title_zh, " ", el("small", {}, licence.face.title_en)] : [type]));
  $("#code-number").textContent = licence ? licence.face.number : "";
  const refuse = (text) => {
    canvas.hidden = true;
    $("#code-timer").hidden = true;
    problem.textContent = text;
    problem.hidden = false;
  };
  if (!state.device) return refuse("本机尚未启用证照，请先登录并启用 / This phone is not enabled yet: log in and enable it first");
  if (!licence && id) return refuse("本机已没有这张证照（可能已重新签发），请返回列表重新选择 / This phone no longer holds this licence (it may have been re-issued): go back to the list and choose again");
  if (!licence) return refuse("本机没有可用于此场景的证照 / This phone holds no licence for this place");
  if (!viewUsable(licence.views[scenario], now)) return refuse("此二维码凭证已过期，请联网更新 / This licence's code has expired: connect to the network to renew it");
  $("#code-state").hidden = licence.state === "valid";
  $("#code-state").textContent = `此证照${stateLabel(licence.state)}，核验将不通过 / This licence is ${licence.state}: desks will refuse it`;
  const freshness = (state.meta.scenarios[scenario] || {}).freshness || 60;
  const margin = Math.min(RENEW_MARGIN, Math.max(1, Math.floor(freshness / 3)));
  let freshUntil = 0;
  let renewing = false;
  const renew = async () => {
    renewing = true;
    const started = performance.now();
    const iat = Math.floor(serviceNow());
    const text = await present(licence.views[scenario], state.device.keyPair.privateKey, iat);
    if (turn !== state.turn) return; // another page was opened while this code was signed
    const box = $("#qr-box");
    // as wide as the screen allows, and the countdown still in view under it
    draw(canvas, text, Math.min(box.clientWidth, 560, Math.max(240, window.innerHeight - 320)));
    canvas.hidden = false;
    $("#code-timer").hidden = false;
    canvas.dataset.presentedAt = String(iat);
    canvas.dataset.buildMs = (performance.now() - started).toFixed(2);
    canvas.classList.remove("stale");
    freshUntil = iat + freshness;
    renewing = false;
  };
  const tick = () => {
    const left = freshUntil - serviceNow();
    $("#countdown").textContent = String(Math.max(0, Math.ceil(left)));
    canvas.classList.toggle("stale", left <= 0);
    if (left <= margin && !renewing) renew().catch(() => { renewing = false; });
  };
  await renew();
  if (turn !== state.turn) return;
  keepAwake(true);
  tick();
  state.timer = setInterval(tick, 250);
}

// ---- routing, enrolment, sync ----------------------------------------------------------------

function route() {
  const match = /^#\/([a-z_]+)\/([a-z_]+)(?:\/([A-Za-z0-9_-]+))?$/.exec(location.hash);
  if (match) return showCode(match[1], match[2], match[3]);
  stopCode();
  show("#code-section", false);
  renderList();
}

function showEnrol(message) {
  const needed = state.loggedIn === "1" && state.device === null;
  show("#enrol-section", needed);
  // the kept shell (no network, log-in unknown) on a phone not enabled: say what to do
  show("#offline-section", state.loggedIn === "" && state.device === null);
  const error = $("#enrol-error");
  error.hidden = !message;
  error.textContent = message || "";
}

function label() {
  const ua = navigator.userAgent;
  const kind = /iPhone|iPad/.test(ua) ? "iPhone" : /Android/.test(ua) ? "Android" : "浏览器 browser";
  return kind;
}

async function enrol() {
  const button = $("#enrol-device");
  button.disabled = true;
  try {
    const keyPair = await newDeviceKey();
    const jwk = await publicJwk(keyPair.publicKey);
    await api.enrol(keyPair, jwk, label());
    state.device = { keyPair, jwk, thumbprint: await thumbprint(jwk), account: $("#app").dataset.account };
    await store.putDevice(state.device);
    store.keepOnThisPhone();
    showEnrol(null);
    await sync();
  } catch (err) {
    showEnrol(err.messageZh ? `${err.messageZh} / ${err.messageEn}` : "启用失败，请联网后重试 / Could not enable: try again with a network");
  } finally {
    button.disabled = false;
  }
}

async function sync() {
  if (!state.device) return;
  try {
    const data = await api.sync(state.device);
    const meta = { syncedAt: phoneNow(), offset: data.now - phoneNow(), scenarios: data.scenarios,
      order: data.licences.map((l) => l.id) }; // the service's order (ID card first), kept for offline
    await store.saveSync(data.licences, meta);
    state.licences = data.licences;
    state.meta = meta;
    state.online = true;
    renderNet();
    route();
    loadDevices();
  } catch (err) {
    state.online = false;
    if (err.code === "device_not_enrolled") {
      await store.forgetDevice();
      Object.assign(state, { device: null, licences: [], meta: null });
      route();
      showEnrol("本机已被其他手机取代或已移除，请重新启用 / Another phone replaced this one, or it was removed: enable this phone again");
    } else if (err.status === 401) {
      renderNet("登录已过期，二维码仍可出示；请登录以更新 / Logged out: codes still work; log in to renew");
    } else {
      renderNet();
    }
  }
}

async function loadDevices() {
  let data;
  try {
    data = await api.devices();
  } catch {
    return;
  }
  const mine = state.device && state.device.thumbprint;
  const items = data.devices.filter((d) => d.removed_at === null).map((d) => {
    const remove = el("button", { type: "button", class: "link", "data-device": String(d.id) }, "移除 Remove");
    remove.addEventListener("click", () => removeDevice(d, d.thumbprint === mine));
    return el("li", {}, el("span", {}, d.label, d.thumbprint === mine ? el("strong", {}, " · 本机 this phone") : ""),
      el("small", {}, `启用于 enrolled ${new Date(d.created_at * 1000).toISOString().slice(0, 10)}`), remove);
  });
  $("#devices").replaceChildren(...items);
  show("#devices-section", items.length > 0);
}

async function removeDevice(device, isThis) {
  const ask = isThis ? "移除本机后，本机的二维码将失效。确定？ / Remove this phone? Its codes will stop working."
    : "移除该设备后，其二维码将失效。确定？ / Remove that device? Its codes will stop working.";
  if (!window.confirm(ask)) return;
  try {
    await api.removeDevice(device.id);
  } catch {
    return renderNet("移除失败，请联网后重试 / Could not remove: try again with a network");
  }
  if (isThis) {
    await store.forgetDevice();
    Object.assign(state, { device: null, licences: [], meta: null });
    route();
    showEnrol(null);
  }
  loadDevices();
}

/** The licences as the service listed them at the last sync (IndexedDB gives them by id). */
function inServiceOrder(licences, meta) {
  const order = (meta && meta.order) || [];
  const place = (l) => { const i = order.indexOf(l.id); return i < 0 ? order.length : i; };
  return [...licences].sort((a, b) => place(a) - place(b));
}

/** A phone kept by one resident and logged in by another (a family's shared phone, a phone
 * handed on): the first one's key and licences leave it before anything is drawn. Returns
 * whether they did. A device kept before the phone recorded its resident takes the one
 * logged in; the next sync refuses it if it is someone else's. */
async function leaveOnlyTheLoggedInResident(account) {
  if (state.loggedIn !== "1" || state.device === null || !account) return false;
  if (!state.device.account) {
    state.device.account = account;
    await store.putDevice(state.device);
    return false;
  }
  if (state.device.account === account) return false;
  await store.forgetDevice();
  Object.assign(state, { device: null, licences: [], meta: null });
  return true;
}

// An explicit log-out takes the resident's key and licences off the phone, so a phone lent
// or handed on after it shows no one's codes. (A session that merely ends keeps them: the
// codes still work.) Asked first; done only once the service has logged the resident out.
async function logOut(event) {
  if (state.device === null) return; // nothing on the phone: the form goes as it is
  event.preventDefault();
  const ask = "退出登录将从本机清除您的证照，本机的二维码随即失效；再次使用需联网登录并启用本机。确定退出？\n"
    + "Logging out removes your licences from this phone and ends its codes; to use them again, log in with a network and enable it. Log out?";
  if (!window.confirm(ask)) return;
  const form = event.target;
  const body = new FormData(form);
  body.set("device", state.device.thumbprint); // the service removes this phone's device with the log-out
  let answer;
  try {
    answer = await fetch(form.action, { method: "POST", body });
  } catch {
    answer = null;
  }
  if (!answer || !answer.ok) return renderNet("退出失败，请联网后重试；证照仍在本机 / Could not log out: try again with a network; the licences are still here");
  await store.forgetDevice();
  location.assign(answer.url);
}

const PROBE_SECONDS = 5;

// The kept shell (log-in unknown) on a phone not enabled has nothing to show: the live page
// (log-in, enrolment) as soon as the service answers. Asked when the network comes back and
// every few seconds after, as the first request after a network change can still fail.
function watchForService() {
  if (state.loggedIn !== "" || state.device !== null) return;
  const probe = async () => {
    if (!navigator.onLine) return;
    try {
      // HEAD, which the service worker leaves to the network (it answers GETs from its cache)
      const answer = await fetch(location.pathname, { method: "HEAD", cache: "no-store" });
      if (answer.ok) location.reload();
    } catch {
      // not yet: the next probe
    }
  };
  window.addEventListener("online", probe);
  setInterval(probe, PROBE_SECONDS * 1000);
}

export async function start() {
  const app = $("#app");
  state.loggedIn = app.dataset.loggedIn || "";
  const loginForm = $("#login-form");
  if (loginForm) loginForm.addEventListener("submit", () => sessionStorage.setItem("certfree-next", location.hash));
  const next = sessionStorage.getItem("certfree-next");
  if (next && state.loggedIn === "1" && !location.hash) location.hash = next;
  sessionStorage.removeItem("certfree-next");
  [state.device, state.licences, state.meta] = await Promise.all([store.getDevice(), store.getLicences(), store.getMeta()]);
  state.device ??= null;
  state.licences = inServiceOrder(state.licences, state.meta);
  const otherResident = await leaveOnlyTheLoggedInResident(app.dataset.account || "");
  if (state.loggedIn === "0" && state.device !== null) {
    // logged out (the session ended) on a phone that holds licences: they come first, still
    // usable; the log-in form, to renew them, under them
    $("#app").append($("#login-section"));
  }
  $("#enrol-device").addEventListener("click", enrol);
  const logout = $("#logout");
  if (logout) logout.form.addEventListener("submit", logOut);
  $("#offline-retry").addEventListener("click", () => location.reload());
  window.addEventListener("hashchange", route);
  window.addEventListener("online", sync);
  window.addEventListener("offline", () => { state.online = false; renderNet(); });
  showEnrol(otherResident ? "本机此前保存的是另一位居民的证照，已从本机清除 / This phone held another resident's licences: they are cleared from it" : null);
  renderNet();
  await route();
  watchForService();
  if (state.device !== null) store.keepOnThisPhone();
  app.dataset.ready = "1";
  if (state.loggedIn === "1" && navigator.onLine) await sync();
}
