// Bundle the desk page's script into one committed file (no sourcemap, no timestamps, so
// the same sources and pinned packages always give the same bytes), and copy the
// zxing-wasm reader's .wasm beside it: the page loads it from this desk, never a CDN. The
// bundled packages' licences go beside them (tools/notices.mjs).
import { copyFileSync } from "node:fs";
import { build } from "esbuild";
import { writeNotices } from "../../tools/notices.mjs";

const out = "../static";
const NOTICES = "THIRD-PARTY-NOTICES.txt";
const result = await build({
  entryPoints: ["src/desk.js"],
  bundle: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  minify: true,
  legalComments: "eof",
  sourcemap: false,
  outfile: `${out}/desk.js`,
  footer: { js: `/* Third-party notices: ${NOTICES}, beside this file. */` },
  metafile: true,
  logLevel: "warning",
});
copyFileSync("node_modules/zxing-wasm/dist/reader/zxing_reader.wasm", `${out}/zxing_reader.wasm`);
writeNotices(result.metafile, `${out}/${NOTICES}`, "The desk page's script (desk.js) and zxing_reader.wasm contain these packages.", [
  "zxing_reader.wasm: zxing-wasm's build of zxing-cpp (Apache-2.0), https://github.com/zxing-cpp/zxing-cpp",
]);
