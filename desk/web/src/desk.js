// The desk page: the code field stays focused for a keyboard-wedge scanner (a code and
// Enter or Tab submit the form, no click), and the camera reads codes with
// zxing-wasm (the same zxing-cpp engine as the server's), served from this desk: nothing
// is fetched elsewhere.
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";
import { fingerprint, isWholeEnvelope, looksScanned, pickCode } from "./codes.js";

const LAST = "certfree-desk-last-code";
const CAMERA_ON = "certfree-desk-camera";

function wasmUrl() {
  const script = document.querySelector("script[data-wasm]");
  return script ? script.dataset.wasm : "zxing_reader.wasm";
}

let prepared = null;
function prepare() {
  if (prepared === null) {
    const url = wasmUrl();
    prepared = prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? url : prefix + path) },
      fireImmediately: true,
    });
  }
  return prepared;
}

// The next input is focused without scrolling: the verdict at the top stays in view. After
// an accepted code, the register form's first empty field, else its Record button (whose
// Enter records); otherwise the code field.
function focusNext() {
  const form = document.getElementById("register-form");
  let target = document.getElementById("code");
  if (form) {
    const empty = [...form.querySelectorAll("input:not([type=hidden])")].find((input) => input.value === "");
    target = empty || document.getElementById("record");
  }
  if (target) target.focus({ preventScroll: true });
}

// A clerk field marked `keep` in the scenario's policy (a patrol's place of the check) is
// filled with the value last recorded in this tab. A value is kept only once the entry is
// recorded: what the service refused (the next person's code scanned into the field) is not.
const KEPT = "certfree-desk-kept:";
const PENDING = "certfree-desk-kept-pending";

/** What the page before left for this one under ``key`` (read once: it is removed). */
function takeOnce(key) {
  const value = sessionStorage.getItem(key);
  sessionStorage.removeItem(key);
  return value;
}

function parsed(text) {
  try {
    return JSON.parse(text) || {};
  } catch {
    return {}; // not what this page wrote: nothing kept
  }
}

function keepFields() {
  const pending = parsed(takeOnce(PENDING));
  if (pending.scenario && document.getElementById("recorded")) {
    sessionStorage.setItem(KEPT + pending.scenario, JSON.stringify(pending.values));
  }
  const form = document.getElementById("register-form");
  if (!form) return;
  const fields = [...form.querySelectorAll("input[data-keep]")];
  const kept = parsed(sessionStorage.getItem(KEPT + form.dataset.scenario));
  for (const input of fields) {
    if (input.value === "" && typeof kept[input.name] === "string") input.value = kept[input.name];
  }
  form.addEventListener("submit", () => {
    const values = Object.fromEntries(fields.map((input) => [input.name, input.value]));
    sessionStorage.setItem(PENDING, JSON.stringify({ scenario: form.dataset.scenario, values }));
  });
}

function submitCode(text) {
  const form = document.getElementById("verify-form");
  const code = document.getElementById("code");
  if (!form || !code) return;
  sessionStorage.setItem(LAST, fingerprint(text));
  code.value = text;
  form.requestSubmit();
}

// A Chinese input method left on takes a wedge scanner's keys into its composition, and
// the code never arrives: the page says so and how to switch to English. What was composed
// is selected, so the next scan replaces it; typing straight into the field (English
// again) clears the warning.
function watchInputMethod() {
  const code = document.getElementById("code");
  const warning = document.getElementById("ime-warning");
  if (!code || !warning) return;
  code.addEventListener("compositionstart", () => { warning.hidden = false; });
  code.addEventListener("compositionend", () => code.select());
  code.addEventListener("input", (event) => { if (!event.isComposing) warning.hidden = true; });
}

// A scanner ends a code with Enter or with Tab (a setting in its manual; a desk seldom
// knows which), or with nothing. Enter submits the form by itself. Tab would move the focus
// from the code field to the button, and the next guest's scan would then go nowhere, so in
// the code field it submits a code instead (looksScanned). A CF1: code that is whole
// (isWholeEnvelope: a part of a code never is, so a pause in a scanner's keys on a loaded PC
// submits nothing) and that no Enter or Tab follows within SUFFIX_GRACE_MS is submitted
// without one; a JWS, whose end cannot be seen, waits for its Enter or Tab. A code is
// submitted once: a suffix later still, after a code already submitted, is swallowed, here
// or, if it comes once the verdict's page has opened, there (swallowLateSuffix).
const SUFFIX_DUE = "certfree-desk-suffix-due";
const SUFFIX_GRACE_MS = 250;
const SUFFIX_WAIT_MS = 1500;
const SUFFIX_STALE_MS = 10000;

