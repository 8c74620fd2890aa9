/** Option handling shared by the trail commands: inputs, outputs, keys, policies, identities. */
import { createReadStream, unlinkSync } from "node:fs";
import { open, realpath, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { readSize } from "../bytes.js";
import { TrailsealError, systemErrorWords } from "../errors.js";
import type { Command } from "commander";
import {
  isPkcs11Uri,
  isTokenKey,
  openTokenDecryptionKey,
  readPrivateKeys,
  type OpenedKey,
} from "../keys.js";
import { readCertificates } from "../pem.js";
import type { TokenSigner } from "../pkcs11/ops.js";
import { shownPkcs11Uri } from "../pkcs11/uri.js";
import type { SealingPlan } from "../policy.js";
import { readInput, readPassin } from "./files.js";
import { collect, EXIT_OK, EXIT_USAGE, plural, runCommand, say, type Io } from "./io.js";

/**
 * A streamed input: a file path or `-` for stdin. Missing files fail before any work starts. A
 * file is read in chunks of `readSize` (1 MiB for bulk input: against 256 KiB that cuts the
 * stream's per-chunk work and the straddling-record copies by four; read + raw import of 256 MiB,
 * fresh process each, took 248/155 ms CPU at 256 KiB, 138/135 ms at 1 MiB).
 */
export async function inputStream(path: string, io: Io): Promise<AsyncIterable<Uint8Array>> {
  if (path === "-") return io.stdin as AsyncIterable<Uint8Array>;
  const full = resolve(io.cwd, path);
  const info = await stat(full).catch((e: unknown) => {
    throw new TrailsealError("IO", `no such file: ${path}`, { cause: e, file: path });
  });
  if (info.isDirectory())
    throw new TrailsealError("IO", `${path} is a directory, not a file`, { file: path });
  return createReadStream(full, { highWaterMark: readSize(info.size) });
}

/**
 * A command with one subcommand (`keys list`, `tsa serve`): the subcommand's arguments, or the
 * exit status of `--help` or of a missing or unknown subcommand (with `example` as the hint).
 */
export function oneSubcommand(
  argv: readonly string[],
  io: Io,
  name: string,
  usage: string,
  example: string,
): readonly string[] | number {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout.write(usage);
    return EXIT_OK;
  }
  if (sub !== name) {
    say(io, "error", sub === undefined ? "missing subcommand" : `unknown subcommand '${sub}'`);
    say(io, "hint", example);
    return EXIT_USAGE;
  }
  return rest;
}

/** The passphrase of `--passin` (or `option`), if given; `pass:` is warned about. */
export function passphrase(
  spec: string | undefined,
  io: Io,
  option = "--passin",
): string | undefined {
  return spec === undefined ? undefined : readPassin(spec, io, option);
}

/** Where a `--key pkcs11:` URI's module and PIN come from when the URI does not say. */
export interface TokenFlags {
  pkcs11Module?: string;
  pin?: string;
}

/** The options of a command whose key options (`keys`, e.g. "--key") take PKCS#11 URIs. */
export function tokenOptions(cmd: Command, keys = "--key"): Command {
  return cmd
    .option(
      "--pkcs11-module <file>",
      `for ${keys} pkcs11:…: the PKCS#11 module (.so), unless the URI has module-path= (else $TRAILSEAL_PKCS11_MODULE)`,
    )
    .option(
      "--pin <source>",
      `for ${keys} pkcs11:…: the token's user PIN, env:VAR or file:PATH, unless the URI has pin-source=`,
    );
}

/** The PIN of `--pin`, read once when a token key needs it. */
function tokenPin(token: TokenFlags, io: Io): string | undefined {
  if (token.pin === undefined) return undefined;
  let pin = PINS_READ.get(token);
  if (pin === undefined) {
    pin = readPassin(token.pin, io, "--pin");
    PINS_READ.set(token, pin);
  }
  return pin;
}

/**
 * The `--pin` of each command run (its parsed flags), read once however many token keys it opens:
 * a `file:` source may be a pipe that gives it once, and a `pass:` warning is said once.
 */
const PINS_READ = new WeakMap<TokenFlags, string>();

/**
 * Opens the signing key a PKCS#11 URI names (`--sign-key`, `--tsa-key`, `tsa serve --key`), the
 * binding loaded only now. `relogin` keeps the PIN to log in again when the session is lost (a
 * server). Errors name the URI (a wrong PIN names only the token otherwise). Close it when done.
 */
