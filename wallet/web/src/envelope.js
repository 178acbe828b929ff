// The QR envelope on the phone: the same "CF1:" + base45(CBOR array) that keys/envelope.py
// makes and the verifier reads, byte for byte (tests/test_wallet_js.py and test/ hold the
// two implementations together).
//
//   presentation: [2, kid8, claims, sig, proof_iat, proof_nonce, proof_sig]
//
// Kinds 1 and 2 rebuild headers naming "alg": "EdDSA"; kinds 3 and 4 are the same shapes
// whose headers (the view's and the holder proof's) name RFC 9864's "Ed25519".
//
// claims is the view's signed JSON payload with known claim names as small integers (the
// codebook in keys/envelope_codes.json), cnf as the raw 32-byte key, jti as its raw bytes,
// iss/vct/scn names as small integers, full dates as RFC 8943 tag 100 (days since
// 1970-01-01) and a status entry {"status_list": {"idx", "uri"}} whose URI starts with a
// known prefix as [idx, prefix code, raw list id]. The verifier rebuilds the exact JWS
// strings from it; so does decode() here.

import { Encoder, Tag } from "cbor-x";
import { encode as b45encode } from "base45-js";
import codes from "../../../keys/envelope_codes.json" with { type: "json" };
import { ascii, b45decode, b64url, canonicalJson, equalBytes, unb64url, utf8 } from "./codec.js";

export const PREFIX = "CF1:";
export const KIND_CREDENTIAL = 1;
export const KIND_PRESENTATION = 2;
export const KIND_CREDENTIAL_ED25519 = 3;
export const KIND_PRESENTATION_ED25519 = 4;
// The header "alg" names of Ed25519 (keys/jose.py ALGORITHMS), and each one's two kinds.
export const ALGORITHMS = ["EdDSA", "Ed25519"];
const KINDS = new Map([
  [KIND_CREDENTIAL, [false, "EdDSA"]], [KIND_PRESENTATION, [true, "EdDSA"]],
  [KIND_CREDENTIAL_ED25519, [false, "Ed25519"]], [KIND_PRESENTATION_ED25519, [true, "Ed25519"]],
]);
const kindOf = (withProof, alg) => [...KINDS].find(([, [p, a]]) => p === withProof && a === alg)[0];
export const MAX_TEXT = 4296;
export const TYP_PROOF = "cf-proof";
export const NONCE_BYTES = 8;

const NAMES = codes.names;
const VALUES = codes.values;
const CODEBOOK = new Map(NAMES.map((name, i) => [name, i + 1]));
const VALUE_CODES = new Map(VALUES.map((value, i) => [value, i + 1]));
const VALUE_CLAIMS = new Set(["iss", "vct", "scn"]);
const STATUS_URIS = codes.status_uris;
const STATUS_URI_CODES = new Map(STATUS_URIS.map((start, i) => [start, i + 1]));
const LIST_SUFFIX = ".jws";
const MAX_INT = Number.MAX_SAFE_INTEGER;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const DAY_MS = 86400000;

// cbor2's encoding: maps in insertion order, shortest integer and length forms, byte
// strings untagged, no records or explicit-map tags.
const cbor = new Encoder({
  useRecords: false, mapsAsObjects: false, useTag259ForMaps: false, tagUint8Array: false,
  variableMapSize: true, int64AsNumber: true,
});

/** The protected header of a holder proof naming alg, exactly as keys/jose.py's
 *  protected_header(None, "cf-proof", alg). */
export function proofHeader(alg = "EdDSA") {
  if (!ALGORITHMS.includes(alg)) throw new Error("not an Ed25519 algorithm name");
  return canonicalJson({ alg, typ: TYP_PROOF });
}

/** Split a compact JWS into [header text, payload text, signature bytes]. */
export function splitCompact(jws) {
  const parts = jws.split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS");
  const text = (part) => new TextDecoder("utf-8", { fatal: true }).decode(unb64url(part));
  return [text(parts[0]), text(parts[1]), unb64url(parts[2])];
}

function daysOf(text) {
  if (!DATE.test(text)) return null;
  const ms = Date.UTC(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10));
  const day = new Date(ms);
  // a real calendar day only ("2023-02-30" stays text, as in Python)
  if (day.toISOString().slice(0, 10) !== text) return null;
  return Math.round(ms / DAY_MS);
}

function compact(value) {
  if (Array.isArray(value)) return value.map(compact);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).map(([k, v]) => [CODEBOOK.get(k) ?? k, compactValue(k, v)]));
  }
  if (typeof value === "string") {
    const days = daysOf(value);
    if (days !== null) return new Tag(days, 100);
  }
  return value;
}

