/**
 * The many-trail options of `verify` and `scan`: inputs from files, directories and
 * `--files-from` lists, `--jobs`, `--shard`, `--jsonl`; the outcomes as they come, the progress
 * line and the summary on stderr. The work itself is src/archive/'s.
 */
import { createReadStream } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { TrailsealError } from "../errors.js";
import { isTokenKey, type OpenedKey } from "../keys.js";
import { trailInputs, type PathList, type TrailInput } from "../archive/inputs.js";
import { inOrder, type TaskOutcome } from "../archive/pool.js";
import { ofShard, parseShard, type Shard } from "../archive/shard.js";
import type { Summary } from "../archive/summary.js";
import { collect, plural, say, type Io } from "./io.js";
import { byteSize, duration, StatusLine } from "./progress.js";

export interface ArchiveFlags {
  filesFrom?: string[];
  null?: boolean;
  jobs?: string;
  trailTimeout?: string;
  shard?: string;
  jsonl?: boolean;
  json?: boolean;
}

/** Most worker threads: far more than any machine trailseal runs on has cores. */
const MAX_JOBS = 256;
/** Longest --trail-timeout, seconds: a day. */
const MAX_TRAIL_TIMEOUT = 86400;

/** Adds the many-trail options to a command. */
export function archiveOptions(cmd: Command): Command {
  return cmd
    .option(
      "--files-from <file>",
      "also take the trails listed in FILE (- for stdin), one path a line (repeatable)",
      collect,
    )
    .option("-0, --null", "--files-from lists are NUL-separated, as find -print0 writes them")
    .option("-j, --jobs <n>", "worker threads (default: the number of cores)")
    .option(
      "--trail-timeout <seconds>",
      "stop a worker still on one trail after this long and report that trail (default: no limit)",
    )
    .option(
      "--shard <K/N>",
      "take only shard K (from 0) of N, by a hash of each trail's path relative to its directory or list",
    )
    .option("--jsonl", "print one JSON object a line as each trail finishes, then a summary line");
}

export interface ArchivePlan {
  readonly inputs: AsyncIterable<TrailInput>;
  readonly jobs: number;
  /** --trail-timeout in milliseconds; undefined: no limit. */
  readonly trailTimeoutMs: number | undefined;
  readonly shard: Shard | undefined;
  /** True when stdin is the one trail (then it is read in this thread). */
  readonly stdin: boolean;
  /** True when the trails come from a directory or a list: the summary is always printed. */
  readonly many: boolean;
}

/** A whole number from 1 to `max` given to `flag`. */
function wholeNumber(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new TrailsealError(
      "USAGE",
      `${flag} takes a whole number from 1 to ${max}, not '${value}'`,
    );
  return n;
}

