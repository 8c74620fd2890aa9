/* global process */
// `npm install` (prepare) and `npm test`: build the library (tsc, dist/) and the bundled CLI
// (scripts/bundle.mjs, dist/bin/) unless the bundle is already newer than every source file (after `npm ci` in CI, `npm test` would otherwise build a second time, ~5 s).
// npx runs prepare a second time when it links this package for `npx trailseal …`; skipping the
// rebuild there keeps `npm install && npx trailseal demo` quick. `npm run build` always builds.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const p = join(dir, e.name);
    return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);

let built = 0;
try {
  built = statSync(join(root, "dist", "bin", "trailseal.js")).mtimeMs;
} catch {
  // not built yet
}
const sources = Math.max(
  newest(join(root, "src")),
  ...["package.json", "tsconfig.json", "tsconfig.build.json", "scripts/bundle.mjs"].map(
    (f) => statSync(join(root, f)).mtimeMs,
  ),
);
if (built > sources) {
  process.stdout.write("trailseal: dist/ is up to date\n");
} else {
  execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}