/** [idx, start code, raw list id] for {"status_list": {"idx", "uri": start + b64url(id) + ".jws"}}
 *  with a known start, else null: keys/envelope.py's _short_status. */
function shortStatus(value) {
  if (!isObject(value) || !sameKeys(value, ["status_list"])) return null;
  const inner = value.status_list;
  if (!isObject(inner) || !sameKeys(inner, ["idx", "uri"])) return null;
  const { idx, uri } = inner;
  if (!Number.isSafeInteger(idx) || idx < 0 || idx > MAX_INT || typeof uri !== "string" || !uri.endsWith(LIST_SUFFIX)) return null;
  const head = uri.slice(0, -LIST_SUFFIX.length);
  const cut = head.lastIndexOf("/");
  const code = STATUS_URI_CODES.get(head.slice(0, cut + 1));
  if (cut < 0 || code === undefined) return null;
  const raw = tryUnb64url(head.slice(cut + 1));
  return raw && raw.length >= 1 && raw.length <= 32 ? [idx, code, raw] : null;
}

function expandStatus(value) {
  if (value.length !== 3) throw new Error("bad status entry");
  const [idx, code, raw] = value;
  if (!Number.isSafeInteger(idx) || idx < 0 || !Number.isInteger(code) || code < 1 || code > STATUS_URIS.length) {
    throw new Error("bad status entry");
  }
  if (!isBytes(raw) || raw.length < 1 || raw.length > 32) throw new Error("bad status list id");
  return { status_list: { idx, uri: STATUS_URIS[code - 1] + b64url(raw) + LIST_SUFFIX } };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !isBytes(value);
}

function compactValue(key, value) {
  if (VALUE_CLAIMS.has(key) && typeof value === "string" && VALUE_CODES.has(value)) return VALUE_CODES.get(value);
  if (key === "status") {
    const short = shortStatus(value);
    if (short !== null) return short;
  }
  if (key === "cnf" && value && typeof value === "object" && sameKeys(value, ["jwk"])) {
    const jwk = value.jwk;
    if (jwk && typeof jwk === "object" && sameKeys(jwk, ["crv", "kty", "x"]) && jwk.crv === "Ed25519" && jwk.kty === "OKP") {
      const raw = tryUnb64url(jwk.x);
      if (raw && raw.length === 32) return raw;
    }
  }
  if (key === "jti" && typeof value === "string") {
    const raw = tryUnb64url(value);
    if (raw && raw.length >= 8 && raw.length <= 32) return raw;
  }
  return compact(value);
}

function sameKeys(object, keys) {
  const have = Object.keys(object).sort();
  return have.length === keys.length && have.every((k, i) => k === keys[i]);
}

function tryUnb64url(text) {
  try { return unb64url(text); } catch { return null; }
}

/** The alg a certfree JWS's header names ("EdDSA" or "Ed25519"), unverified: what the
 *  holder proof over that view names too (keys.envelope.jws_algorithm). */
export function jwsAlgorithm(jws) {
  const alg = JSON.parse(splitCompact(jws)[0])?.alg;
  if (!ALGORITHMS.includes(alg)) throw new Error("header does not match the template");
  return alg;
}

/** The envelope's parts of a certfree JWS: [kid8, packed claims, signature, alg]. Throws if
 *  the header is not certfree's template or the payload would not rebuild exactly. */
export function packJws(jws) {
  const [headerText, payloadText, signature] = splitCompact(jws);
  const header = JSON.parse(headerText);
  const kid = header && header.kid;
  const alg = header && header.alg;
  if (typeof kid !== "string" || !ALGORITHMS.includes(alg) || headerText !== canonicalJson({ alg, kid, typ: header.typ ?? "" })) {
    throw new Error("header does not match the template");
  }
  const claims = JSON.parse(payloadText);
  if (!claims || typeof claims !== "object" || Array.isArray(claims)) throw new Error("payload is not a JSON object");
  const packed = compact(claims);
  if (canonicalJson(expandClaims(cbor.decode(cbor.encode(packed)))) !== payloadText) {
    throw new Error("payload is not in canonical form; it cannot be rebuilt exactly");
  }
  return [unb64url(kid).slice(0, 8), packed, signature, alg];
}

/** The holder proof's payload over viewJws at iat with nonce: keys.envelope.Proof.payload. */
export async function proofPayload(viewJws, iat, nonce) {
  const vh = new Uint8Array(await crypto.subtle.digest("SHA-256", ascii(viewJws)));
  return canonicalJson({ iat, nonce: b64url(nonce), vh: b64url(vh) });
}

