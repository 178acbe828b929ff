// Byte-level helpers shared by the envelope and the device: base64url (RFC 7515), UTF-8,
// certfree's canonical JSON (keys/jose.py canonical_json) and strict base45 decoding.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Unpadded base64url of bytes (RFC 7515 section 2). */
export function b64url(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += B64[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += B64[n & 63];
  }
  return out;
}

/** Strict unpadded base64url: no padding, no other characters, canonical trailing bits. */
export function unb64url(text) {
  if (typeof text !== "string" || text.length % 4 === 1 || /[^A-Za-z0-9_-]/.test(text)) {
    throw new Error("not base64url");
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0, value = 0, j = 0;
  for (const ch of text) {
    value = (value << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (value >> bits) & 255;
    }
  }
  if (b64url(out) !== text) throw new Error("not canonical base64url");
  return out;
}

export const utf8 = (text) => new TextEncoder().encode(text);
export const ascii = (text) => utf8(text); // base64url and JWS text are ASCII

/** Canonical JSON: sorted keys, no spaces, raw UTF-8 (what certfree signs). Integers,
 *  strings, booleans, null, arrays and plain objects only. */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError("certfree signs integers only");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  throw new TypeError("not JSON");
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/** RFC 9285 base45 decoding with the refusals keys/envelope.py's b45decode makes: a
 *  character outside the alphabet, a length of 3n+1, a group above 65535 or a final pair
 *  above 255. (base45-js, which encodes here, needs Node's Buffer to decode; the desk's
 *  @digitalbazaar/base45 takes a character above U+00FF for 0, and the desk only asks it
 *  whether a code is whole, after its own check of the alphabet.) */
export function b45decode(text) {
  if (text.length % 3 === 1) throw new Error("not base45: bad length");
  const digits = Array.from(text, (ch) => {
    const d = B45.indexOf(ch);
    if (d < 0) throw new Error("not base45: character outside the alphabet");
    return d;
  });
  const out = [];
  for (let i = 0; i < digits.length; i += 3) {
    if (i + 2 < digits.length) {
      const n = digits[i] + 45 * digits[i + 1] + 2025 * digits[i + 2];
      if (n > 65535) throw new Error("not base45: group out of range");
      out.push(n >> 8, n & 255);
    } else {
      const n = digits[i] + 45 * digits[i + 1];
      if (n > 255) throw new Error("not base45: final pair out of range");
      out.push(n);
    }
  }
  return Uint8Array.from(out);
}
