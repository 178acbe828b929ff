// Bundle the wallet's front-end code into static/wallet.js (one file, committed, so that the
// service needs no Node.js). Deterministic: the same sources and packages give the same bytes.
import { build } from "esbuild";
import { writeNotices } from "../../tools/notices.mjs";

const NOTICES = "THIRD-PARTY-NOTICES.txt"; // the bundled packages' licences (tools/notices.mjs)
const result = await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "iife",
  target: ["chrome120", "safari17", "firefox129"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  outfile: "static/wallet.js",
  footer: { js: `/* Third-party notices: ${NOTICES}, beside this file. */` },
  metafile: true,
  logLevel: "warning",
});
writeNotices(result.metafile, `static/${NOTICES}`, "The wallet's script (wallet.js) contains these packages.");
