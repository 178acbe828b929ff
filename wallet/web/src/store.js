// What the phone keeps, in IndexedDB (database "certfree-wallet"):
//   device    "current" -> {keyPair (CryptoKey objects; the private one not extractable), jwk, thumbprint,
//                           account (the public id of the resident who enabled the phone)}
//   licences  id -> the licence as the service sent it (type, state, card face, views)
//   meta      "sync" -> {syncedAt (phone time), offset (service minus phone, s), scenarios}

import { openDB } from "idb";

const DB = "certfree-wallet";

let opened = null;

function db() {
  opened ??= openDB(DB, 1, {
    upgrade(d) {
      d.createObjectStore("device");
      d.createObjectStore("licences", { keyPath: "id" });
      d.createObjectStore("meta");
    },
  });
  return opened;
}

export async function getDevice() {
  return (await db()).get("device", "current");
}

export async function putDevice(device) {
  return (await db()).put("device", device, "current");
}

export async function getLicences() {
  return (await db()).getAll("licences");
}

export async function getMeta() {
  return (await db()).get("meta", "sync");
}

/** Replace the licences and the sync record in one transaction: never half of a sync. */
export async function saveSync(licences, meta) {
  const tx = (await db()).transaction(["licences", "meta"], "readwrite");
  const store = tx.objectStore("licences");
  await store.clear();
  for (const licence of licences) await store.put(licence);
  await tx.objectStore("meta").put(meta, "sync");
  await tx.done;
}

/** This phone is no longer the resident's device: forget its key and licences. */
export async function forgetDevice() {
  const tx = (await db()).transaction(["device", "licences", "meta"], "readwrite");
  await Promise.all([tx.objectStore("device").clear(), tx.objectStore("licences").clear(), tx.objectStore("meta").clear()]);
  await tx.done;
}

/**
 * Ask the browser to keep this storage (the device key and the licences) when space runs
 * low or the site goes unvisited: Safari clears a site's storage after seven days without
 * a visit unless it is kept, and a phone with no network then has no code to show. The
 * browser decides (Chromium by how the site is used, installed or bookmarked; Firefox asks
 * the user once); asked again at each start until it says yes.
 */
export async function keepOnThisPhone() {
  const storage = navigator.storage;
  if (!storage || !storage.persist) return false;
  try {
    return (await storage.persisted()) || (await storage.persist());
  } catch {
    return false;
  }
}
