import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fingerprint, isCertfreeText, isWholeEnvelope, looksScanned, matterProgress, pickCode, splitCodes } from "../src/codes.js";

// The verifier vectors (tests/vectors/verifier/*.json, written by tests/vectors/verifier_vectors.py
// with the Python encoder): real codes, and damaged ones the verifier refuses as malformed.
const FOLDER = new URL("../../../tests/vectors/verifier/", import.meta.url);
const VECTORS = readdirSync(FOLDER).filter((name) => name.endsWith(".json")).sort()
  .map((name) => JSON.parse(readFileSync(new URL(name, FOLDER), "utf-8")));
const byId = (id) => VECTORS.find((v) => v.id === id);

test("pickCode chooses the certfree code among other codes in view", () => {
  const results = [
    { isValid: true, text: "WIFI:S:Hotel Guest;T:WPA;P:secret;;" },
    { isValid: true, text: "https://qr.alipay.com/fkx12345" },
    { isValid: true, text: "CF1:6BFOXN*TS0BI$ZD.P9" },
  ];
  assert.equal(pickCode(results), "CF1:6BFOXN*TS0BI$ZD.P9");
  assert.equal(pickCode(["eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln", "WIFI:S:x;;"]), "eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln");
  assert.equal(pickCode([{ isValid: true, text: "https://example.com/pay" }]), null);
  assert.equal(pickCode([{ isValid: false, text: "CF1:ABC" }]), null);
  assert.equal(pickCode([]), null);
});

test("isCertfreeText refuses look-alikes", () => {
  assert.ok(isCertfreeText("CF1:ABC"));
  assert.ok(!isCertfreeText("cf1:ABC"));
  assert.ok(!isCertfreeText("a.b"));
  assert.ok(!isCertfreeText("a b.c.d"));
  assert.ok(!isCertfreeText(null));
});

test("looksScanned: a code as a scanner types it, with Caps Lock too, and nothing a clerk types", () => {
  assert.ok(looksScanned("CF1:6BFOXN*TS0BI$ZD.P9"));
  assert.ok(looksScanned("cf1:6bfoxn*ts0bi$zd.p9"));
  assert.ok(looksScanned("  CF1:6BF\n"));
  assert.ok(looksScanned("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln"));
  assert.ok(!looksScanned("CF1:"));
  assert.ok(!looksScanned("Cf1:6BF"));
  assert.ok(!looksScanned("0807"));
  assert.ok(!looksScanned("从发"));
  assert.ok(!looksScanned(""));
  assert.ok(!looksScanned(undefined));
});

test("splitCodes: one code per line, any line end, spaces inside kept", () => {
  assert.deepEqual(splitCodes("CF1:A B\r\nCF1:CD\n\n  CF1:EF  \r"), ["CF1:A B", "CF1:CD", "CF1:EF"]);
  assert.deepEqual(splitCodes(""), []);
  assert.deepEqual(splitCodes(undefined), []);
});

test("matterProgress mirrors check_matter", () => {
  const birth = matterProgress(["household_book", "id_card"], [], ["id_card"]);
  assert.deepEqual(birth, { done: false, missing: ["household_book"], missingOneOf: [] });
  assert.equal(matterProgress(["household_book", "id_card"], [], ["id_card", "household_book"]).done, true);
  const either = matterProgress(["vehicle_license"], [["id_card", "residence_permit"]], ["vehicle_license"]);
  assert.deepEqual(either.missingOneOf, [["id_card", "residence_permit"]]);
  assert.equal(matterProgress(["vehicle_license"], [["id_card", "residence_permit"]], ["vehicle_license", "residence_permit"]).done, true);
});

test("fingerprint is stable and short", () => {
  assert.equal(fingerprint("CF1:ABC"), fingerprint("CF1:ABC"));
  assert.notEqual(fingerprint("CF1:ABC"), fingerprint("CF1:ABD"));
  assert.match(fingerprint("x"), /^[0-9a-f]{8}$/);
});

test("isWholeEnvelope: every real code is whole, and no part of one is", () => {
  const codes = VECTORS.filter((v) => v.decoded !== null && v.code.startsWith("CF1:")).map((v) => v.code);
  assert.ok(codes.length >= 20);
  for (const code of codes) {
    assert.ok(isWholeEnvelope(code), code.slice(0, 40));
    assert.ok(isWholeEnvelope(`  ${code}\r\n`), "a line end or spaces around it change nothing");
    assert.ok(isWholeEnvelope(code.toLowerCase()), "typed with Caps Lock on");
    for (let end = 0; end < code.length; end++) {
      assert.ok(!isWholeEnvelope(code.slice(0, end)), `${code.length} characters, whole at ${end}`);
    }
    assert.ok(!isWholeEnvelope(code + "00"), "a byte after the envelope");
    assert.ok(!isWholeEnvelope(code + "000"), "two bytes after the envelope");
  }
});

test("isWholeEnvelope refuses what the verifier refuses as malformed, and anything else", () => {
  for (const id of ["envelope_truncated", "envelope_bad_character", "envelope_unknown_prefix"]) {
    assert.equal(byId(id).expected.codes[0], "malformed", id);
    assert.ok(!isWholeEnvelope(byId(id).code), id);
  }
  const code = byId("expired").code;
  assert.ok(!isWholeEnvelope("Cf1:" + code.slice(4)), "mixed case is not Caps Lock");
  assert.ok(!isWholeEnvelope("cf1:" + code.slice(4)), "an upper-case letter after cf1:");
  assert.ok(!isWholeEnvelope("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln"), "a JWS's end cannot be seen: it waits for Enter");
  assert.ok(!isWholeEnvelope("CF1:"));
  assert.ok(!isWholeEnvelope("CF1:中文"));
  assert.ok(!isWholeEnvelope("CF1:00")); // one byte: a CBOR integer, not an envelope
  assert.ok(!isWholeEnvelope(null));
});
