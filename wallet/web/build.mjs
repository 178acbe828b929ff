// Bundle the wallet's front-end code into static/wallet.js (one file, committed, so that the
// service needs no Node.js). Deterministic: the same sources and packages give the same bytes.
import { build } from "esbuild";

await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "iife",
  target: ["chrome120", "safari17", "firefox129"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  outfile: "static/wallet.js",
  logLevel: "warning",
});