/** The bytes the holder's device signs for a proof (the JWS signing input), its header
 *  naming alg (the view's: jwsAlgorithm). */
export function proofSigningInput(payload, alg = "EdDSA") {
  return ascii(b64url(utf8(proofHeader(alg))) + "." + b64url(utf8(payload)));
}

/** QR text for a presentation: the view plus the proof's time, nonce and signature (the
 *  proof signed under a header naming the view's alg). */
export function encodePresentation(viewJws, iat, nonce, proofSignature) {
  const [kid, packed, signature, alg] = packJws(viewJws);
  return PREFIX + b45encode(cbor.encode([kindOf(true, alg), kid, packed, signature, iat, nonce, proofSignature]));
}

/** QR text for a credential or a view on its own (no holder proof). */
export function encodeCredential(jws) {
  const [kid, packed, signature, alg] = packJws(jws);
  return PREFIX + b45encode(cbor.encode([kindOf(false, alg), kid, packed, signature]));
}

// ---- decoding: reads what either implementation wrote (nothing here is trusted) ----------

function claimName(key) {
  if (Number.isInteger(key) && key >= 1 && key <= NAMES.length) return NAMES[key - 1];
  if (typeof key === "string" && !CODEBOOK.has(key)) return key;
  throw new Error("bad claim name");
}

function isBytes(value) {
  return value instanceof Uint8Array;
}

function expand(value, key = null) {
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) {
      const name = claimName(k);
      if (Object.hasOwn(out, name)) throw new Error("duplicate claim");
      out[name] = expand(v, name);
    }
    if (key === "status" && shortStatus(out) !== null) throw new Error("status entry written out");
    return out;
  }
  if (isBytes(value)) {
    if (key === "cnf" && value.length === 32) return { jwk: { crv: "Ed25519", kty: "OKP", x: b64url(value) } };
    if (key === "jti" && value.length >= 8 && value.length <= 32) return b64url(value);
    throw new Error("unexpected bytes");
  }
  if (Array.isArray(value)) return key === "status" ? expandStatus(value) : value.map((v) => expand(v));
  if (value instanceof Tag) {
    if (value.tag !== 100 || !Number.isSafeInteger(value.value)) throw new Error("CBOR tag not allowed");
    return new Date(value.value * DAY_MS).toISOString().slice(0, 10);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error("number out of range");
    if (VALUE_CLAIMS.has(key)) {
      if (value < 1 || value > VALUES.length) throw new Error("unknown value code");
      return VALUES[value - 1];
    }
    return value;
  }
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  throw new Error("unsupported value type");
}

function expandClaims(packed) {
  if (!(packed instanceof Map)) throw new Error("claims are not a map");
  return expand(packed);
}

function signature(value) {
  if (!isBytes(value) || value.length !== 64) throw new Error("bad signature length");
  return Uint8Array.from(value);
}

/** Parse QR text into its parts: kind, kid8, the rebuilt payload text, claims, the
 *  signature and (for a presentation) the proof's iat, nonce and signature. */
export function decode(text) {
  if (typeof text !== "string" || text.length > MAX_TEXT) throw new Error("too long");
  if (!text.startsWith(PREFIX)) throw new Error("unknown prefix or version");
  const items = cbor.decode(b45decode(text.slice(PREFIX.length)));
  if (!Array.isArray(items) || !items.length) throw new Error("not an envelope array");
  const [kind, kid, packed, sig] = items;
  const [withProof, alg] = KINDS.get(kind) ?? [null, null];
  let proof = null;
  if (withProof === true && items.length === 7) {
    const [iat, nonce, proofSig] = items.slice(4);
    if (!Number.isSafeInteger(iat) || iat < 0 || !isBytes(nonce) || nonce.length < 8 || nonce.length > 32) {
      throw new Error("bad proof fields");
    }
    proof = { iat, nonce: Uint8Array.from(nonce), signature: signature(proofSig) };
  } else if (!(withProof === false && items.length === 4)) {
    throw new Error("unknown envelope kind");
  }
  if (!isBytes(kid) || kid.length !== 8) throw new Error("bad key id");
  const claims = expandClaims(packed);
  return { kind, alg, kid: Uint8Array.from(kid), claims, payload: canonicalJson(claims), signature: signature(sig), proof };
}

/** Whether the decoded envelope carries exactly viewJws (its payload and signature). */
export function carriesView(decoded, viewJws) {
  const [, payloadText, sig] = splitCompact(viewJws);
  return decoded.payload === payloadText && equalBytes(decoded.signature, sig);
}
