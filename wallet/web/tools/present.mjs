// Presentations made by the phone's code outside a browser, for tests/test_wallet_js.py:
// reads {"seed": hex, "views": [{"view": JWS, "iat": seconds, "nonce"?: hex}]} on standard
// input and prints {"texts": [...]}, each made with the nonce given or, as the phone makes
// them, a fresh random one.
import { present } from "../src/device.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
const hex = (text) => Uint8Array.from(text.match(/../g).map((b) => parseInt(b, 16)));
const pkcs8 = new Uint8Array([...hex("302e020100300506032b657004220420"), ...hex(input.seed)]);
const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
const texts = [];
for (const item of input.views) texts.push(await present(item.view, key, item.iat, ...(item.nonce ? [hex(item.nonce)] : [])));
process.stdout.write(JSON.stringify({ texts }));
