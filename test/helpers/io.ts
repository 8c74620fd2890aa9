import { PassThrough, Readable } from "node:stream";
import type { Io } from "../../src/cli/io.js";
import { run } from "../../src/cli/main.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Runs the CLI in-process with memory streams. */
export async function runCli(
  argv: readonly string[],
  options: {
    stdin?: Uint8Array | string;
    env?: Record<string, string | undefined>;
    cwd?: string;
    now?: Date;
  } = {},
): Promise<RunResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const io: Io = {
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    stderrIsTTY: false,
    stdoutIsTTY: false,
    now: () => options.now ?? new Date(),
  };
  const code = await run(argv, io);
  stdout.end();
  stderr.end();
  await new Promise((r) => setImmediate(r));
  const stdoutBytes = new Uint8Array(Buffer.concat(out));
  return {
    code,
    stdout: Buffer.from(stdoutBytes).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    stdoutBytes,
  };
}

/**
 * A summary line (`trailseal: summary: ...`) with its two clock readings, the elapsed seconds and
 * the trails a second, written as T and R; every other character stays, to be compared exactly.
 */
export const untimed = (line: string): string =>
  line.replace(/ in \d+\.\d s, \d+(?:\.\d)? trails\/s(\n?)$/, " in T s, R trails/s$1");
