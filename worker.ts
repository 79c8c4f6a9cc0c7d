// This repository's Worker (wrangler.toml `main`): the package's public entry, imported by its
// name as any user's worker imports it. tsconfig.json `paths` points "roomstore" at the sources,
// so wrangler (whose esbuild reads those paths) bundles them as they are edited; an installed
// package resolves the same import to its built `dist/`.
export { default, LiveRoom, Room } from "roomstore";
