/* global process */
// Bundles the CLI (src/cli/bin.ts) into dist/bin/ with esbuild: `npm run build` runs it after
// tsc, which still emits dist/ for the library entry and its .d.ts.
//
// Why: unbundled, `trailseal verify` of a small trail spent ~450 ms in Node's ESM loader alone
// (resolving, reading and compiling ~100 module files: src/, pkijs, asn1js, @peculiar/*). Bundled,
// Node reads a handful of files.
//
// Why code splitting rather than a single file: each command is a dynamic import() in
// src/cli/main.ts, and with splitting each becomes a chunk loaded only when that command runs, so
// `--version`/`--help` read one small file and the ~850 KB of pkijs/asn1js/@peculiar code is
// read only by the commands that use it. A single file must be parsed whole by every command
// (1.4 MB: measured +40-50 ms of CPU on `--version` against +10-20 ms split, on the loaded
// 2-core machine). Every dependency is bundled: @peculiar/x509 left external costs ~250 ms of
// ESM loading each time it is imported; bundled, a dynamic import() of it becomes its own chunk.
//
// The chunks sit next to the entry, two levels under the package root like src/cli/*.ts: code
// that finds the package from import.meta.url (package.json for --version, the demo's
// testdata/recordings) sees the same "../.." in either. A new Worker file must be added to
// ENTRY_POINTS here, or the bundle will not contain it.
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const outdir = join(root, "dist", "bin");
const ENTRY_POINTS = [
  { in: join(root, "src", "cli", "bin.ts"), out: "trailseal" },
  // The worker thread of many-trail verification (src/archive/verify-many.ts loads it by URL).
  { in: join(root, "src", "archive", "verify-worker.ts"), out: "verify-worker" },
  { in: join(root, "src", "archive", "scan-worker.ts"), out: "scan-worker" },
];

// Chunk names carry content hashes: a stale chunk of an earlier build would stay forever.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: ENTRY_POINTS,
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  // Linked maps: `node --enable-source-maps` (or NODE_OPTIONS) maps stack traces to src/*.ts.
  sourcemap: "linked",
  sourcesContent: false,
  // Bundled CommonJS dependencies (commander, node-forge) call require() for node: built-ins,
  // which an ES module does not have.
  banner: {
    js: 'import { createRequire as __trailsealCreateRequire } from "node:module";\nconst require = __trailsealCreateRequire(import.meta.url);',
  },
  logLevel: "warning",
});
chmodSync(join(outdir, "trailseal.js"), 0o755);
process.stdout.write("trailseal: bundled the CLI into dist/bin/trailseal.js\n");
