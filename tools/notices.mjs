// Third-party notices for a committed front-end bundle: every npm package esbuild put into
// it (read from the build's metafile), with its version, its licence and the licence text
// it ships. The MIT, ISC, BSD and Apache licences of those packages ask for their notices
// to travel with copies of the code, so the file is written beside the bundle, committed
// with it and compared by `make check-bundles`. The same packages give the same bytes.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const LICENCE_FILE = /^(licen[cs]e|copying)([.-].*)?$/i;

/** The package folder of one of esbuild's inputs ("node_modules/@scope/name/lib/x.js"), or null. */
function packageRoot(input) {
  const parts = input.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0 || at + 1 >= parts.length) return null;
  const size = parts[at + 1].startsWith("@") ? 2 : 1;
  return parts.slice(0, at + 1 + size).join("/");
}

function licenceOf(pkg) {
  if (typeof pkg.license === "string") return pkg.license;
  const listed = (pkg.licenses || []).map((entry) => entry.type).filter(Boolean);
  return listed.length ? listed.join(" OR ") : "not declared";
}

/** A package's own licence files; if it ships none, the copyright lines of the files bundled. */
function noticeText(root, bundled) {
  const files = readdirSync(root).filter((name) => LICENCE_FILE.test(name)).sort();
  if (files.length) return files.map((name) => readFileSync(join(root, name), "utf8").trim()).join("\n\n");
  const lines = new Set();
  for (const input of bundled) {
    for (const line of readFileSync(input, "utf8").split("\n")) {
      if (/copyright/i.test(line)) lines.add(line.replace(/^[\s/*#!-]+/, "").trim());
    }
  }
  return ["(the package ships no licence file: its package.json declares the licence above)", ...lines].join("\n");
}

/**
 * Write `outfile`: a section for each package in `metafile`'s inputs, sorted by name, then
 * `extra` (notes for what the bundle copies without importing, such as a .wasm file).
 */
export function writeNotices(metafile, outfile, title, extra = []) {
  const byRoot = new Map();
  for (const input of Object.keys(metafile.inputs).sort()) {
    const root = packageRoot(input);
    if (root !== null) byRoot.set(root, [...(byRoot.get(root) || []), input]);
  }
  const rule = "-".repeat(78);
  const sections = [...byRoot.keys()].sort().map((root) => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const where = pkg.homepage || (pkg.repository && (pkg.repository.url || pkg.repository)) || "";
    return [`${pkg.name} ${pkg.version} (${licenceOf(pkg)})`, where, "", noticeText(root, byRoot.get(root))]
      .filter((line, i) => i !== 1 || line).join("\n");
  });
  const text = [title, "", ...[...sections, ...extra].flatMap((section) => [rule, section]), ""].join("\n");
  writeFileSync(outfile, text);
}