/** The inputs and how to run them, from the arguments and flags; refuses what cannot work. */
export async function archivePlan(
  args: readonly string[],
  flags: ArchiveFlags,
  io: Io,
): Promise<ArchivePlan> {
  const lists = flags.filesFrom ?? [];
  if (flags.json === true && flags.jsonl === true)
    throw new TrailsealError("USAGE", "--json and --jsonl cannot be combined", {
      hint: "--jsonl prints one verdict a line as each trail finishes; --json one array at the end",
    });
  if (flags.null === true && lists.length === 0)
    throw new TrailsealError(
      "USAGE",
      "-0 (--null) says how --files-from lists are separated; give --files-from",
    );
  if (args.length === 0 && lists.length === 0)
    throw new TrailsealError("USAGE", "no trail given", {
      hint: "name trail files or directories, or give --files-from FILE",
    });
  const stdinUses = args.filter((a) => a === "-").length + lists.filter((l) => l === "-").length;
  if (stdinUses > 1) throw new TrailsealError("USAGE", "stdin ('-') can be read only once");
  const stdin = args.includes("-");
  if (stdin && flags.trailTimeout !== undefined)
    throw new TrailsealError(
      "USAGE",
      "--trail-timeout stops a worker thread; a trail on stdin ('-') is read in the command's own",
      {
        hint: "save it to a file to verify it with a time limit",
      },
    );
  if (stdin && (args.length > 1 || lists.length > 0))
    throw new TrailsealError("USAGE", "a trail on stdin ('-') is verified alone", {
      hint: "save it to a file to verify it with others",
    });
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  const pathLists: PathList[] = lists.map((l) => ({
    name: l === "-" ? "<stdin>" : l,
    source: l === "-" ? (io.stdin as AsyncIterable<Uint8Array>) : listFile(l, io),
  }));
  const inputs = trailInputs(stdin ? [] : args, {
    cwd: io.cwd,
    lists: pathLists,
    nul: flags.null === true,
  });
  return {
    inputs: stdin ? single({ path: "-", key: "-" }) : inputs,
    jobs:
      flags.jobs === undefined
        ? availableParallelism()
        : wholeNumber("--jobs", flags.jobs, MAX_JOBS),
    trailTimeoutMs:
      flags.trailTimeout === undefined
        ? undefined
        : 1000 * wholeNumber("--trail-timeout", flags.trailTimeout, MAX_TRAIL_TIMEOUT),
    shard,
    stdin,
    many: lists.length > 0 || args.length > 1,
  };
}

async function* single(input: TrailInput): AsyncGenerator<TrailInput> {
  yield input;
}

async function* listFile(path: string, io: Io): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(resolve(io.cwd, path))) yield chunk as Buffer;
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read";
    throw new TrailsealError("IO", `${reason}: ${path} (--files-from)`, { cause: e, file: path });
  }
}

/** How a many-trail command runs its trails: one in this thread, more on the worker pool. */
export interface ArchiveRun {
  /** Every trail of the plan (of its shard only). */
  readonly inputs: AsyncIterable<TrailInput>;
  /** More than one trail. */
  readonly many: boolean;
  /** The one trail, when there is exactly one: it runs in this thread. */
  readonly single: TrailInput | null;
  /** Worker threads: 0 for one trail, or when a key is on a token (see `threadsFor`). */
  readonly jobs: number;
  readonly trailTimeoutMs: number | undefined;
  /** Whether the summary goes to stderr: a directory or list, many trails, --jsonl or a shard. */
  readonly summary: boolean;
}

/** How to run the plan's trails with `keys`: the first two are read to tell one from many. */
export async function archiveRun(
  plan: ArchivePlan,
  keys: readonly OpenedKey[],
  flags: ArchiveFlags,
): Promise<ArchiveRun> {
  const { jobs, trailTimeoutMs } = threadsFor(plan, keys);
  const { first, all } = await peekInputs(ofShard(plan.inputs, plan.shard), 2);
  const many = first.length > 1;
  return {
    inputs: all,
    many,
    single: many ? null : (first[0] ?? null),
    jobs: many ? jobs : 0,
    trailTimeoutMs,
    summary: plan.many || many || flags.jsonl === true || plan.shard !== undefined,
  };
}

/**
 * The first inputs, to tell one trail from many without listing them all: one trail is
 * verified in this thread (no worker to start), many on the pool.
 */
async function peekInputs(
  inputs: AsyncIterable<TrailInput>,
  n: number,
): Promise<{ first: TrailInput[]; all: AsyncIterable<TrailInput> }> {
  const it = inputs[Symbol.asyncIterator]();
  const first: TrailInput[] = [];
  let done = false;
  while (first.length < n) {
    const r = await it.next();
    if (r.done === true) {
      done = true;
      break;
    }
    first.push(r.value);
  }
  async function* all(): AsyncGenerator<TrailInput> {
    yield* first;
    if (done) return;
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
  }
  return { first, all: all() };
}

