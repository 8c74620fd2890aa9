/**
 * `trailseal record` as a process of its own, for the fault tests: the built CLI
 * (dist/cli/bin.js, so run `npm run build` first) with the session clock sped up by
 * fast-clock.mjs, in its own process group, with no terminal.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";

const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "dist", "cli", "bin.js");
export const FAST_CLOCK = join(ROOT, "test", "helpers", "fast-clock.mjs");

export interface LiveRecorderProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Everything it wrote to stdout so far (the command's output, passed through). */
  stdout(): string;
  /** Resolves with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Process groups started here, so that a failed test leaves none of them running. */
const started = new Set<number>();

/** Kills every recorder's group started by this file's tests (for `afterAll`). */
export function killStarted(): void {
  for (const pgid of started) killGroup(pgid);
  started.clear();
}

/** Starts `trailseal record ARGS` with the fast session clock. */
export function startRecorder(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): LiveRecorderProcess {
  const child = spawn(process.execPath, ["--import", FAST_CLOCK, BIN, "record", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    // PATH only: NODE_OPTIONS or the like from the runner would put warnings in the output.
    env: { PATH: process.env["PATH"], ...env },
  });
  started.add(child.pid!);
  let err = "";
  let out = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString("latin1")));
  child.stdout.on("data", (c: Buffer) => (out += c.toString("latin1")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("close", (code, signal) => r({ code, signal })),
  );
  return { child, exited, stderr: () => err, stdout: () => out };
}

/** Whether a process runs (a zombie has ended: it only waits to be reaped). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return stat !== null && !/^\d+ \(.*\) Z /s.test(stat);
}

/**
 * The processes of group `pgid` that still run, as "PID (NAME) STATE". Zombies do not count:
 * they have ended and only wait to be reaped, which a container's PID 1 may never do, and
 * `kill(-pgid, 0)` would still find them.
 */
export async function groupMembers(pgid: number): Promise<string[]> {
  const members: string[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => null);
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after it.
    const close = stat === null ? -1 : stat.lastIndexOf(")");
    if (stat === null || close < 0) continue;
    const [state, , pgrp] = stat.slice(close + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z")
      members.push(stat.slice(0, close + 1) + ` ${state}`);
  }
  return members;
}

/** Whether any process of group `pgid` still runs (zombies do not count, see groupMembers). */
export async function groupAlive(pgid: number): Promise<boolean> {
  return (await groupMembers(pgid)).length > 0;
}

/** Ends what is left of a process group (cleanup in `finally`). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Polls `check` until it returns a value other than undefined. The limit only turns a hang into
 * a failure with a message; nothing is asserted about how long it took.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  limitMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
