/**
 * trailseal benchmarks: `npm run bench [-- options]` (builds dist first).
 *
 * Every figure is taken beside a reference tool (age, openssl) run in the same run on the same
 * data, and reported as a ratio: the machines are shared and noisy, absolute figures are not
 * comparable between runs, ratios mostly are.
 *
 *   --large            also 1 GiB of input, after 256 MiB
 *   --size LIST        input sizes in MiB, comma-separated (overrides --large)
 *   --repeats N        repeats of each seal/open (default 3 under 1 GiB, else 1)
 *   --only LIST        comma-separated sections: startup, throughput, verify, archive, tsa,
 *                      pkcs11, scan (default all)
 *   --archive-repeats N  repeats of each archive run (default 2)
 *   --startup-runs N   rounds of the start-up commands (default 15)
 *   --tsa-seconds S    seconds of load per TSA side (default 5; also the pkcs11 section's)
 *   --scan-mib N       MiB of session output in the scan section's trail (default 32)
 *   --write-doc        also rewrite docs/BENCHMARKS.md with the figures
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CLI, haveGnuTime, loadAverage, machineFacts, REPO, type MachineFacts } from "./lib.js";
import { benchStartup, type StartupResult } from "./startup.js";
import { benchThroughput, type ThroughputResult } from "./throughput.js";
import { benchVerify, type VerifyResult } from "./verify.js";
import { benchArchive, type ArchiveResult } from "./archive.js";
import { benchTsa, type TsaResult } from "./tsa.js";
import { benchPkcs11, type Pkcs11Result } from "./pkcs11.js";
import { benchScan, type ScanResult } from "./scan.js";
import { renderDoc, renderText } from "./report.js";

export interface BenchResult {
  command: string;
  machine: MachineFacts;
  startup: StartupResult | null;
  /** One per input size. */
  throughput: ThroughputResult[];
  verify: VerifyResult | null;
  archive: ArchiveResult | null;
  tsa: TsaResult | null;
  /** Null when the section did not run, or where SoftHSM2 or the pkcs11js addon is missing. */
  pkcs11?: Pkcs11Result | null;
  scan: ScanResult | null;
  totalSeconds: number;
}

const SECTIONS = ["startup", "throughput", "verify", "archive", "tsa", "pkcs11", "scan"] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      large: { type: "boolean", default: false },
      size: { type: "string" },
      repeats: { type: "string" },
      only: { type: "string" },
      "tsa-seconds": { type: "string", default: "5" },
      "startup-runs": { type: "string", default: "15" },
      "archive-repeats": { type: "string", default: "2" },
      "scan-mib": { type: "string", default: "32" },
      "write-doc": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: npm run bench -- [--large] [--size MIB,...] [--repeats N] [--only startup,throughput,verify,archive,tsa,pkcs11,scan] [--startup-runs N] [--archive-repeats N] [--tsa-seconds S] [--scan-mib N] [--write-doc]\n",
    );
    return 0;
  }
  const sizes =
    values.size !== undefined
      ? values.size.split(",").map(Number)
      : values.large
        ? [256, 1024]
        : [256];
  const repeatsFor = (mib: number): number =>
    values.repeats !== undefined ? Number(values.repeats) : mib >= 1024 ? 1 : 3;
  const repeatsOk = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 20;
  const tsaSeconds = Number(values["tsa-seconds"]);
  const startupRuns = Number(values["startup-runs"]);
  const archiveRepeats = Number(values["archive-repeats"]);
  const scanMib = Number(values["scan-mib"]);
  const only = new Set(values.only?.split(",").map((s) => s.trim()) ?? SECTIONS);
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`unknown section '${s}' (${SECTIONS.join(", ")})`);
  }
  const checks: [boolean, string][] = [
    [sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 8192), "--size: 1..8192 MiB each"],
    [sizes.every((n) => repeatsOk(repeatsFor(n))), "--repeats must be 1..20"],
    [
      Number.isFinite(tsaSeconds) && tsaSeconds > 0 && tsaSeconds <= 60,
      "--tsa-seconds must be in (0, 60]",
    ],
    [
      Number.isInteger(startupRuns) && startupRuns >= 1 && startupRuns <= 100,
      "--startup-runs must be 1..100",
    ],
    [repeatsOk(archiveRepeats), "--archive-repeats must be 1..20"],
    [Number.isInteger(scanMib) && scanMib >= 1 && scanMib <= 1024, "--scan-mib must be 1..1024"],
  ];
  for (const [ok, message] of checks) if (!ok) throw new Error(message);
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run 'npm run build' first (npm run bench does)`);
  if (!haveGnuTime()) {
    process.stderr.write(
      "bench: /usr/bin/time (Debian package `time`) is missing: peak RSS will read n/a\n",
    );
  }

  const argv = process.argv.slice(2).filter((a) => a !== "--write-doc");
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "trailseal-bench-"));
  const result: BenchResult = {
    command,
    machine: machineFacts(),
    startup: null,
    throughput: [],
    verify: null,
    archive: null,
    tsa: null,
    pkcs11: null,
    scan: null,
    totalSeconds: 0,
  };
  try {
    // First, before the long sections have warmed (or heated) the machine.
    if (only.has("startup")) {
      log("start-up: node -e 0 beside --version, verify, pem, policy check, inspect");
      const sub = join(dir, "startup");
      mkdirSync(sub);
      result.startup = await benchStartup(sub, startupRuns, log);
    }
    if (only.has("throughput")) {
      for (const mib of sizes) {
        const repeats = repeatsFor(mib);
        log(`seal/replay throughput: ${mib} MiB, ${repeats} repeat(s)`);
        const sub = join(dir, `${mib}mib`);
        mkdirSync(sub);
        result.throughput.push(await benchThroughput(sub, mib * 2 ** 20, repeats, log));
      }
    }
    if (only.has("verify")) {
      log("verify: one-hour trail, 120 signed checkpoints");
      result.verify = await benchVerify(dir, 5, log);
    }
    if (only.has("archive")) {
      log(`archive: ${archiveRepeats} repeat(s) of 2,000 small, 4,000 small and 20 large trails`);
      const sub = join(dir, "archive");
      mkdirSync(sub);
      result.archive = await benchArchive(sub, archiveRepeats, log);
    }
    if (only.has("tsa")) {
      log(`tsa: ${tsaSeconds} s per side, 8 concurrent clients`);
      result.tsa = await benchTsa(dir, tsaSeconds, log);
    }
    if (only.has("pkcs11")) {
      log(`pkcs11: tsa serve ${tsaSeconds} s per side (file key, SoftHSM2 key), replay start-up`);
      result.pkcs11 = await benchPkcs11(dir, tsaSeconds, startupRuns, log);
    }
    if (only.has("scan")) {
      log(`scan: a ${scanMib} MiB shell session, 3 rules beside replay --format raw | grep -c`);
      const sub = join(dir, "scan");
      mkdirSync(sub);
      result.scan = await benchScan(sub, scanMib, 3, log);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  result.machine.load.end = loadAverage();
  result.totalSeconds = Math.round((Date.now() - started) / 100) / 10;

  process.stdout.write(`${renderText(result)}\n`);
  const resultsDir = join(REPO, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const stamp = result.machine.date.replace(/[:.]/g, "-");
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(join(resultsDir, `${stamp}.json`), json);
  writeFileSync(join(resultsDir, "latest.json"), json);
  log(`results: bench/results/${stamp}.json`);
  if (values["write-doc"]) {
    writeFileSync(join(REPO, "docs", "BENCHMARKS.md"), renderDoc(result));
    log("wrote docs/BENCHMARKS.md");
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
