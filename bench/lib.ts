/**
 * Measurement helpers for the benchmarks: run a command and take its wall time and peak RSS,
 * generate input data, summarise repeats, describe the machine.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, createWriteStream, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..");
/** The bundled CLI, as `npm install` builds it and the package's `bin` runs it. */
export const CLI = join(REPO, "dist", "bin", "trailseal.js");
const GNU_TIME = "/usr/bin/time";

export interface Measured {
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
  /** Peak resident set size of the command in KiB, or null when GNU time is not installed. */
  maxRssKiB: number | null;
  /** User + system CPU seconds of the command (GNU time), or null without GNU time. */
  cpuSeconds: number | null;
}

/** A command failed: the benchmark stops rather than report a figure for a broken run. */
export class CommandFailed extends Error {}

export function haveGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

/**
 * Runs `cmd args` to completion (no stdin, stdout to `stdoutFile` or discarded) under GNU time, which reports the child's peak RSS from wait4(2) rusage: exact and
 * independent of sampling. Wall time is taken here, around the spawn.
 */
export async function measure(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; rssFile: string; env?: NodeJS.ProcessEnv; stdoutFile?: string } = {
    rssFile: "",
  },
): Promise<Measured> {
  const timed = haveGnuTime() && options.rssFile !== "";
  const file = timed ? GNU_TIME : cmd;
  const argv = timed ? ["-f", "%M %U %S", "-o", options.rssFile, cmd, ...args] : [...args];
  const stdout = options.stdoutFile === undefined ? "ignore" : openSync(options.stdoutFile, "w");
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, {
    cwd: options.cwd ?? REPO,
    stdio: ["ignore", stdout, "pipe"],
    env: options.env ?? process.env,
  });
  // The child has its own copy of the descriptor now.
  if (typeof stdout === "number") closeSync(stdout);
  let stderr = "";
  // A pipe, as asked above (the typings cannot tell with a descriptor in the tuple).
  const errors = child.stderr!;
  errors.setEncoding("utf8");
  errors.on("data", (s: string) => {
    if (stderr.length < 4000) stderr += s;
  });
  const [code] = (await once(child, "close")) as [number | null];
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) {
    throw new CommandFailed(`${cmd} ${args.join(" ")} exited with ${code}:\n${stderr}`);
  }
  let maxRssKiB: number | null = null;
  let cpuSeconds: number | null = null;
  if (timed) {
    const line = readFileSync(options.rssFile, "utf8").trim().split("\n").pop() ?? "";
    const [rss, user, sys] = line.split(" ").map(Number);
    maxRssKiB = Number.isFinite(rss) ? rss! : null;
    cpuSeconds = Number.isFinite(user) && Number.isFinite(sys) ? user! + sys! : null;
    rmSync(options.rssFile, { force: true });
  }
  return { seconds, maxRssKiB, cpuSeconds };
}

/** Runs a command synchronously for set-up steps; throws with its stderr when it fails. */
export function setup(cmd: string, args: readonly string[], cwd = REPO): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new CommandFailed(`${cmd} ${args.join(" ")} exited with ${r.status}:\n${r.stderr}`);
  }
  return r.stdout;
}

/** Whether `cmd` runs at all (e.g. `age --version`). */
export function available(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return r.status === 0;
}

/**
 * Writes `bytes` of incompressible data: 16 MiB of random bytes, then that block again with a
 * counter XORed into its first 8 bytes, so no two blocks repeat and generation costs little.
 */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(16 * 1024 * 1024);
  const out = createWriteStream(path);
  let written = 0;
  let n = 0n;
  while (written < bytes) {
    const len = Math.min(block.length, bytes - written);
    const chunk = Buffer.from(block.subarray(0, len));
    chunk.writeBigUInt64BE(chunk.readBigUInt64BE(0) ^ n++, 0);
    if (!out.write(chunk)) await once(out, "drain");
    written += len;
  }
  out.end();
  await once(out, "finish");
}

/** True when the two files are byte for byte equal (cmp(1)). */
export function sameFile(a: string, b: string): boolean {
  return spawnSync("cmp", ["-s", a, b]).status === 0;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function maxOrNull(xs: readonly (number | null)[]): number | null {
  const present = xs.filter((x): x is number => x !== null);
  return present.length === 0 ? null : Math.max(...present);
}

export interface MachineFacts {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  openssl: string;
  age: string | null;
  gnuTime: boolean;
  /** 1-minute load average when the run started and when it ended: how busy the machine was. */
  load: { start: number; end: number };
}

export function loadAverage(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export function machineFacts(): MachineFacts {
  const firstLine = (cmd: string, args: string[]): string | null => {
    const r = spawnSync(cmd, args, { cwd: REPO, encoding: "utf8" });
    return r.status === 0 ? (r.stdout.trim().split("\n")[0] ?? null) : null;
  };
  let os = "unknown";
  try {
    const rel = readFileSync("/etc/os-release", "utf8");
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(rel)?.[1] ?? os;
  } catch {
    // not Linux, or no os-release: leave it unknown
  }
  return {
    date: new Date().toISOString(),
    commit: firstLine("git", ["rev-parse", "--short", "HEAD"]) ?? "unknown",
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os,
    node: process.version,
    openssl: firstLine("openssl", ["version"]) ?? "not installed",
    age: firstLine("age", ["--version"]),
    gnuTime: haveGnuTime(),
    load: { start: loadAverage(), end: loadAverage() },
  };
}

/** MB/s with MB = 10^6 bytes. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

export function mib(kib: number | null): string {
  return kib === null ? "n/a" : (kib / 1024).toFixed(0);
}

/** A fixed-width text table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A Markdown table. */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  const align = head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [line(head), line(align), ...rows.map(line)].join("\n");
}