export async function openTokenSigner(
  uri: string,
  io: Io,
  token: TokenFlags,
  relogin = false,
): Promise<TokenSigner> {
  const { openTokenKey } = await import("../pkcs11/token.js");
  const { tokenSigner } = await import("../pkcs11/ops.js");
  const shown = shownPkcs11Uri(uri);
  const pin = tokenPin(token, io);
  let opened;
  try {
    opened = await openTokenKey(uri, {
      env: io.env,
      cwd: io.cwd,
      relogin,
      ...(token.pkcs11Module === undefined ? {} : { module: token.pkcs11Module }),
      ...(pin === undefined ? {} : { pin }),
    });
  } catch (e) {
    if (!(e instanceof TrailsealError) || e.message.includes(shown)) throw e;
    throw e.amend({ message: `${shown}: ${e.message}` });
  }
  for (const w of opened.warnings) say(io, "warning", w);
  return tokenSigner(opened.key);
}

/** The keys a command was given; token keys hold a session until `close`. */
export interface LoadedKeys {
  readonly keys: readonly OpenedKey[];
  /** Closes the token keys, and says what a token made trailseal do differently. Idempotent. */
  close(): void;
}

/**
 * Loads every private key from every `--key`: a file (PEM forms or PKCS#12; `pass` from
 * `passphrase`), or a key on a token named by a PKCS#11 URI (the binding is loaded only then).
 * Call `close` in a `finally`.
 */
export async function loadKeys(
  specs: readonly string[],
  pass: string | undefined,
  io: Io,
  token: TokenFlags = {},
): Promise<LoadedKeys> {
  const keys: OpenedKey[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const k of keys.filter(isTokenKey)) {
      for (const note of k.notes) say(io, "notice", note);
      k.close();
    }
  };
  try {
    for (const spec of specs) {
      if (isPkcs11Uri(spec)) {
        const pin = tokenPin(token, io);
        const { key, warnings } = await openTokenDecryptionKey(spec, {
          env: io.env,
          cwd: io.cwd,
          ...(token.pkcs11Module === undefined ? {} : { module: token.pkcs11Module }),
          ...(pin === undefined ? {} : { pin }),
        });
        keys.push(key);
        for (const w of warnings) say(io, "warning", w);
        continue;
      }
      const bytes = await readInput(spec, io);
      keys.push(
        ...(await readPrivateKeys(
          bytes,
          pass === undefined ? { source: spec } : { source: spec, passphrase: pass },
        )),
      );
    }
  } catch (e) {
    close();
    throw e;
  }
  return { keys, close };
}

/** The flags of a command that takes `--key` (files or PKCS#11 URIs) and `--passin`. */
export interface KeyFlags extends TokenFlags {
  key?: string[];
  passin?: string;
}

/**
 * Declares `-k, --key` (repeatable: files or PKCS#11 URIs; `keyHelp` says what the key is for),
 * `--passin` and the token options: every command that opens trails or stanzas with keys.
 */
export function keyOptions(
  cmd: Command,
  keyHelp: string,
  passinHelp = "passphrase for encrypted keys: env:VAR, file:PATH or pass:TEXT",
): Command {
  return tokenOptions(
    cmd.option("-k, --key <file|uri>", keyHelp, collect).option("--passin <spec>", passinHelp),
  );
}

/**
 * Runs a command that takes `--key` (declared with `keyOptions`): parses argv with `cmd`, then
 * hands its flags to `body` under `guard`. `body` loads the keys when its checks allow (`load`:
 * `--passin` is read then, unless `body` read it once already and passes it), and the token
 * sessions they hold are closed however it ends.
 */
export async function runWithKeys<F extends KeyFlags>(
  cmd: Command,
  argv: readonly string[],
  io: Io,
  body: (flags: F, load: (pass?: string) => Promise<LoadedKeys>) => Promise<number>,
): Promise<number> {
  let loaded: LoadedKeys | undefined;
  return runCommand<F>(cmd, argv, io, (flags) =>
    body(flags, async (pass = passphrase(flags.passin, io)) => {
      loaded = await loadKeys(flags.key ?? [], pass, io, flags);
      return loaded;
    }),
  ).finally(() => loaded?.close());
}

/** The flags of a command that checks signatures and tokens against trust anchors. */
export interface AnchorFlags {
  ca?: string[];
  tsaCa?: string[];
}

/** Declares `--ca` and `--tsa-ca` (repeatable): the anchors of checkpoint signers and TSAs. */
export function anchorOptions(cmd: Command): Command {
  return cmd
    .option("--ca <file>", "trust anchor for checkpoint signers (repeatable)", collect)
    .option("--tsa-ca <file>", "trust anchor for timestamp authorities (repeatable)", collect);
}

