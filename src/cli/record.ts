import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { resolve } from "node:path";
import type { ReadStream, WriteStream } from "node:tty";
import { TrailsealError } from "../errors.js";
import { isPkcs11Uri, parsePkcs11Uri } from "../pkcs11/uri.js";
import { LiveRecorder, liveMetadata } from "../record/recorder.js";
import { newCommand, plural, runCommand, say, type Io } from "./io.js";
import { namedWrite } from "./common.js";
import { withoutPassinVariables } from "./files.js";
import { resolveSealing, sealingOptions, type Sealing, type SealingFlags } from "./sealing.js";

interface RecordFlags extends SealingFlags {
  output: string;
  cols?: string;
  rows?: string;
  force?: boolean;
  quiet?: boolean;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function size(flag: string | undefined, name: string): number | undefined {
  if (flag === undefined) return undefined;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new TrailsealError(
      "USAGE",
      `--${name} must be a whole number from 1 to 10000, not ${flag}`,
    );
  return n;
}

/**
 * The trail file of a live recording. Unlike `seal`'s output it is written in place, appended
 * record by record and fsynced at every checkpoint: a recorder killed mid-way must leave the
 * verified prefix on disk, not a temporary file.
 */
async function openTrailFile(
  path: string,
  io: Io,
  force: boolean,
): Promise<{ handle: FileHandle; full: string }> {
  if (path === "-")
    throw new TrailsealError(
      "USAGE",
      "record writes the trail to a file, not to stdout (the terminal is the session's)",
    );
  const full = resolve(io.cwd, path);
  try {
    const handle = await open(full, force ? "w" : "wx", 0o600);
    // A file replaced with --force keeps its old mode: give it the one a new trail gets.
    if (force && (await handle.stat()).isFile()) await handle.chmod(0o600);
    return { handle, full };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new TrailsealError("IO", `${path} already exists`, {
        hint: "choose another name or pass --force",
      });
    }
    throw new TrailsealError("IO", `cannot write ${path}`, { cause: e });
  }
}

/** Appends to the trail file and syncs it; a failed write (a full disk) names the file. */
function fileSink(handle: FileHandle, name: string) {
  return {
    sink: (chunk: Uint8Array) =>
      namedWrite(
        name,
        (async () => {
          let offset = 0;
          while (offset < chunk.byteLength)
            offset += (await handle.write(chunk, offset)).bytesWritten;
        })(),
      ),
    sync: () => namedWrite(name, handle.sync()),
  };
}

/**
 * Puts the user's terminal in raw mode, as `script` does: libuv's raw mode keeps output
 * post-processing (ONLCR), which would turn the command's own "\r\n" into "\r\r\n" and break
 * full-screen programs that move the cursor down with a bare "\n", so it is switched off too.
 * `setRawMode(false)` restores the terminal's original settings, OPOST included.
 */
function rawTerminal(tty: Partial<ReadStream>): void {
  tty.setRawMode!(true);
  const fd = (tty as { fd?: unknown }).fd;
  if (typeof fd === "number") spawnSync("stty", ["-opost"], { stdio: [fd, "ignore", "ignore"] });
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = sealingOptions(newCommand("trailseal record", io))
    .description("run a command in a pseudo-terminal and seal the session into a trail as it runs")
    .argument("<command...>", "the command and its arguments (after --)")
    .requiredOption("-o, --output <file>", "the trail to write")
    .option("--cols <n>", "terminal width when stdout is not a terminal", "80")
    .option("--rows <n>", "terminal height when stdout is not a terminal", "24")
    .option("--force", "overwrite the output file")
    .option("-q, --quiet", "no start and end notices on stderr")
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  trailseal record --policy audit.json -o s.trail -- ssh admin@db1
  trailseal record --policy audit.json --sign-cert signer.crt --sign-key signer.key \\
      -o s.trail -- bash -l
  trailseal record --policy audit.json --sign-key 'pkcs11:token=signing;object=checkpoints' \\
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pin env:SIGN_PIN -o s.trail -- bash -l
  trailseal verify s.trail --ca ca.crt --tsa-ca ca.crt && trailseal replay s.trail --key alice.key --play

The command runs in a pseudo-terminal made by util-linux 'script'; your terminal is passed
through (raw mode while the session lasts). Output is recorded as downstream, keystrokes as
upstream, and window-size changes as resize events. Checkpoints are written, signed and
timestamped every interval of the policy on the wall clock, silent intervals included, and the
file is synced at each one: if the recorder is killed, the trail verifies up to its last
checkpoint and the rest is reported as not covered.
SIGINT, SIGTERM or SIGHUP to the recorder hang up the command (SIGHUP, then SIGKILL after 5 s
or at a second signal); the trail is then closed with its final checkpoint.
Exit status: the command's (128 + N if signal N ended it); 2 if trailseal itself fails.`,
    );
  return runCommand<RecordFlags>(cmd, argv, io, async (flags) => {
    const command = cmd.args;
    const cols0 = size(flags.cols, "cols")!;
    const rows0 = size(flags.rows, "rows")!;
    const sealing = await resolveSealing(flags, io);
    try {
      return await record(flags, command, sealing, terminal(io, cols0, rows0), io);
    } finally {
      sealing.close();
    }
  });
}

