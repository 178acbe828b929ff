// Pure helpers for the desk page (no DOM): which of the codes in view is a certfree code,
// what a scanner or a paste typed, whether a scanner has typed a whole code, and a short
// fingerprint to skip the code just verified.

import { decode as b45decode } from "@digitalbazaar/base45";
import { Decoder } from "cbor-x";

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether a decoded QR text is a certfree code: the CF1: envelope or a compact JWS. */
export function isCertfreeText(text) {
  if (typeof text !== "string") return false;
  const t = text.trim();
  return t.startsWith("CF1:") || COMPACT_JWS.test(t);
}

const SCANNED = /^(CF1|cf1):./;

/**
 * Whether the code field holds what a scanner types: a certfree envelope (`cf1:` when
 * the desk's Caps Lock is on; the verifier reads it as the same code) or a compact JWS.
 * Only such text is submitted by a Tab (see desk.js, watchScanner).
 */
export function looksScanned(text) {
  const t = String(text ?? "").trim();
  return SCANNED.test(t) || COMPACT_JWS.test(t);
}

const BASE45 = /^[0-9A-Z $%*+\-./:]+$/;
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false });
const ENVELOPE_ITEMS = new Set([4, 7]); // a credential or view alone; with a holder proof

/**
 * Whether `text` is a whole CF1: envelope: `CF1:` (`cf1:` and lower case throughout when
 * the desk's Caps Lock is on) then base45 of exactly one CBOR array of 4 or 7 items with
 * nothing after it (keys/envelope.py, docs/qr-format.md). A code typed part of the way is
 * never whole: its CBOR stops short (the array's last item, a signature, announces its
 * length). So a scanner set to end a code with nothing can have it submitted as its last
 * key arrives. Nothing here is checked beyond the shape; the service verifies the code.
 */
export function isWholeEnvelope(text) {
  const t = String(text ?? "").trim();
  let body;
  if (t.startsWith("CF1:")) body = t.slice(4);
  else if (t.startsWith("cf1:") && t === t.toLowerCase()) body = t.slice(4).toUpperCase();
  else return false;
  if (!BASE45.test(body)) return false;
  try {
    const items = cbor.decode(b45decode(body)); // throws on a short stream and on bytes after the item
    return Array.isArray(items) && ENVELOPE_ITEMS.has(items.length);
  } catch {
    return false;
  }
}

/**
 * The text of the certfree code among the codes a reader found (a payment or Wi-Fi
 * sticker may be in view beside the phone), else null. `results` are zxing-wasm
 * ReadResults ({isValid, text}) or plain strings.
 */
export function pickCode(results) {
  const texts = [];
  for (const r of results || []) {
    const text = typeof r === "string" ? r : r && r.isValid !== false ? r.text : null;
    if (typeof text === "string" && text.length > 0) texts.push(text);
  }
  return texts.find(isCertfreeText) ?? null;
}

/**
 * The codes in what a keyboard-wedge scanner typed or a clerk pasted: one per line,
 * line ends of any kind (CR LF, CR, LF) removed, empty lines dropped. Spaces inside a
 * line are kept (base45 uses the space character).
 */
export function splitCodes(text) {
  return String(text ?? "")
    .split(/\r\n|\r|\n/)
    .map((line) => line.replace(/^[\t ]+|[\t ]+$/g, ""))
    .filter((line) => line.length > 0);
}

/** A short, stable fingerprint of a code (FNV-1a, 32 bit), kept instead of the code. */
export function fingerprint(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * A window matter's progress from its documents: `required` licence types, `oneOf`
 * groups, `present` types verified so far. Mirrors scenarios.matters.check_matter.
 */
export function matterProgress(required, oneOf, present) {
  const have = new Set(present);
  const missing = required.filter((t) => !have.has(t));
  const missingOneOf = oneOf.filter((group) => !group.some((t) => have.has(t)));
  return { done: missing.length === 0 && missingOneOf.length === 0, missing, missingOneOf };
}