/** The certificates of `--ca` and `--tsa-ca`, read in the order given. */
export async function loadAnchors(
  flags: AnchorFlags,
  io: Io,
): Promise<{ anchors: Uint8Array[]; tsaAnchors: Uint8Array[] }> {
  return {
    anchors: await loadCertificates(flags.ca ?? [], io),
    tsaAnchors: await loadCertificates(flags.tsaCa ?? [], io),
  };
}

/** Every certificate (DER) from every file given, in order: `--ca`, `--tsa-ca` and the like. */
export async function loadCertificates(paths: readonly string[], io: Io): Promise<Uint8Array[]> {
  const certs: Uint8Array[] = [];
  for (const path of paths)
    certs.push(...(await readCertificates(await readInput(path, io), { source: path })));
  return certs;
}

/** Reads a policy file (as `policy create` writes it) into a sealing plan. */
export async function loadPlan(path: string, io: Io): Promise<SealingPlan> {
  const bytes = await readInput(path, io);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw new TrailsealError("POLICY_INVALID", `${path} is not valid JSON`, { cause: e });
  }
  // Loaded here, not at the top: the policy readers (with re2js for content policies) are not
  // for the commands that use this module without a policy, such as verify and inspect (issue 9).
  const { readAuditPolicy, sealingPlan } = await import("../policy.js");
  try {
    return sealingPlan(readAuditPolicy(json));
  } catch (e) {
    if (e instanceof TrailsealError) {
      throw e.amend({
        message: `${path}: ${e.message}`,
        hint: `run 'trailseal policy check ${path}' to see every problem`,
      });
    }
    throw e;
  }
}

/**
 * A write that failed, named: a full disk mid-seal must say which file failed and why, not
 * surface as an "unexpected failure" of a bare system call.
 */
export function namedWrite<T>(name: string, write: Promise<T>): Promise<T> {
  return write.catch((e: unknown) => {
    if (e instanceof TrailsealError || (e as NodeJS.ErrnoException).code === undefined) throw e;
    throw new TrailsealError("IO", `cannot write ${name}: ${systemErrorWords(e, "")}`, {
      cause: e,
      file: name,
    });
  });
}

/**
 * How many bytes an output file gathers before writing them out, one batch written while the
 * next is gathered. Replay --format raw of a 256 MiB trail (hyperfine, 7 runs): 797 ms with
 * 256 KiB batches each awaited, 681 ms with 1 MiB batches written behind.
 */
const WRITE_BATCH = 1024 * 1024;

/**
 * A file written aside is synced behind its writes every this many bytes, so `commit`'s sync
 * does not wait for the whole file to reach the disk. 256 MiB read, hashed and written, with the
 * final fsync (node, 5 runs each): 329-440 ms with one sync at the end, 216-226 ms syncing behind
 * every 16-64 MiB.
 */
const SYNC_BEHIND = 32 * 1024 * 1024;

/**
 * Temporary files being written. A signal that ends the process (Ctrl-C, kill, a closed terminal)
 * would otherwise leave them behind, and a replay's holds decrypted keystrokes: they are removed
 * first, then the signal is raised again so the process ends as it would have.
 */
const liveTemps = new Set<string>();
const ENDING_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function removeTempsAndDie(signal: NodeJS.Signals): void {
  for (const temp of liveTemps) {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone: nothing to clean.
    }
  }
  liveTemps.clear();
  for (const s of ENDING_SIGNALS) process.off(s, removeTempsAndDie);
  process.kill(process.pid, signal);
}

function trackTemp(temp: string): void {
  if (liveTemps.size === 0) for (const s of ENDING_SIGNALS) process.on(s, removeTempsAndDie);
  liveTemps.add(temp);
}

function untrackTemp(temp: string): void {
  if (!liveTemps.delete(temp) || liveTemps.size > 0) return;
  for (const s of ENDING_SIGNALS) process.off(s, removeTempsAndDie);
}

/** The process umask, read without changing it (worker threads cannot read it: assume 022). */
function currentUmask(): number {
  try {
    return process.umask();
  } catch {
    return 0o022;
  }
}

/**
 * An output file written whole or not at all: bytes go to a temporary file beside the target,
 * renamed over it on `commit`, removed on `abort`. `-` writes to stdout. A target that exists and
 * is not a regular file (a FIFO, /dev/null, a terminal) is written in place: renaming over it
 * would replace the device or pipe with a regular file. A symbolic link to a regular file is
 * followed, so the file it names is replaced and the link stays.
 *
 * The temporary file is created with mode 0600, so what it holds is never readable by others
 * while it is written or if it is left behind; `commit` gives it its final mode (`mode` less the
 * umask; default 0644, 0600 for decrypted output) just before the rename.
 */
