/**
 * Start-up: the fixed cost every command pays before it reads a byte (issue 9, the first rows of
 * its table). Each command is timed as a whole process beside `node -e 0`, the start of Node
 * itself, in the same run; the figure to read is the difference.
 *
 * The commands work on small inputs made here: a local authority (`init`), a policy with local
 * timestamps, and a 40-second asciicast sealed into a signed and timestamped trail.
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, CommandFailed, maxOrNull, measure, median, REPO, setup } from "./lib.js";

/** One command's row: its median whole-process time and the target over `node -e 0`. */
export interface StartupRow {
  id: string;
  /** The command as a user types it (file names shortened). */
  label: string;
  ms: number;
  /** ms over the `node -e 0` median of the same run. */
  overMs: number;
  /** The target and goal, in ms over `node -e 0` (goal null: none set). */
  targetMs: number;
  goalMs: number | null;
  runsMs: number[];
  /** Median user + system CPU ms (GNU time): steadier than wall time on a loaded machine. */
  cpuMs: number | null;
  maxRssKiB: number | null;
}

export interface StartupResult {
  runs: number;
  /** `node -e 0`: the reference. */
  node: { ms: number; runsMs: number[]; cpuMs: number | null; maxRssKiB: number | null };
  rows: StartupRow[];
  /** The trail verified and inspected: records, checkpoints, bytes. */
  trail: { records: number; checkpoints: number; bytes: number };
}

interface Case {
  id: string;
  label: string;
  argv: string[];
  targetMs: number;
  goalMs: number | null;
}

/**
 * An asciicast v2 session of `seconds` seconds, one output line a second: with `--interval 10`,
 * 40 seconds make four checkpoints (start-up), 8 seconds one (the archive's small trails).
 */
export function smallCast(seconds = 40): string {
  const lines = [JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1_767_225_600 })];
  for (let i = 0; i < seconds; i++) {
    lines.push(JSON.stringify([i + 0.5, "o", `line ${i}: load average 0.42 0.37 0.31\r\n`]));
  }
  return `${lines.join("\n")}\n`;
}

/** Makes the inputs; returns the commands to time and the trail's facts. */
function prepare(dir: string): { cases: Case[]; trail: StartupResult["trail"] } {
  const home = join(dir, "authority");
  const policy = join(dir, "policy.json");
  const cast = join(dir, "small.cast");
  const trail = join(dir, "small.trail");
  const cert = join(REPO, "testdata", "certs", "rsa2048-a.crt");
  const node = process.execPath;
  setup(node, [CLI, "init", "--home", home]);
  setup(node, [
    CLI,
    "policy",
    "create",
    "--name",
    "bench-startup",
    "--encrypt",
    cert,
    "--sign-identity",
    "bench-signer",
    "--timestamp",
    "local",
    "--interval",
    "10",
    "-o",
    policy,
  ]);
  writeFileSync(cast, smallCast());
  const sealed = setup(node, [CLI, "seal", "--policy", policy, "--home", home, cast, "-o", trail]);
  const facts = /: (\d+) records, (\d+) checkpoints;/.exec(sealed);
  if (facts === null) throw new CommandFailed(`seal did not report its records: ${sealed}`);
  const anchors = ["--ca", join(home, "ca.crt"), "--tsa-ca", join(home, "ca.crt")];
  const cases: Case[] = [
    {
      id: "version",
      label: "trailseal --version",
      argv: ["--version"],
      targetMs: 30,
      goalMs: null,
    },
    {
      id: "verify",
      label: "trailseal verify small.trail --ca … --tsa-ca …",
      argv: ["verify", trail, ...anchors],
      targetMs: 100,
      goalMs: 50,
    },
    {
      id: "pem",
      label: "trailseal pem rsa2048-a.crt",
      argv: ["pem", cert],
      targetMs: 100,
      goalMs: 50,
    },
    {
      id: "policy-check",
      label: "trailseal policy check policy.json",
      argv: ["policy", "check", policy],
      targetMs: 100,
      goalMs: 50,
    },
    {
      id: "inspect",
      label: "trailseal inspect small.trail",
      argv: ["inspect", trail],
      targetMs: 100,
      goalMs: 50,
    },
  ];
  const facts2 = { records: Number(facts[1]), checkpoints: Number(facts[2]) };
  return { cases, trail: { ...facts2, bytes: statSync(trail).size } };
}

/**
 * Times `node -e 0` and each command `runs` times, taking turns within each round so a burst of
 * load on the shared machine falls on all of them alike. One untimed round first warms the page
 * cache. Every command must exit 0 (verify: valid), or the benchmark stops.
 */
export async function benchStartup(
  dir: string,
  runs: number,
  log: (s: string) => void,
): Promise<StartupResult> {
  const { cases, trail } = prepare(dir);
  const node = process.execPath;
  const all = [
    { id: "node", argv: ["-e", "0"] },
    ...cases.map((c) => ({ ...c, argv: [CLI, ...c.argv] })),
  ];
  const times = new Map(all.map((c) => [c.id, [] as number[]]));
  const rss = new Map(all.map((c) => [c.id, [] as (number | null)[]]));
  const cpu = new Map(all.map((c) => [c.id, [] as number[]]));
  const rssFile = join(dir, "rss-startup.txt");
  for (let round = 0; round <= runs; round++) {
    if (round === 1) log(`start-up: ${runs} rounds of ${all.length} commands`);
    for (const c of all) {
      const m = await measure(node, c.argv, { rssFile });
      if (round === 0) continue;
      times.get(c.id)!.push(m.seconds * 1000);
      rss.get(c.id)!.push(m.maxRssKiB);
      if (m.cpuSeconds !== null) cpu.get(c.id)!.push(m.cpuSeconds * 1000);
    }
  }
  const nodeMs = median(times.get("node")!);
  const cpuMs = (id: string): number | null =>
    cpu.get(id)!.length === 0 ? null : median(cpu.get(id)!);
  const rows = cases.map((c): StartupRow => {
    const ms = median(times.get(c.id)!);
    return {
      id: c.id,
      label: c.label,
      ms,
      overMs: ms - nodeMs,
      targetMs: c.targetMs,
      goalMs: c.goalMs,
      runsMs: times.get(c.id)!,
      cpuMs: cpuMs(c.id),
      maxRssKiB: maxOrNull(rss.get(c.id)!),
    };
  });
  return {
    runs,
    node: {
      ms: nodeMs,
      runsMs: times.get("node")!,
      cpuMs: cpuMs("node"),
      maxRssKiB: maxOrNull(rss.get("node")!),
    },
    rows,
    trail,
  };
}
