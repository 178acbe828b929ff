// Keep the phone's screen on while a code is shown (the Screen Wake Lock API). A clerk may
// take a while to aim the scanner; a phone that dims or locks meanwhile makes the resident
// unlock it and open the code again. The browser drops the lock when the page is hidden, so
// it is asked for again when the page comes back. Where the browser lacks the API or refuses
// (battery saver), the screen dims as it always does.

let wanted = false;
let held = null; // the WakeLockSentinel while the browser grants it
let asking = false;

function drop() {
  const lock = held;
  held = null;
  if (lock) lock.release().catch(() => {});
}

async function ask() {
  if (!wanted || held || asking || !navigator.wakeLock || document.visibilityState !== "visible") return;
  asking = true;
  try {
    const lock = await navigator.wakeLock.request("screen");
    lock.addEventListener("release", () => { if (held === lock) held = null; });
    held = lock;
  } catch {
    // not granted: nothing to do
  }
  asking = false;
  if (!wanted) drop(); // the code page was left while the browser answered
}

/** Hold the screen on (``true``, a code is shown) or let it dim again (``false``). */
export function keepAwake(on) {
  wanted = on;
  if (on) ask();
  else drop();
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") ask();
});
