// Bundles the demo page's script for the browser (run by wrangler's [build] on `npm start`).
import { build } from "esbuild";

await build({
  entryPoints: ["client/demo.ts"],
  bundle: true,
  format: "esm",
  target: "es2022",
  outfile: "public/demo.js",
  minify: true,
  logLevel: "warning",
});
