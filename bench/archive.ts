/**
 * Archive scale (issue 10): `trailseal verify DIR` over many trails, with `--jobs 1` and
 * `--jobs 2`, beside `openssl dgst -sha256 DIR/*.trail` in one process as the floor of reading
 * and hashing the same files.
 *
 * Three sets, each a directory of copies of one trail (sealing each copy anew would time the
 * seal, not the verify; verify reads every byte of every copy all the same):
 * - 2,000 small trails: an 8-second asciicast sealed with the local authority, one checkpoint,
 *   signed and timestamped (a few KB each): the per-trail cost, worker hand-off included;
 * - the same small trail 8,000 and 16,000 times: the peak RSS must not grow with the count.
 *   Short runs end before the heaps reach their working size (one run, --jobs 2: 4,000 trails
 *   peaked at 124 MiB, 8,000 at 155, 16,000 at 157), so the bound is read from 8,000 to 16,000;
 * - 20 large trails: 50 MB of random bytes sealed raw, signed and timestamped: the throughput,
 *   and what the second core adds.
 * Every timed run is `--jsonl` to a file whose summary line must count every trail valid.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CLI,
  CommandFailed,
  maxOrNull,
  mbPerSecond,
  measure,
  median,
  REPO,
  setup,
  writeRandomFile,
} from "./lib.js";
import { smallCast } from "./startup.js";

/** One tool on one set: medians over the repeats, the largest peak RSS. */
export interface ArchiveRow {
  id: "jobs1" | "jobs2" | "openssl";
  label: string;
  seconds: number;
  runs: number[];
  cpuSeconds: number | null;
  maxRssKiB: number | null;
  trailsPerSecond: number;
  mbps: number;
}

export interface ArchiveSet {
  id: "small" | "small-x4" | "small-x8" | "large";
  trails: number;
  /** Size of each trail (they are copies of one). */
  trailBytes: number;
  totalBytes: number;
  rows: ArchiveRow[];
}

export interface ArchiveResult {
  repeats: number;
  /** The sealed trails: records and checkpoints, as `seal` reported them. */
  small: { records: number; checkpoints: number };
  large: { inputBytes: number; records: number; checkpoints: number };
  sets: ArchiveSet[];
  /** jobs2 trails/s over jobs1 trails/s on the large set (target >= 1.8). */
  largeScaling: number;
  /** jobs2 trails/s on the 2,000 small trails (target >= 300). */
  smallTrailsPerSecond: number;
  /** Peak RSS of the 16,000 small trails over the 8,000, per jobs setting (bounded: ~1). */
  rssGrowth: { jobs1: number | null; jobs2: number | null };
}

const SMALL = 2000;
const LARGE = 20;
const LARGE_BYTES = 50e6;
/** Seconds of the small trails' session: under the 10 s interval, so one (final) checkpoint. */
const SMALL_SECONDS = 8;

/** Seals a trail with the local authority's signer and TSA; returns seal's record counts. */
export function sealLocal(
  home: string,
  policy: string,
  input: string,
  from: string,
  out: string,
): { records: number; checkpoints: number } {
  const node = process.execPath;
  const said = setup(node, [
    CLI,
    "seal",
    "--policy",
    policy,
    "--home",
    home,
    "--from",
    from,
    input,
    "-o",
    out,
  ]);
  const facts = /: (\d+) records, (\d+) checkpoints?;/.exec(said);
  if (facts === null) throw new CommandFailed(`seal did not report its records: ${said}`);
  return { records: Number(facts[1]), checkpoints: Number(facts[2]) };
}

/** `count` copies of `trail` in a new directory `dir`, named so they sort in order. */
function copies(trail: string, dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, `session-${String(i).padStart(5, "0")}.trail`);
    copyFileSync(trail, f);
    files.push(f);
  }
  return files;
}

interface Prepared {
  home: string;
  small: ArchiveResult["small"];
  large: ArchiveResult["large"];
  sets: { id: ArchiveSet["id"]; dir: string; files: string[] }[];
}

/** A policy in `dir`: encrypted, signed and stamped by the local authority every `interval` s. */
export function localPolicy(dir: string, name: string, interval: number): string {
  const policy = join(dir, `policy-${name}.json`);
  setup(process.execPath, [
    CLI,
    "policy",
    "create",
    "--name",
    name,
    "--encrypt",
    join(REPO, "testdata", "certs", "rsa2048-a.crt"),
    "--sign-identity",
    "bench-signer",
    "--timestamp",
    "local",
    "--interval",
    String(interval),
    "-o",
    policy,
  ]);
  return policy;
}

