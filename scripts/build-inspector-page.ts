// Builds the room inspector into the package (run by `npm run build`, after tsc): the page
// (public/index.html) with its script (client/inspector/app.ts, bundled and minified by esbuild) inlined,
// written over tsc's output of the placeholder party/inspector-page.ts, so that serveInspector
// (party/inspector.ts) answers with one self-contained document wherever a worker mounts it.
/// <reference types="node" />
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const ROOT = path.resolve(import.meta.dirname, "..");
const SCRIPT_TAG = '<script type="module" src="/inspector.js"></script>';
const OUTPUT = path.join(ROOT, "dist/party/inspector-page.js");

const bundled = await build({
  entryPoints: [path.join(ROOT, "client/inspector/app.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  write: false,
  logLevel: "warning",
});
const script = bundled.outputFiles[0].text;
// Inside <script>, HTML ends the element at "</script" and treats "<!--" specially: neither may
// appear in the inlined code (esbuild escapes "</script" in the strings it writes).
if (/<\/script|<!--/i.test(script)) throw new Error("The inspector's bundle holds </script or <!--: it cannot be inlined.");
const html = readFileSync(path.join(ROOT, "public/index.html"), "utf8");
if (!html.includes(SCRIPT_TAG)) throw new Error(`public/index.html no longer loads its script with ${SCRIPT_TAG}.`);
const page = html.replace(SCRIPT_TAG, () => `<script type="module">${script}</script>`);
writeFileSync(OUTPUT, `// Built by scripts/build-inspector-page.ts from public/index.html and client/inspector/app.ts.\nexport const INSPECTOR_PAGE = ${JSON.stringify(page)};\n`);
