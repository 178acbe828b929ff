// The service's wallet API (wallet/web/api.py), used only when the phone has a network.

import { signChallenge } from "./device.js";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "network";
    this.messageZh = body && body.message_zh;
    this.messageEn = body && body.message;
  }
}

async function call(method, path, { body, csrf } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: "offline", message: "no network", message_zh: "无网络" });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** POST ``path`` with a fresh challenge signed by the device for ``purpose``. */
async function proven(path, purpose, privateKey, fields) {
  const { challenge, csrf } = await call("GET", "/wallet/api/challenge");
  const signature = await signChallenge(privateKey, purpose, challenge);
  return call("POST", path, { body: { ...fields, challenge, signature }, csrf });
}

export function enrol(keyPair, jwk, label) {
  return proven("/wallet/api/devices", "enrol", keyPair.privateKey, { jwk, label });
}

export function sync(device) {
  return proven("/wallet/api/sync", "sync", device.keyPair.privateKey, { jwk: device.jwk });
}

export function devices() {
  return call("GET", "/wallet/api/devices");
}

export async function removeDevice(id) {
  const { csrf } = await call("GET", "/wallet/api/challenge");
  return call("POST", `/wallet/api/devices/${encodeURIComponent(id)}/remove`, { body: {}, csrf });
}
