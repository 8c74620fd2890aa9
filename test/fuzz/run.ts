/**
 * `npm run fuzz [-- --target NAME[,NAME] --count N --seed S]`: the long fuzz run (default 100,000
 * inputs per target, every target). Prints per target the inputs tried, how many were taken and
 * refused, and the time; writes each distinct failure to testdata/fuzz/<target>/<sha>.bin (with a
 * .txt saying why), which test/fuzz.test.ts then replays forever. Exit status 1 on a failure.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fuzz } from "./harness.js";
import { TARGETS, TESTDATA } from "./targets.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USAGE = `usage: npm run fuzz -- [--target ${TARGETS.map((t) => t.name).join("|")}[,...]] [--count N] [--seed S]`;
if (process.argv.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
const FLAGS = ["--target", "--count", "--seed"];
// Every argument is a known flag followed by its value: anything else was a typo, not a run.
const args = process.argv.slice(2);
const stray = args.filter((a, i) => (i % 2 === 0 ? !FLAGS.includes(a) : false));
const names = (arg("target") ?? TARGETS.map((t) => t.name).join(",")).split(",");
const count = Number(arg("count") ?? 100_000);
const seed = Number(arg("seed") ?? 1);
const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
if (
  stray.length > 0 ||
  args.length % 2 !== 0 ||
  unknown.length > 0 ||
  !Number.isSafeInteger(count) ||
  count < 1
) {
  console.error(USAGE);
  process.exit(2);
}

let failed = 0;
for (const target of TARGETS.filter((t) => names.includes(t.name))) {
  const r = await fuzz(target, {
    count,
    seed,
    onProgress: (n) => {
      if (n % 10_000 === 0) console.error(`  ${target.name}: ${n} inputs`);
    },
  });
  console.log(
    `${r.target.padEnd(13)} ${String(r.tried).padStart(7)} inputs  ${String(r.accepted).padStart(7)} taken  ${String(r.refused).padStart(7)} refused  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.failures.length} failures`,
  );
  for (const f of r.failures) {
    failed++;
    const dir = join(TESTDATA, "fuzz", r.target);
    mkdirSync(dir, { recursive: true });
    const name = createHash("sha256").update(f.input).digest("hex").slice(0, 16);
    writeFileSync(join(dir, `${name}.bin`), f.input);
    writeFileSync(join(dir, `${name}.txt`), `${f.kind}: ${f.detail}\n`);
    console.log(
      `  ${f.kind}: ${f.detail.split("\n").slice(0, 4).join("\n    ")}\n    kept as testdata/fuzz/${r.target}/${name}.bin`,
    );
  }
}
process.exit(failed > 0 ? 1 : 0);
