// The phone's presentation code against the vectors Python wrote
// (tests/vectors/wallet-presentations.json): same inputs, same QR text, byte for byte; and
// each side's texts read by the other's decoder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { b45decode, b64url, canonicalJson, unb64url } from "../src/codec.js";
import { present, publicJwk, signChallenge, thumbprint } from "../src/device.js";
import { encode as b45encode } from "base45-js";
import {
  carriesView, decode, encodeCredential, jwsAlgorithm, KIND_CREDENTIAL, KIND_PRESENTATION, KIND_PRESENTATION_ED25519, splitCompact,
} from "../src/envelope.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/vectors/wallet-presentations.json", import.meta.url), "utf-8"));
const hex = (text) => Uint8Array.from(text.match(/../g).map((b) => parseInt(b, 16)));

async function testDevice() {
  // PKCS#8 of an Ed25519 seed (RFC 8410): the fixed prefix, then the 32 bytes.
  const pkcs8 = new Uint8Array([...hex("302e020100300506032b657004220420"), ...hex(VECTORS.device_seed)]);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  const publicKey = await crypto.subtle.importKey("raw", unb64url(VECTORS.device_jwk.x), { name: "Ed25519" }, true, ["verify"]);
  return { privateKey, publicKey };
}

test("a presentation made here is Python's, byte for byte, for every vector", async () => {
  const { privateKey } = await testDevice();
  assert.ok(VECTORS.vectors.length >= 6);
  for (const v of VECTORS.vectors) {
    const text = await present(v.view, privateKey, v.iat, hex(v.nonce));
    assert.equal(text, v.text, `${v.licence_type}/${v.scenario}`);
  }
});

test("Python's presentations decode here to the view's exact payload and signature", () => {
  for (const v of VECTORS.vectors) {
    const d = decode(v.text);
    assert.equal(d.kind, KIND_PRESENTATION);
    assert.ok(carriesView(d, v.view), `${v.licence_type}/${v.scenario}`);
    const [header] = splitCompact(v.view);
    assert.deepEqual(d.kid, unb64url(JSON.parse(header).kid).slice(0, 8));
    assert.equal(d.proof.iat, v.iat);
    assert.equal(b64url(d.proof.nonce), b64url(hex(v.nonce)));
    assert.equal(d.claims.scn, v.scenario);
  }
});

test("credentials (no proof) encode and decode as Python's do", () => {
  for (const v of VECTORS.vectors) {
    assert.equal(encodeCredential(v.credential), v.credential_text);
    const d = decode(v.credential_text);
    assert.equal(d.kind, KIND_CREDENTIAL);
    assert.equal(d.proof, null);
    assert.equal(d.payload, splitCompact(v.credential)[1]);
  }
});

test("the device's public JWK and thumbprint are what keys/jose.py computes", async () => {
  const { publicKey } = await testDevice();
  const jwk = await publicJwk(publicKey);
  assert.deepEqual(jwk, VECTORS.device_jwk);
  const cnf = JSON.parse(splitCompact(VECTORS.vectors[0].view)[1]).cnf.jwk;
  assert.deepEqual(cnf, jwk);
  assert.match(await thumbprint(jwk), /^[A-Za-z0-9_-]{43}$/);
});

test("a challenge signature verifies over the protocol's exact bytes", async () => {
  const { privateKey, publicKey } = await testDevice();
  const sig = await signChallenge(privateKey, "enrol", "a.challenge-1");
  const message = new TextEncoder().encode("certfree-device-proof/v1\nenrol\na.challenge-1");
  assert.ok(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, unb64url(sig), message));
  assert.equal(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, unb64url(sig), new TextEncoder().encode("other")), false);
});

test("a changed view no longer matches the text", () => {
  const v = VECTORS.vectors[0];
  const [h, p, s] = v.view.split(".");
  const other = [h, b64url(new TextEncoder().encode(canonicalJson({ ...JSON.parse(splitCompact(v.view)[1]), name: "X" }))), s].join(".");
  assert.equal(carriesView(decode(v.text), other), false);
});

test("base45 decoding refuses what keys/envelope.py refuses", () => {
  assert.deepEqual([...b45decode("BB8")], [65, 66]); // RFC 9285's "AB"
  for (const bad of ["A", "GGW", "::", "ab", "BB8A"]) assert.throws(() => b45decode(bad), /base45/, bad);
});

test("decode refuses a foreign prefix, a wrong kind and a short signature", async () => {
  assert.throws(() => decode("HC1:6BF"), /prefix/);
  const v = VECTORS.vectors[0];
  assert.throws(() => decode(v.text.slice(0, -3)));
  assert.throws(() => decode("CF1:" + "0".repeat(5000)), /too long/);
});

test("kinds 3 and 4 name Ed25519 (RFC 9864); a kind outside the four is refused", () => {
  const v = VECTORS.vectors[0];
  const raw = b45decode(v.text.slice(4));
  assert.equal(raw[0], 0x87); // a CBOR array of 7, then the kind
  const withKind = (kind) => "CF1:" + b45encode(Uint8Array.from([0x87, kind, ...raw.slice(2)]));
  assert.equal(decode(v.text).alg, "EdDSA");
  const d = decode(withKind(KIND_PRESENTATION_ED25519));
  assert.equal(d.kind, KIND_PRESENTATION_ED25519);
  assert.equal(d.alg, "Ed25519");
  assert.ok(carriesView(d, v.view));
  for (const kind of [0, 1, 3, 5]) assert.throws(() => decode(withKind(kind)), /kind/, String(kind));
  assert.equal(jwsAlgorithm(v.view), "EdDSA");
});