export class OutputFile {
  /** Set when stdout fails (EPIPE: the reader went away); later writes throw instead of crashing. */
  private failed: Error | null = null;

  private constructor(
    private readonly io: Io,
    readonly name: string,
    private readonly target: string | null,
    private readonly temp: string | null,
    private readonly handle: FileHandle | null,
    private readonly mode = 0o644,
  ) {
    if (handle === null) {
      // Without a listener, an EPIPE on stdout is an uncaught 'error' event and a stack trace.
      io.stdout.on("error", (e: Error) => {
        this.failed ??= e;
      });
    }
  }

  static async create(
    path: string,
    io: Io,
    options: { force?: boolean; mode?: number } = {},
  ): Promise<OutputFile> {
    if (path === "-") return new OutputFile(io, "<stdout>", null, null, null);
    const given = resolve(io.cwd, path);
    const existing = await stat(given).catch(() => null);
    if (existing?.isDirectory() === true) {
      throw new TrailsealError("IO", `${path} is a directory, not a file`);
    }
    if (existing !== null && !existing.isFile()) {
      let handle: FileHandle;
      try {
        handle = await open(given, "w");
      } catch (e) {
        throw new TrailsealError("IO", `cannot write ${path}`, { cause: e });
      }
      return new OutputFile(io, path, null, null, handle);
    }
    if (existing !== null && options.force !== true) {
      throw new TrailsealError("IO", `${path} already exists`, {
        hint: "choose another name or pass --force",
      });
    }
    const target = existing === null ? given : await realpath(given);
    const temp = join(
      dirname(target),
      `.${basename(target)}.${randomBytes(6).toString("hex")}.partial`,
    );
    let handle: FileHandle;
    try {
      handle = await open(temp, "wx", 0o600);
    } catch (e) {
      throw new TrailsealError("IO", `cannot write ${path}`, { cause: e });
    }
    trackTemp(temp);
    return new OutputFile(io, path, target, temp, handle, options.mode);
  }

  private stdoutFailed(): TrailsealError {
    const why = (this.failed as NodeJS.ErrnoException).code ?? this.failed!.message;
    return new TrailsealError("IO", `cannot write <stdout>: it was closed early (${why})`, {
      cause: this.failed,
    });
  }

  /** Appends bytes; resolves when they are written (backpressure). A failed write names the file. */
  readonly write = (chunk: Uint8Array): Promise<void> => namedWrite(this.name, this.append(chunk));

  private async append(chunk: Uint8Array): Promise<void> {
    if (this.handle === null) {
      if (this.failed !== null) throw this.stdoutFailed();
      if (!this.io.stdout.write(chunk)) {
        await new Promise<void>((r) => {
          const done = () => {
            this.io.stdout.off("drain", done);
            this.io.stdout.off("error", done);
            r();
          };
          this.io.stdout.on("drain", done);
          this.io.stdout.on("error", done);
        });
      }
      if (this.failed !== null) throw this.stdoutFailed();
      return;
    }
    // Small records (24-byte prefixes, short frames) are gathered and written together: one
    // system call per 1 MiB instead of two per record. Memory stays bounded by two batches.
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes >= WRITE_BATCH) await this.flush();
  }

  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The batch being written while the next is gathered: at most one, so memory stays bounded. */
  private inFlight: Promise<void> | null = null;
  /** Why the batch in flight (or a sync behind) failed; thrown by the next write or `commit`. */
  private writeFailure: unknown = null;
  /** The data sync running behind the writes, if one is; and the bytes written since the last. */
  private syncing: Promise<void> | null = null;
  private unsynced = 0;

  /**
   * Starts writing what is gathered, once the batch before it is written: the caller goes on
   * (decrypting, hashing) while the write runs on libuv's thread, instead of waiting for it.
   */
  private async flush(): Promise<void> {
    await this.settled();
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    const total = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight = this.writeBatch(chunks, total).catch((e: unknown) => {
      this.writeFailure = e;
    });
    this.unsynced += total;
    if (this.temp !== null && this.syncing === null && this.unsynced >= SYNC_BEHIND) {
      this.unsynced = 0;
      this.syncing = this.syncBehind(this.inFlight);
    }
  }

  /**
   * A data sync once `written` is: the disk takes the file as it is written, not all of it in
   * the final sync of `commit` (which stays, and then has only the last few MiB to write).
   */
  private async syncBehind(written: Promise<void>): Promise<void> {
    await written;
    await this.handle!.datasync().catch((e: unknown) => {
      this.writeFailure ??= e;
    });
    this.syncing = null;
  }

  /** Waits for the batch in flight; throws its failure. */
  private async settled(): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
    if (this.writeFailure !== null) throw this.writeFailure;
  }

  private async writeBatch(chunks: Uint8Array[], total: number): Promise<void> {
    const handle = this.handle!;
    const { bytesWritten } = await handle.writev(chunks);
    if (bytesWritten === total) return;
    // A short write (a pipe or device): the rest one piece at a time.
    const rest = Buffer.concat(chunks).subarray(bytesWritten);
    let offset = 0;
    while (offset < rest.byteLength) {
      const { bytesWritten: n } = await handle.write(rest, offset);
      offset += n;
    }
  }

  /** Writes out what is gathered and puts the file in place; a failure names the file. */
  commit(): Promise<void> {
    return namedWrite(this.name, this.finish());
  }

  private async finish(): Promise<void> {
    if (this.handle === null) {
      if (this.failed !== null) throw this.stdoutFailed();
      return;
    }
    await this.flush();
    await this.settled();
    await this.syncing;
    if (this.writeFailure !== null) throw this.writeFailure;
    if (this.temp === null) {
      // Written in place (a pipe or device): nothing to sync or rename.
      await this.handle.close();
      return;
    }
    await this.handle.chmod(this.mode & ~currentUmask());
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temp, this.target!);
    untrackTemp(this.temp);
  }

  async abort(): Promise<void> {
    if (this.handle === null) return;
    await this.inFlight;
    await this.syncing;
    await this.handle.close().catch(() => undefined);
    if (this.temp !== null) {
      await unlink(this.temp).catch(() => undefined);
      untrackTemp(this.temp);
    }
  }
}