interface Terminal {
  ttyIn: Partial<ReadStream>;
  ttyOut: Partial<WriteStream>;
  inTTY: boolean;
  outTTY: boolean;
  cols: number;
  rows: number;
}

/** The user's terminal, and the session's size (the terminal's, else --cols/--rows). */
function terminal(io: Io, cols0: number, rows0: number): Terminal {
  const ttyIn = io.stdin as Partial<ReadStream>;
  const ttyOut = io.stdout as Partial<WriteStream>;
  const inTTY = ttyIn.isTTY === true && typeof ttyIn.setRawMode === "function";
  const outTTY = io.stdoutIsTTY && ttyOut.isTTY === true;
  const cols = outTTY && (ttyOut.columns ?? 0) > 0 ? ttyOut.columns! : cols0;
  const rows = outTTY && (ttyOut.rows ?? 0) > 0 ? ttyOut.rows! : rows0;
  return { ttyIn, ttyOut, inTTY, outTTY, cols, rows };
}

/**
 * The variables the recorded command must not inherit: those the passphrases and PINs were read
 * from (`env:VAR` in --passin, --tsa-passin, --pin, or a key URI's pin-source).
 */
function secretVariables(flags: RecordFlags): (string | undefined)[] {
  // The URI's own reader (the key was opened from it already), so every pin-source it takes is seen.
  const fromUri = (uri: string | undefined) =>
    uri === undefined || !isPkcs11Uri(uri) ? undefined : parsePkcs11Uri(uri).pinSource;
  return [flags.passin, flags.tsaPassin, flags.pin, fromUri(flags.signKey), fromUri(flags.tsaKey)];
}

/** Records the session: the trail file, the terminal in raw mode, signals, the live recorder. */
async function record(
  flags: RecordFlags,
  command: string[],
  sealing: Sealing,
  t: Terminal,
  io: Io,
): Promise<number> {
  const { handle, full } = await openTrailFile(flags.output, io, flags.force === true);
  const plan = sealing.plan;
  if (flags.quiet !== true) {
    say(
      io,
      "notice",
      `recording to ${flags.output} (policy ${plan.name}, checkpoint every ${plan.interval} s); the session ends when the command exits`,
    );
  }
  const restore = (): void => {
    if (t.inTTY) t.ttyIn.setRawMode!(false);
  };
  // Raw mode before the command starts, so that early keystrokes already go to it unchanged.
  if (t.inTTY) rawTerminal(t.ttyIn);
  // If the process dies of an error we did not catch, the user's terminal still comes back.
  process.once("exit", restore);
  // Signals are caught from before the command starts: none may end the recorder unclosed.
  let recorder: LiveRecorder | null = null;
  let signalled = false;
  const onSignal = (): void => {
    signalled = true;
    void recorder?.hangup();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  const release = (): void => {
    restore();
    process.off("exit", restore);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  try {
    recorder = await startRecorder(flags, command, sealing, t, handle, io);
  } catch (e) {
    release();
    await handle.close().catch(() => undefined);
    await unlink(full).catch(() => undefined);
    throw e;
  }
  const onResize = (): void => {
    if ((t.ttyOut.columns ?? 0) > 0 && (t.ttyOut.rows ?? 0) > 0)
      recorder?.resize(t.ttyOut.columns!, t.ttyOut.rows!);
  };
  if (t.outTTY) io.stdout.on("resize", onResize);
  if (signalled) void recorder.hangup();
  let result;
  try {
    result = await recorder.finished;
  } finally {
    release();
    if (t.outTTY) io.stdout.off("resize", onResize);
    await handle.sync().catch(() => undefined);
    await handle.close().catch(() => undefined);
  }
  if (flags.quiet !== true) {
    say(
      io,
      "notice",
      `session ended (exit status ${result.status}); ${flags.output}: ${result.records} records, ${plural(result.checkpoints, "checkpoint")}${result.unstamped === 0 ? "" : ` (${result.unstamped} unstamped)`}, ${(result.duration / 1e6).toFixed(1)} s`,
    );
  }
  return result.status;
}

function startRecorder(
  flags: RecordFlags,
  command: string[],
  sealing: Sealing,
  t: Terminal,
  handle: FileHandle,
  io: Io,
): Promise<LiveRecorder> {
  // The terminal is raw (no output post-processing) during the session: lines need "\r\n".
  const warn = (m: string): void => {
    if (t.inTTY) io.stderr.write(`\r\ntrailseal: warning: ${m}\r\n`);
    else say(io, "warning", m);
  };
  return LiveRecorder.start({
    plan: sealing.plan,
    signer: sealing.signer,
    stamper: sealing.stamper,
    random: (n) => new Uint8Array(randomBytes(n)),
    clock: io.now,
    ...fileSink(handle, flags.output),
    onWarning: warn,
    command,
    cols: t.cols,
    rows: t.rows,
    env: withoutPassinVariables(io.env, secretVariables(flags)),
    cwd: io.cwd,
    input: io.stdin,
    output: io.stdout,
    metadata: liveMetadata(io.env),
  });
}
