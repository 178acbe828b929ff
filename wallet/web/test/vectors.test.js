// The verifier vectors (tests/vectors/verifier/*.json, written by
// tests/vectors/verifier_vectors.py) through the phone's own code: the CF1: envelope
// decodes to the exact JWS strings each vector names, the Ed25519 signatures verify (or
// not) through Web Crypto as the vector says, damaged envelopes are refused, and the
// status entry read from the signed list (found by its URI, or by its id for the older
// shape) is what the verdict says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";

import { ascii, b64url, canonicalJson, unb64url, utf8 } from "../src/codec.js";
import { decode, proofHeader, proofPayload } from "../src/envelope.js";

const FOLDER = new URL("../../../tests/vectors/verifier/", import.meta.url);
const VECTORS = readdirSync(FOLDER).filter((name) => name.endsWith(".json")).sort()
  .map((name) => JSON.parse(readFileSync(new URL(name, FOLDER), "utf-8")));
const text = (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);
const claimsOf = (jws) => JSON.parse(text(unb64url(jws.split(".")[1])));
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function ed25519Verifies(x, jws) {
  const key = await crypto.subtle.importKey("raw", unb64url(x), { name: "Ed25519" }, false, ["verify"]);
  const cut = jws.lastIndexOf(".");
  return crypto.subtle.verify({ name: "Ed25519" }, key, unb64url(jws.slice(cut + 1)), ascii(jws.slice(0, cut)));
}

test("there are vectors, and every kind of outcome is among them", () => {
  assert.ok(VECTORS.length >= 30);
  assert.ok(VECTORS.some((v) => v.expected.valid) && VECTORS.some((v) => !v.expected.valid));
});

test("each envelope decodes to the vector's exact JWS strings", async () => {
  let checked = 0;
  for (const v of VECTORS.filter((v) => v.decoded)) {
    const d = decode(v.code);
    const named = JSON.parse(text(unb64url(v.decoded.jws.split(".")[0]))).kid;
    const known = v.jwks.keys.map((k) => k.kid).filter((kid) => sameBytes(unb64url(kid).slice(0, 8), d.kid));
    if (v.jwks.keys.some((k) => k.kid === named)) assert.deepEqual(known, [named], v.id);
    const kid = known[0] ?? named; // an unknown key: the vector names it, the envelope holds its prefix
    const typ = "scn" in d.claims ? "cf-view" : "cf-cred";
    const header = canonicalJson({ alg: d.alg, kid, typ });
    const jws = [b64url(utf8(header)), b64url(utf8(d.payload)), b64url(d.signature)].join(".");
    assert.equal(jws, v.decoded.jws, v.id);
    if (v.decoded.proof_jws === null) {
      assert.equal(d.proof, null, v.id);
    } else {
      const payload = await proofPayload(jws, d.proof.iat, d.proof.nonce);
      const proof = [b64url(utf8(proofHeader(d.alg))), b64url(utf8(payload)), b64url(d.proof.signature)].join(".");
      assert.equal(proof, v.decoded.proof_jws, v.id);
    }
    checked += 1;
  }
  assert.ok(checked >= 25);
});

test("the issuer's and the holder's Ed25519 signatures verify through Web Crypto as the vectors say", async () => {
  for (const v of VECTORS.filter((v) => v.decoded)) {
    const { kid } = JSON.parse(text(unb64url(v.decoded.jws.split(".")[0])));
    const issuer = v.jwks.keys.find((k) => k.kid === kid);
    if (issuer) assert.equal(await ed25519Verifies(issuer.x, v.decoded.jws), v.decoded.issuer_signature_valid, v.id);
    else assert.equal(v.decoded.issuer_signature_valid, null, v.id);
    if (v.decoded.proof_jws !== null) {
      const holder = claimsOf(v.decoded.jws).cnf.jwk.x;
      assert.equal(await ed25519Verifies(holder, v.decoded.proof_jws), v.decoded.proof_signature_valid, v.id);
    }
  }
});

test("damaged and oversized envelopes are refused by the decoder", () => {
  const damaged = VECTORS.filter((v) => v.id.startsWith("envelope_"));
  assert.ok(damaged.length >= 4);
  for (const v of damaged) {
    assert.deepEqual(v.expected.codes, ["malformed"]);
    assert.throws(() => decode(v.code), undefined, v.id);
  }
});

function statusEntry(v, status) {
  // the signed list the entry names: by URI (the draft's shape) or by id (the older shape)
  const want = status.status_list ? (sub) => sub === status.status_list.uri : (sub) => sub.endsWith(`/${status.lst}.jws`);
  const idx = status.status_list ? status.status_list.idx : status.idx;
  for (const token of v.status_lists) {
    const list = claimsOf(token);
    if (!want(list.sub)) continue;
    const bits = list.status_list.bits;
    const raw = inflateSync(unb64url(list.status_list.lst));
    if (idx * bits >= raw.length * 8) return "outside";
    return (raw[(idx * bits) >> 3] >> ((idx * bits) & 7)) & ((1 << bits) - 1);
  }
  return null;
}

test("the status entry read from the verified list is what the verdict says", async () => {
  const states = { revoked: 1, suspended: 2, reported_stolen: 2, status_list_invalid: "outside" };
  let checked = 0;
  for (const v of VECTORS.filter((v) => v.decoded && v.expected.at !== "status_lists")) {
    for (const token of v.status_lists) {
      const { kid } = JSON.parse(text(unb64url(token.split(".")[0])));
      assert.equal(JSON.parse(text(unb64url(token.split(".")[0]))).typ, "statuslist+jwt");
      assert.ok(await ed25519Verifies(v.jwks.keys.find((k) => k.kid === kid).x, token), v.id);
    }
    const status = claimsOf(v.decoded.jws).status;
    if (!status) continue;
    const entry = statusEntry(v, status);
    const code = (v.expected.codes ?? []).find((c) => c in states);
    if (code) assert.equal(entry, states[code], v.id);
    else if (v.expected.valid && !v.expected.warnings.includes("status_unknown")) assert.equal(entry, 0, v.id);
    checked += 1;
  }
  assert.ok(checked >= 20);
});