/** Call `submit` once `SUFFIX_GRACE_MS` pass with no suffix, unless `wait` is called again
 *  first (another key) or `cancel` (the suffix came). */
function graceTimer(submit) {
  let timer = null;
  const cancel = () => { clearTimeout(timer); timer = null; };
  const wait = () => {
    cancel();
    timer = setTimeout(() => {
      timer = null;
      sessionStorage.setItem(SUFFIX_DUE, String(Date.now()));
      submit();
    }, SUFFIX_GRACE_MS);
  };
  return { wait, cancel };
}

function isSuffix(event) {
  return (event.key === "Enter" || event.key === "Tab") && !event.shiftKey && !event.isComposing;
}

function watchScanner() {
  const form = document.getElementById("verify-form");
  const code = document.getElementById("code");
  if (!form || !code) return;
  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) event.preventDefault(); // the same code twice would be refused as replayed
    sent = true;
  });
  window.addEventListener("pageshow", (event) => { if (event.persisted) sent = false; });
  const noSuffix = graceTimer(() => { if (!sent) form.requestSubmit(); });
  code.addEventListener("input", (event) => {
    noSuffix.cancel();
    if (!event.isComposing && !sent && isWholeEnvelope(code.value)) noSuffix.wait();
  });
  code.addEventListener("keydown", (event) => {
    if (!isSuffix(event)) return;
    noSuffix.cancel();
    if (sent) {
      event.preventDefault(); // the suffix of the code just submitted: it has come, and goes nowhere
      sessionStorage.removeItem(SUFFIX_DUE);
    } else if (event.key === "Tab" && looksScanned(code.value)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

// The page before submitted a whole code as its last key arrived, and the scanner's Enter
// or Tab may follow it here, where the focus is on the register form or Record: it would
// submit or record what the clerk has not yet looked at. The first Enter or Tab within
// SUFFIX_WAIT_MS of this page opening is swallowed, unless the clerk has typed something
// first. The mark stays until then, so a page that moves straight on (an entry recorded,
// then the code caught on Record verified) leaves it to the next; one older than
// SUFFIX_STALE_MS is from an earlier scan.
function swallowLateSuffix() {
  const due = Number(sessionStorage.getItem(SUFFIX_DUE));
  if (!due || Date.now() - due > SUFFIX_STALE_MS) {
    sessionStorage.removeItem(SUFFIX_DUE);
    return;
  }
  const done = () => {
    sessionStorage.removeItem(SUFFIX_DUE);
    document.removeEventListener("keydown", onKey, true);
    document.removeEventListener("input", done, true);
  };
  const onKey = (event) => {
    if (isSuffix(event)) event.preventDefault();
    done(); // the suffix, swallowed; or the clerk's own key first: no suffix is coming
  };
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("input", done, true);
  setTimeout(done, SUFFIX_WAIT_MS);
}

// The next person's code scanned while the Record button has the focus (a window matter or
// a patrol's check, whose form may need nothing typed): the button would take the code's
// first space as a click, and the rest of the code would reach the next page's code field,
// a fragment refused as malformed. Its keys are caught instead: the entry is recorded, as
// the scanner's Enter would have done, and the code is verified on the page that follows.
const NEXT_CODE = "certfree-desk-next-code";
const RECORDED_BEFORE = "certfree-desk-recorded-before";

function catchScanOnRecord() {
  const record = document.getElementById("record");
  if (!record) return;
  let typed = "";
  let recorded = false;
  const recordThenVerify = () => {
    noSuffix.cancel();
    if (looksScanned(typed)) sessionStorage.setItem(NEXT_CODE, typed);
    typed = "";
    recorded = true;
    record.click();
  };
  const noSuffix = graceTimer(recordThenVerify);
  record.addEventListener("keydown", (event) => {
    if (recorded) { // recorded once: the rest of this scan (its suffix) goes nowhere
      event.preventDefault();
      if (isSuffix(event)) sessionStorage.removeItem(SUFFIX_DUE);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === " " && typed === "") return; // the clerk's Space: a click, as always
    if (event.key.length === 1) { // a character: the scanner typing, never a click
      event.preventDefault();
      typed += event.key;
      noSuffix.cancel();
      if (isWholeEnvelope(typed)) noSuffix.wait();
    } else if ((event.key === "Enter" || event.key === "Tab") && typed !== "") {
      event.preventDefault();
      recordThenVerify();
    }
  });
  record.addEventListener("keyup", (event) => {
    if (event.key === " " && typed !== "") event.preventDefault();
  });
}

// A click anywhere on the page (to read the verdict, to scroll) takes the focus from the
// code field, and the next scan's keys would go nowhere, or to a button or the scenario
// list. Printable keys typed where no text is typed are sent to the code field instead,
// with the focus (a scan's first key moves it; the rest follow). The register form's
// fields keep theirs (a code there is refused by the service), and Record catches its own
// (catchScanOnRecord).
function catchStrayKeys() {
  const code = document.getElementById("code");
  if (!code) return;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    if (target === code || target.isContentEditable || target.id === "record") return;
    if (event.key === " " && target !== document.body) return; // Space on a button: its click (no code starts so)
    if (target instanceof HTMLTextAreaElement) return;
    if (target instanceof HTMLInputElement && !["button", "submit", "checkbox", "radio", "file"].includes(target.type)) return;
    event.preventDefault();
    code.focus({ preventScroll: true });
    code.setRangeText(event.key, code.selectionStart, code.selectionEnd, "end");
    code.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

/** The code caught on the Record button, verified once the entry it followed is recorded;
 * the verdict's page then says that entry was recorded. */
function verifyNextCode() {
  const next = takeOnce(NEXT_CODE);
  const recorded = document.getElementById("recorded");
  if (next && recorded) {
    sessionStorage.setItem(RECORDED_BEFORE, recorded.dataset.entries || "");
    submitCode(next);
    return;
  }
  const entries = takeOnce(RECORDED_BEFORE);
  const note = document.getElementById("recorded-before");
  if (entries !== null && note) {
    const numbers = entries.split(" ").filter(Boolean).map((n) => `#${n}`).join(" ");
    note.textContent = `上一位已登记 ${numbers} / the previous entry was recorded ${numbers}`;
    note.hidden = false;
  }
}

async function startCamera() {
  const video = document.getElementById("camera");
  const status = document.getElementById("camera-status");
  if (!video || !navigator.mediaDevices) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (err) {
    if (status) status.textContent = "无法打开摄像头 / the camera cannot be opened";
    sessionStorage.removeItem(CAMERA_ON);
    return;
  }
  sessionStorage.setItem(CAMERA_ON, "1");
  video.srcObject = stream;
  video.hidden = false;
  toggleButtons(true);
  await video.play();
  await prepare();
  if (status) status.textContent = "请将二维码对准摄像头 / hold the code to the camera";
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const last = sessionStorage.getItem(LAST);
  const tick = async () => {
    if (!video.srcObject) return;
    if (video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const results = await readBarcodes(frame, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 4 });
      const text = pickCode(results);
      if (text !== null && fingerprint(text) !== last) {
        stopCamera(false);
        submitCode(text);
        return;
      }
    }
    setTimeout(tick, 120);
  };
  tick();
}

function toggleButtons(on) {
  const start = document.getElementById("camera-start");
  const stop = document.getElementById("camera-stop");
  if (start) start.hidden = on;
  if (stop) stop.hidden = !on;
}

function stopCamera(forget) {
  const video = document.getElementById("camera");
  if (video && video.srcObject) {
    for (const track of video.srcObject.getTracks()) track.stop();
    video.srcObject = null;
    video.hidden = true;
  }
  toggleButtons(false);
  if (forget) sessionStorage.removeItem(CAMERA_ON);
}

function init() {
  swallowLateSuffix();
  keepFields();
  focusNext();
  watchInputMethod();
  watchScanner();
  catchScanOnRecord();
  catchStrayKeys();
  verifyNextCode();
  const start = document.getElementById("camera-start");
  if (start) start.addEventListener("click", () => startCamera());
  const stop = document.getElementById("camera-stop");
  if (stop) stop.addEventListener("click", () => stopCamera(true));
  // A new scenario or matter starts a new matter: its progress no longer applies.
  for (const id of ["scenario", "matter"]) {
    const select = document.getElementById(id);
    if (select) select.addEventListener("change", () => {
      const progress = document.querySelector("input[name=progress]");
      if (progress) progress.value = "";
      select.form.requestSubmit(document.getElementById("switch"));
    });
  }
  // ?camera=1 opens the camera on load (a desk that always scans with it); once on, it
  // stays on from one verdict to the next, skipping the code it has just read.
  if (new URLSearchParams(location.search).get("camera") === "1" || sessionStorage.getItem(CAMERA_ON) === "1") startCamera();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