async function prepare(dir: string, log: (s: string) => void): Promise<Prepared> {
  const home = join(dir, "authority");
  setup(process.execPath, [CLI, "init", "--home", home]);
  const policy = localPolicy(dir, "bench-archive", 10);
  const cast = join(dir, "small.cast");
  // A few KB: one checkpoint, signed and stamped; what the set measures is the cost per trail.
  writeFileSync(cast, smallCast(SMALL_SECONDS));
  const smallTrail = join(dir, "small.trail");
  const small = sealLocal(home, policy, cast, "asciicast", smallTrail);
  const raw = join(dir, "large.raw");
  await writeRandomFile(raw, LARGE_BYTES);
  const largeTrail = join(dir, "large.trail");
  const large = { inputBytes: LARGE_BYTES, ...sealLocal(home, policy, raw, "raw", largeTrail) };
  log(
    `archive: copying the small trail ${SMALL}, ${4 * SMALL} and ${8 * SMALL} times, the large one ${LARGE} times`,
  );
  const sets = [
    { id: "small" as const, dir: join(dir, "small"), count: SMALL, trail: smallTrail },
    { id: "small-x4" as const, dir: join(dir, "small-x4"), count: 4 * SMALL, trail: smallTrail },
    { id: "small-x8" as const, dir: join(dir, "small-x8"), count: 8 * SMALL, trail: smallTrail },
    { id: "large" as const, dir: join(dir, "large"), count: LARGE, trail: largeTrail },
  ].map((s) => ({ id: s.id, dir: s.dir, files: copies(s.trail, s.dir, s.count) }));
  return { home, small, large, sets };
}

/** The summary line of a `--jsonl` run must count every trail, all valid. */
function checkSummary(jsonl: string, dir: string, count: number): void {
  const last = readFileSync(jsonl, "utf8").trimEnd().split("\n").pop() ?? "";
  const s = JSON.parse(last) as { type?: string; trails?: number; valid?: number };
  if (s.type !== "summary" || s.trails !== count || s.valid !== count) {
    throw new CommandFailed(`verify ${dir}: expected ${count} valid trails, summary: ${last}`);
  }
}

export async function benchArchive(
  dir: string,
  repeats: number,
  log: (s: string) => void,
): Promise<ArchiveResult> {
  log("archive: sealing one small and one 50 MB trail (local authority, signed, timestamped)");
  const prep = await prepare(dir, log);
  const ca = join(prep.home, "ca.crt");
  const rssFile = join(dir, "rss-archive.txt");
  const jsonl = join(dir, "archive.jsonl");
  const verify = (setDir: string, jobs: number): string[] => [
    CLI,
    "verify",
    setDir,
    "--ca",
    ca,
    "--tsa-ca",
    ca,
    "--jobs",
    String(jobs),
    "--jsonl",
  ];
  const sets: ArchiveSet[] = [];
  for (const set of prep.sets) {
    const trailBytes = statSync(set.files[0]!).size;
    const totalBytes = trailBytes * set.files.length;
    const tools = [
      {
        id: "jobs1" as const,
        label: "trailseal verify DIR --jobs 1",
        cmd: process.execPath,
        argv: verify(set.dir, 1),
      },
      {
        id: "jobs2" as const,
        label: "trailseal verify DIR --jobs 2",
        cmd: process.execPath,
        argv: verify(set.dir, 2),
      },
      {
        id: "openssl" as const,
        label: "openssl dgst -sha256 DIR/*.trail",
        cmd: "openssl",
        argv: ["dgst", "-sha256", ...set.files],
      },
    ];
    // One untimed read of every file first: the timed runs all start from a warm page cache.
    setup("openssl", ["dgst", "-sha256", "-out", "/dev/null", ...set.files]);
    const taken = new Map(tools.map((t) => [t.id, [] as Awaited<ReturnType<typeof measure>>[]]));
    for (let r = 0; r < repeats; r++) {
      for (const t of tools) {
        const isOurs = t.id !== "openssl";
        const m = await measure(t.cmd, t.argv, {
          rssFile,
          ...(isOurs ? { stdoutFile: jsonl } : {}),
        });
        if (isOurs) checkSummary(jsonl, set.dir, set.files.length);
        taken.get(t.id)!.push(m);
      }
      const line = tools
        .map((t) => `${t.id} ${taken.get(t.id)!.at(-1)!.seconds.toFixed(2)} s`)
        .join(", ");
      log(`  [${r + 1}/${repeats}] ${set.id} (${set.files.length} trails): ${line}`);
    }
    const rows = tools.map((t): ArchiveRow => {
      const ms = taken.get(t.id)!;
      const seconds = median(ms.map((m) => m.seconds));
      const cpus = ms.map((m) => m.cpuSeconds).filter((x): x is number => x !== null);
      return {
        id: t.id,
        label: t.label,
        seconds,
        runs: ms.map((m) => Math.round(m.seconds * 1000) / 1000),
        cpuSeconds: cpus.length === 0 ? null : median(cpus),
        maxRssKiB: maxOrNull(ms.map((m) => m.maxRssKiB)),
        trailsPerSecond: set.files.length / seconds,
        mbps: mbPerSecond(totalBytes, seconds),
      };
    });
    sets.push({ id: set.id, trails: set.files.length, trailBytes, totalBytes, rows });
  }
  const row = (set: ArchiveSet["id"], id: ArchiveRow["id"]): ArchiveRow =>
    sets.find((s) => s.id === set)!.rows.find((x) => x.id === id)!;
  const growth = (id: "jobs1" | "jobs2"): number | null => {
    const a = row("small-x4", id).maxRssKiB;
    const b = row("small-x8", id).maxRssKiB;
    return a === null || b === null ? null : b / a;
  };
  return {
    repeats,
    small: prep.small,
    large: prep.large,
    sets,
    largeScaling: row("large", "jobs2").trailsPerSecond / row("large", "jobs1").trailsPerSecond,
    smallTrailsPerSecond: row("small", "jobs2").trailsPerSecond,
    rssGrowth: { jobs1: growth("jobs1"), jobs2: growth("jobs2") },
  };
}
