// The phone's device key and what it signs. The key is made by Web Crypto as Ed25519 with
// extractable = false: the browser can sign with it but never hands out its private half,
// not to this page's script, not to the service. It is kept (as the CryptoKey object) in
// IndexedDB by store.js.

import { ascii, b64url, canonicalJson, utf8 } from "./codec.js";
import { NONCE_BYTES, encodePresentation, jwsAlgorithm, proofPayload, proofSigningInput } from "./envelope.js";

const ED25519 = { name: "Ed25519" };

/** A new device key pair; the private key is not extractable. */
export async function newDeviceKey() {
  return crypto.subtle.generateKey(ED25519, false, ["sign", "verify"]);
}

/** The public JWK of a key pair, reduced to what certfree binds: {crv, kty, x}. */
export async function publicJwk(publicKey) {
  const jwk = await crypto.subtle.exportKey("jwk", publicKey);
  return { crv: "Ed25519", kty: "OKP", x: jwk.x };
}

/** RFC 7638 thumbprint of an Ed25519 JWK (keys/jose.py thumbprint). */
export async function thumbprint(jwk) {
  const members = canonicalJson({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(members))));
}

async function sign(privateKey, bytes) {
  return new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, bytes));
}

/** The proof of possession the service asks for: a signature over its challenge
 *  (issuer/service/devices.py signed_message). */
export async function signChallenge(privateKey, purpose, challenge) {
  return b64url(await sign(privateKey, ascii(`certfree-device-proof/v1\n${purpose}\n${challenge}`)));
}

/** A fresh presentation of viewJws at iat (Unix seconds): the QR text. ``nonce`` is for
 *  the cross-implementation tests; a real presentation takes 8 random bytes. */
export async function present(viewJws, privateKey, iat, nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))) {
  const payload = await proofPayload(viewJws, iat, nonce);
  const signature = await sign(privateKey, proofSigningInput(payload, jwsAlgorithm(viewJws)));
  return encodePresentation(viewJws, iat, nonce, signature);
}