/** The summary as one line of words (stderr). */
export function summaryLine(s: Summary): string {
  const failed = Object.entries(s.failedChecks)
    .filter(([, n]) => n > 0)
    .map(([check, n]) => `${check} ${n}`);
  return [
    `${plural(s.trails, "trail")}${s.shard === undefined ? "" : ` (shard ${s.shard})`}: ${s.valid} valid`,
    `${s.invalid} invalid${failed.length > 0 ? ` (failed: ${failed.join(", ")})` : ""}`,
    `${s.truncated} truncated`,
    `${s.tampered} tampered`,
    `${s.unreadable} unreadable; ${byteSize(s.bytes)} in ${(s.elapsedMs / 1000).toFixed(1)} s, ${s.trailsPerSecond} trails/s`,
  ].join(", ");
}

/**
 * The progress line of many trails, on a terminal only: trails and bytes done, the rate, and
 * once the listing is complete, how many there are and the time left.
 */
export class ArchiveProgress extends StatusLine {
  private trails = 0;
  private bytes = 0;
  private total: number | null = null;

  private constructor(
    io: Io,
    private readonly label: string,
    clock: () => number,
  ) {
    super(io, 0, clock);
  }

  /** The line for `label` (e.g. "verifying"); null when stderr is not a terminal. */
  static for(io: Io, label: string, clock: () => number = Date.now): ArchiveProgress | null {
    return io.stderrIsTTY ? new ArchiveProgress(io, label, clock) : null;
  }

  /** All inputs are known now: the time left can be told. */
  listed(total: number): void {
    this.total = total;
  }

  /** One more trail done, of `bytes`. */
  add(bytes: number): void {
    this.trails++;
    this.bytes += bytes;
    this.redraw();
  }

  line(now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 1e-3);
    const of = this.total === null ? "" : ` of ${this.total}`;
    const noun = (this.total ?? this.trails) === 1 ? "trail" : "trails";
    const parts = [
      `trailseal: ${this.label}: ${this.trails}${of} ${noun}, ${byteSize(this.bytes)}`,
    ];
    parts.push(`${(this.trails / seconds).toFixed(1)} trails/s`);
    if (this.total !== null && this.trails > 0 && this.trails < this.total)
      parts.push(`${duration(((this.total - this.trails) * seconds) / this.trails)} left`);
    return parts.join(", ");
  }
}

/** A token key is a session in this thread: worker threads cannot share it, nor be stopped. */
function threadsFor(plan: ArchivePlan, keys: readonly OpenedKey[]): ArchivePlan {
  if (!keys.some(isTokenKey)) return plan;
  if (plan.trailTimeoutMs !== undefined)
    throw new TrailsealError(
      "USAGE",
      "--trail-timeout stops a worker thread; keys on a PKCS#11 token are used in the command's own",
      { hint: "run without --trail-timeout, or with key files" },
    );
  return { ...plan, jobs: 0 };
}

/**
 * The trails of a many-trail run (verify, scan) as the output wants them: with --jsonl as each
 * finishes, else in input order; each counted on the progress line. A trail that could not be
 * read or opened is said on stderr (after the progress line is cleared; with --jsonl also as an
 * error line), told to `unreadable`, and left out.
 */
export async function* readableTrails<R extends { readonly bytes: number }>(
  outcomes: AsyncIterable<TaskOutcome<TrailInput, R>>,
  io: Io,
  jsonl: boolean,
  progress: ArchiveProgress | null,
  unreadable: () => void,
): AsyncGenerator<{ readonly input: TrailInput; readonly result: R }> {
  for await (const o of jsonl ? outcomes : inOrder(outcomes)) {
    progress?.add(o.ok ? o.result.bytes : 0);
    if (o.ok) {
      yield o;
      continue;
    }
    unreadable();
    progress?.finish();
    say(io, "error", o.error.message);
    if (jsonl) {
      io.stdout.write(
        `${JSON.stringify({ type: "error", file: o.input.path, key: o.input.key, ...o.error })}\n`,
      );
    }
  }
}
