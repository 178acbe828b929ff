// Bundle the desk page's script into one committed file (no sourcemap, no timestamps, so
// the same sources and pinned packages always give the same bytes), and copy the
// zxing-wasm reader's .wasm beside it: the page loads it from this desk, never a CDN.
import { copyFileSync } from "node:fs";
import { build } from "esbuild";

const out = "../static";
await build({
  entryPoints: ["src/desk.js"],
  bundle: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  minify: true,
  legalComments: "eof",
  sourcemap: false,
  outfile: `${out}/desk.js`,
  logLevel: "warning",
});
copyFileSync("node_modules/zxing-wasm/dist/reader/zxing_reader.wasm", `${out}/zxing_reader.wasm`);