/**
 * Writes one output (an `OutputFile`) whole or not at all: `body` writes it, and it is put in
 * place when `body` resolves, removed (nothing left under its name) when anything throws.
 */
export async function writeOutput<T>(
  path: string,
  io: Io,
  options: { force?: boolean; mode?: number },
  body: (out: OutputFile) => Promise<T>,
): Promise<T> {
  const out = await OutputFile.create(path, io, options);
  try {
    const result = await body(out);
    await out.commit();
    return result;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** `-o, --output <file>` (required; `-` is stdout) and `--force`: a command that writes one file. */
export function outputOptions(cmd: Command, what: string): Command {
  return cmd
    .requiredOption("-o, --output <file>", what)
    .option("--force", "overwrite the output file");
}

/**
 * Ends a command that wrote `output`: says `line` (none when the output went to stdout, which
 * holds the output itself) and returns the exit status of success.
 */
export function wrote(io: Io, output: string, line: string): number {
  if (output !== "-") io.stdout.write(`${line}\n`);
  return EXIT_OK;
}

/** Formats microseconds of session time as seconds, e.g. 95.000001 → "95.000001s". */
function seconds(us: number): string {
  const s = us / 1e6;
  return `${Number.isInteger(s) ? s.toFixed(0) : s.toFixed(6).replace(/0+$/, "")}s`;
}

/**
 * Text from a trail made safe for a terminal: control characters (C0, DEL, C1), which a crafted
 * header or annex could use to move the cursor, rewrite lines or set the window title, are shown
 * as \xNN escapes. Everything a trail says goes through this before it reaches stdout or stderr.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/**
 * The error `e` with the trail named, when it is a TrailsealError about no file yet
 * (`details.file`): the reader's record errors ("record 7: …") say which record, not which file.
 */
export function namingTrail(name: string, e: unknown): unknown {
  if (!(e instanceof TrailsealError) || e.details.file !== undefined) return e;
  // The details stay: `missing` picks the hint the CLI prints.
  return e.withFile(name, `${name}: ${e.message}`);
}

/** `items`, with any error reading them passed through `namingTrail`. */
export async function* namedItems<T>(name: string, items: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (e) {
    throw namingTrail(name, e);
  }
}

/** The warning for a truncated trail: where verification stops and what is not covered. */
export function truncationNotice(
  name: string,
  reason: string,
  /** The last checkpoint; its time in session seconds. */
  last: { index: number; time: number } | null,
  uncovered: number,
): string {
  const where =
    last === null
      ? "the trail has no checkpoint at all"
      : `verification stops at checkpoint ${last.index} (session time ${seconds(Math.round(last.time * 1e6))})`;
  return `${name} is truncated (${reason}): ${where}; ${plural(uncovered, "frame")}${last === null ? "" : " after it"} ${uncovered === 1 ? "is" : "are"} not covered by any checkpoint`;
}
