import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { TrailsealError, isTrailsealError } from "../errors.js";
import type { Channel, SessionEvent, SessionMetadata } from "../events.js";
import { writeAsciicastV2, writeAsciicastV3, type Sink } from "../replay/asciicast.js";
import { SinkQueue } from "../bytes.js";
import { writeJsonl } from "../replay/jsonl.js";
import { TERMINAL_RESET, play } from "../replay/player.js";
import { writeRaw } from "../replay/raw.js";
import { writeScript } from "../replay/script.js";
import type { OpenedKey } from "../keys.js";
import {
  EventDecoder,
  describeAlternatives,
  openTrail,
  unlockChannels,
  type ChannelAccess,
  type HandedEnvelope,
  type OpenedTrail,
} from "../trail/open.js";
import { TrailReader, type TrailEnd } from "../trail/reader.js";
import type { SignatureVerdict } from "../verify.js";
import { VerifiedReplay } from "../verify/replay.js";
import type { Command } from "commander";
import { collect, EXIT_FAILED, EXIT_OK, newCommand, say, type Io } from "./io.js";
import {
  OutputFile,
  inputStream,
  loadCertificates,
  keyOptions,
  runWithKeys,
  type KeyFlags,
  namedItems,
  namingTrail,
  printable,
  truncationNotice,
} from "./common.js";
import { Progress, counted } from "./progress.js";
import { inputName, readInput } from "./files.js";

interface ReplayFlags extends KeyFlags {
  inner?: string[];
  format: string;
  output: string;
  timingOutput?: string;
  play?: boolean;
  speed: string;
  idleLimit?: string;
  unverifiedTail?: boolean;
  force?: boolean;
  ca?: string[];
}

const FORMATS = ["asciicast", "asciicast-v3", "raw", "jsonl", "script", "text"] as const;

const FULL_VERDICT = "run 'trailseal verify' for the full verdict";

/** Why replay refuses a trail whose checkpoint signatures do not all verify, as its verdict says. */
function signaturesRefused(s: Exclude<SignatureVerdict, { state: "valid" }>): TrailsealError {
  if (s.state === "not-signed") {
    const why = s.error?.message ?? "the trail is not signed";
    return new TrailsealError("SIGNATURE_INVALID", `signatures do not verify: ${why}`, {
      hint: FULL_VERDICT,
    });
  }
  const code = s.state === "untrusted" ? "CHAIN_UNTRUSTED" : "SIGNATURE_INVALID";
  return new TrailsealError(code, `signatures do not verify: ${s.error.message}`, {
    hint: FULL_VERDICT,
    record: s.error.record,
  });
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = replayCommand(io);
  return runWithKeys<ReplayFlags>(cmd, argv, io, async (flags, load) => {
    const [trailPath] = cmd.args as [string];
    const { speed, idle } = await checkFlags(flags, trailPath, io);
    const loaded = await load();
    const handed = [];
    for (const file of flags.inner ?? [])
      handed.push({ der: await readInput(file, io), name: file });
    // No progress line while the terminal shows the session (playing, or output to it).
    const toTerminal = flags.play === true || (flags.output === "-" && io.stdoutIsTTY);
    const progress = toTerminal
      ? null
      : await Progress.forFile(io, `replaying ${inputName(trailPath)}`, trailPath);
    const ctx: Replay = { flags, io, trailPath, keys: loaded.keys, handed, progress, speed, idle };
    return trailPath === "-" ? replayStream(ctx) : replayFile(ctx);
  });
}

/** What one replay run works with. */
interface Replay {
  readonly flags: ReplayFlags;
  readonly io: Io;
  readonly trailPath: string;
  readonly keys: readonly OpenedKey[];
  readonly handed: readonly HandedEnvelope[];
  readonly progress: Progress | null;
  readonly speed: number;
  readonly idle: number | undefined;
}

/**
 * A trail file, in one pass: verified as it is decrypted (src/verify/replay.ts). A file output is
 * written aside and published only if the trail verifies; a terminal, a pipe or --play is given
 * only what a verified checkpoint covers. With --ca every checkpoint must be validly signed.
 */
async function replayFile(ctx: Replay): Promise<number> {
  const { flags, io, trailPath, keys } = ctx;
  const name = inputName(trailPath);
  const anchors = flags.ca === undefined ? null : await loadCertificates(flags.ca, io);
  const source = counted(await inputStream(trailPath, io), ctx.progress);
  const reader = await TrailReader.open(source, name).catch((e: unknown) => {
    throw namingTrail(name, headerFault(e, anchors !== null));
  });
  if (anchors === null && reader.header.policy.signing) {
    say(
      io,
      "notice",
      `the checkpoint signatures of ${name} were not checked (only its chain); pass --ca FILE to check them, or run 'trailseal verify'`,
    );
  }
  // What keeps the screen from being shown waits for the verdict: a fault of the trail leads.
  let blocked: unknown = null;
  let decoder: EventDecoder | null = null;
  try {
    const unlocked = await unlockChannels(reader.parsed, keys, ctx.handed).catch((e: unknown) => {
      throw namingTrail(name, e);
    });
    for (const w of unlocked.warnings) say(io, "warning", w);
    refuseUnopened(unlocked.access, keys, name, io);
    decoder = new EventDecoder(reader.parsed, unlocked.keys);
  } catch (e) {
    blocked = e;
  }
  const holdBack = flags.play === true || (await streamsOut(flags.output, io));
  const replay = await VerifiedReplay.start(
    reader,
    { anchors: anchors ?? [], require: ["signature"] },
    decoder,
    { holdBack, release: (p) => anchors === null || p.signature === "valid" },
  );
  let truncated: { upTo: number } | null = null;
  const tail = flags.unverifiedTail === true;
  async function* events(): AsyncGenerator<SessionEvent> {
    yield* namedItems(name, replay.events());
    truncated = concluded(replay, name, anchors !== null, blocked, io, tail);
    // Held back only as far as a checkpoint covered; the rest is the unverified tail.
    if (holdBack && tail) yield* namedItems(name, replay.rest());
    const fault = replay.decodeFault;
    if (fault !== null && (holdBack || truncated === null || tail)) throw namingTrail(name, fault);
  }
  try {
    const metadata = reader.header.session;
    // Shown as written: not even a format's header line before the first verified event.
    const given = holdBack ? await primed(events()) : events();
    if (flags.play === true) {
      if (await playEvents(given, metadata, ctx.speed, ctx.idle, io)) return 130;
    } else {
      // A file written aside holds the uncovered tail: it is not published, the prefix is.
      const whole = () => holdBack || truncated === null || tail;
      if (!(await writeReplay(flags, metadata, given, io, whole)))
        await replayPrefix(ctx, (truncated as { upTo: number } | null)!.upTo);
    }
  } finally {
    await replay.close();
  }
  // A truncated trail fails the completeness check (as in verify), though its prefix is written.
  return truncated === null ? EXIT_OK : EXIT_FAILED;
}

/**
 * The verdict of the pass, once the records are read: a tampered trail, a signature that does
 * not verify (with --ca), a screen no key opens, each throws in that order; a truncated trail is
 * said (and its verified prefix is what replay gives), and returned.
 */
function concluded(
  replay: VerifiedReplay,
  name: string,
  anchored: boolean,
  blocked: unknown,
  io: Io,
  tail: boolean,
): { upTo: number } | null {
  const v = replay.verification.verdict();
  const i = v.integrity;
  if (i.state === "tampered") {
    // Without --ca, the reader's own error (as a chain check alone gives it).
    const fault = anchored
      ? new TrailsealError(i.error.code, i.error.message, {
          hint: FULL_VERDICT,
          record: i.firstBadRecord,
        })
      : replay.verification.fault;
    throw namingTrail(name, fault);
  }
  if (anchored && v.signature.state !== "valid")
    throw namingTrail(name, signaturesRefused(v.signature));
  if (blocked !== null) throw blocked;
  if (i.state === "complete") return null;
  const last = i.lastCheckpoint;
  say(
    io,
    "warning",
    truncationNotice(
      name,
      i.reason,
      last === null ? null : { index: last.index, time: last.timeUs / 1e6 },
      i.uncoveredFrames,
    ),
  );
  if (tail) say(io, "warning", "--unverified-tail: replaying the uncovered records too");
  else say(io, "hint", "only the verified prefix is replayed; pass --unverified-tail for the rest");
  return { upTo: last === null ? 0 : last.records };
}

/**
 * A header that cannot be read. With --ca it is refused as verify's verdict would have it: a
 * header cut short leaves nothing signed, any other fault is the header tampered.
 */
function headerFault(e: unknown, anchored: boolean): unknown {
  if (!anchored || !isTrailsealError(e) || e.code === "IO") return e;
  if (e.code === "TRUNCATED")
    return signaturesRefused({ state: "not-signed", signed: 0, signers: [], error: null });
  return e.amend({ hint: FULL_VERDICT, record: -1 });
}

/**
 * The verified prefix of a truncated trail written to a file: a second read, decrypting the
 * records before `upTo` (the first pass wrote the uncovered tail too, and was not published).
 */
async function replayPrefix(ctx: Replay, upTo: number): Promise<void> {
  const { flags, io, trailPath } = ctx;
  const name = inputName(trailPath);
  const opened = await openTrail(
    await inputStream(trailPath, io),
    name,
    ctx.keys,
    ctx.handed,
  ).catch((e: unknown) => {
    throw namingTrail(name, e);
  });
  const metadata = opened.reader.header.session;
  await writeReplay(flags, metadata, namedItems(name, opened.events({ upTo })), io);
}

/**
 * Stdin, in one pass without holding back: what is read is shown, and truncation is found (and
 * said) at the end.
 */
async function replayStream(ctx: Replay): Promise<number> {
  const { flags, io, trailPath, keys } = ctx;
  const name = inputName(trailPath);
  const opened = await openTrail(
    counted(await inputStream(trailPath, io), ctx.progress),
    name,
    keys,
    ctx.handed,
  ).catch((e: unknown) => {
    throw namingTrail(name, e);
  });
  for (const w of opened.unlocked.warnings) say(io, "warning", w);
  refuseUnopened(opened.unlocked.access, keys, name, io);
  const metadata = opened.reader.header.session;
  const events = namedItems(name, opened.events());
  if (flags.play === true) {
    // Stopped by Ctrl-C: the shell's convention for SIGINT. The records are left unread then.
    if (await playEvents(events, metadata, ctx.speed, ctx.idle, io)) return 130;
  } else {
    await writeReplay(flags, metadata, events, io);
  }
  const end = endOf(opened);
  if (end?.state !== "truncated") return EXIT_OK;
  say(io, "warning", `${name} is truncated: ${end.reason}`);
  return EXIT_FAILED;
}

/** The events, once the first is there (or they ended): what they are is known before output. */
async function primed<T>(items: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await items.next();
  return (async function* () {
    if (first.done === true) return;
    yield first.value;
    yield* items;
  })();
}

/** Whether the output is shown as it is written (stdout, a device or a pipe), not a file set aside. */
async function streamsOut(output: string, io: Io): Promise<boolean> {
  if (output === "-") return true;
  const info = await stat(resolve(io.cwd, output)).catch(() => null);
  return info !== null && !info.isFile() && !info.isDirectory();
}

/** The replay command and its flags. */
function replayCommand(io: Io): Command {
  return keyOptions(
    newCommand("trailseal replay", io)
      .description("decrypt a trail for replay, with one or more private keys")
      .argument(
        "<trail>",
        "the trail file (- for stdin: then truncation is only found at the end)",
      ),
    "private key: PEM (PKCS#1, PKCS#8, encrypted PKCS#8, SEC1), PKCS#12, or a PKCS#11 URI (repeatable)",
  )
    .option(
      "--inner <file>",
      "an inner envelope of a four-eyes stanza, opened from its outer layer by the outer key's holder ('trailseal unwrap'); --key opens it (repeatable)",
      collect,
    )
    .option(
      "--ca <file>",
      "check every checkpoint signature against this trust anchor first (repeatable)",
      collect,
    )
    .option("-f, --format <format>", `output: ${FORMATS.join(", ")}`, "asciicast")
    .option(
      "-o, --output <file>",
      "output file (- for stdout); for --format script, the typescript",
      "-",
    )
    .option("--timing-output <file>", "for --format script: the timing file")
    .option("--play", "play in this terminal with the recorded timing instead of writing a file")
    .option("--speed <factor>", "with --play: speed factor", "1")
    .option(
      "--idle-limit <seconds>",
      "with --play: longest pause (default: the recording's idle_time_limit, if any)",
    )
    .option(
      "--unverified-tail",
      "also replay records after the last checkpoint of a truncated trail",
    )
    .option("--force", "overwrite the output file")
    .addHelpText(
      "after",
      `
Examples:
  trailseal replay session.trail --key alice.key --key bob.key -o session.cast
  asciinema play session.cast
  trailseal replay session.trail --key auditor.p12 --passin env:P12_PASS --play --speed 2
  trailseal replay session.trail --key alice.key --format raw -o screen.bin
  trailseal replay session.trail --key alice.key --format script -o s.log --timing-output s.tm
  scriptreplay --timing s.tm s.log

Formats: asciicast (v2, plays in 'asciinema play'), asciicast-v3, raw (the downstream bytes
exactly as recorded), jsonl (one event per line), script (typescript + timing for scriptreplay).
Keystrokes (upstream) appear only when a key opens the upstream channel.
A trail file is read once, verified as it is decrypted: an output file is published only if the
trail verifies; stdout and --play show a part only once a verified checkpoint covers it.
Exit status: 0 replayed, 1 no key opens the screen (downstream), or the trail is tampered, or it
is truncated (its verified prefix is still written), 2 usage or I/O, 130 --play stopped with
Ctrl-C.`,
    );
}

/** Refuses flags that do not fit together, and an output that is the trail itself. */
async function checkFlags(
  flags: ReplayFlags,
  trailPath: string,
  io: Io,
): Promise<{ speed: number; idle: number | undefined }> {
  if (!(FORMATS as readonly string[]).includes(flags.format)) {
    throw new TrailsealError(
      "USAGE",
      `--format must be one of ${FORMATS.join(", ")}, not ${flags.format}`,
    );
  }
  if (flags.format === "script" && (flags.output === "-" || flags.timingOutput === undefined)) {
    throw new TrailsealError(
      "USAGE",
      "--format script writes two files: give -o TYPESCRIPT and --timing-output TIMING",
    );
  }
  const speed = Number(flags.speed);
  if (!(speed > 0))
    throw new TrailsealError("USAGE", `--speed must be a positive number, not ${flags.speed}`);
  const idle = flags.idleLimit === undefined ? undefined : Number(flags.idleLimit);
  if (idle !== undefined && !(idle > 0))
    throw new TrailsealError("USAGE", `--idle-limit must be a positive number of seconds`);
  for (const target of [flags.output, flags.timingOutput]) {
    if (
      target !== undefined &&
      target !== "-" &&
      trailPath !== "-" &&
      (await sameFile(io, target, trailPath))
    ) {
      throw new TrailsealError("USAGE", `the output ${target} is the trail being replayed`, {
        hint: "write the replay to another file",
      });
    }
  }
  return { speed, idle };
}

/** Throws NO_MATCHING_KEY when no key opens the screen; notes hidden keystrokes. */
function refuseUnopened(
  access: Readonly<Record<Channel, ChannelAccess>>,
  keys: readonly OpenedKey[],
  name: string,
  io: Io,
): void {
  if (access.downstream.encrypted && access.downstream.openedBy === null) {
    const lines = [
      `no key given opens the downstream channel (the screen) of ${name}; any one of these would:`,
    ];
    for (const alt of describeAlternatives(access.downstream)) lines.push(`  ${alt}`);
    if (access.upstream.encrypted && access.upstream.openedBy === null) {
      lines.push("and for the upstream channel (keystrokes), any one of:");
      for (const alt of describeAlternatives(access.upstream)) lines.push(`  ${alt}`);
    }
    const partial = halfOpened(access.downstream, keys);
    lines.push(...partial);
    if (keys.length > 0) {
      lines.push(
        `the keys given: ${keys.map((k) => `sha256:${k.spkiFingerprint} (${k.source})`).join(", ")}`,
      );
    }
    throw new TrailsealError("NO_MATCHING_KEY", lines.map(printable).join("\n"), {
      hint:
        keys.length === 0
          ? "pass --key FILE (repeat it for four-eyes)"
          : partial.length > 0
            ? "a four-eyes entry needs both keys: repeat --key"
            : "none of the keys given is one of these: use the private key of a certificate listed",
    });
  }
  if (access.upstream.encrypted && access.upstream.openedBy === null) {
    say(
      io,
      "notice",
      "the keystrokes (upstream) are hidden: no key given opens them; any one of these would:",
    );
    for (const alt of describeAlternatives(access.upstream)) {
      io.stderr.write(`  ${printable(alt)}\n`);
    }
    for (const line of halfOpened(access.upstream, keys)) io.stderr.write(`${printable(line)}\n`);
  }
}

/** Plays the events in this terminal; true when stopped by Ctrl-C. */
async function playEvents(
  events: AsyncIterable<SessionEvent>,
  metadata: SessionMetadata,
  speed: number,
  idle: number | undefined,
  io: Io,
): Promise<boolean> {
  const idleLimit = idleLimitFor(idle, metadata.extra);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  try {
    await play(events, {
      out: io.stdout,
      speed,
      ...(idleLimit === undefined ? {} : { idleLimit }),
      signal: controller.signal,
    });
  } finally {
    process.removeListener("SIGINT", stop);
    // Restore the terminal, whatever modes the recording left it in.
    if (io.stdoutIsTTY) io.stdout.write(TERMINAL_RESET);
  }
  return controller.signal.aborted;
}

/**
 * Writes the events in the chosen format to the output file(s), 0600, all or nothing: published
 * only when `publish()` says so once the events are written (false: removed, and false returned).
 */
async function writeReplay(
  flags: ReplayFlags,
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  io: Io,
  publish: () => boolean = () => true,
): Promise<boolean> {
  // Decrypted screens and keystrokes: readable by the owner only (0600), as a private key is.
  const privately = { force: flags.force === true, mode: 0o600 };
  const out = await OutputFile.create(flags.output, io, privately);
  let timing: OutputFile | null = null;
  try {
    // A timing file that cannot be made must not leave the typescript's temporary file behind.
    if (flags.format === "script")
      timing = await OutputFile.create(flags.timingOutput!, io, privately);
    // Writes overlap the decryption of the next frames (bounded); all are done before publishing.
    const sink = new SinkQueue(out.write);
    const timingSink = timing === null ? null : new SinkQueue(timing.write);
    await writeFormat(flags, metadata, events, sink.write, timingSink?.write);
    await sink.drain();
    await timingSink?.drain();
    if (!publish()) {
      await out.abort();
      await timing?.abort();
      return false;
    }
    await out.commit();
    await timing?.commit();
    return true;
  } catch (e) {
    await out.abort();
    await timing?.abort();
    throw e;
  }
}

/** The events in the format asked for, to `out` (and the timing to `timing`, for script). */
async function writeFormat(
  flags: ReplayFlags,
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  out: Sink,
  timing: Sink | undefined,
): Promise<void> {
  switch (flags.format) {
    case "asciicast":
      return writeAsciicastV2(metadata, events, out);
    case "asciicast-v3":
      return writeAsciicastV3(metadata, events, out);
    case "raw":
      return writeRaw(metadata, events, out);
    case "jsonl":
      return writeJsonl(metadata, events, out);
    case "script":
      return writeScript(metadata, events, out, timing!);
    case "text": {
      // The terminal emulator (@xterm/headless, ~300 KB) loads only for the format that needs it.
      const { writeText } = await import("../replay/text.js");
      return writeText(metadata, events, out);
    }
  }
}

/** The idle limit for --play: the flag, else the recording's own (asciicast idle_time_limit). */
function idleLimitFor(
  flag: number | undefined,
  extra: Record<string, unknown> | undefined,
): number | undefined {
  if (flag !== undefined) return flag;
  const recorded = extra?.["idle_time_limit"];
  return typeof recorded === "number" && recorded > 0 ? recorded : undefined;
}

/**
 * For each four-eyes alternative that the given keys half open, the line that names the key still
 * missing: what a holder of one of the two keys needs to know.
 */
function halfOpened(access: ChannelAccess, keys: readonly OpenedKey[]): string[] {
  const have = new Set(keys.map((k) => k.spkiFingerprint));
  const lines: string[] = [];
  for (const a of access.alternatives) {
    const missing = a.layers.filter((l) => !have.has(l.spkiFingerprint));
    if (missing.length === 0 || missing.length === a.layers.length) continue;
    const named = missing.map((l) => `sha256:${l.spkiFingerprint} (${l.subject})`).join(" and ");
    lines.push(`entry ${a.entry} (${access.channel}) is missing the key of ${named}`);
  }
  return lines;
}

/** How the trail ended, or null when its records were not all read (a --play stopped early). */
function endOf(opened: OpenedTrail): TrailEnd | null {
  try {
    return opened.end;
  } catch {
    return null;
  }
}

/** Whether two paths name the same file (the same inode when both exist). */
async function sameFile(io: Io, a: string, b: string): Promise<boolean> {
  const info = (p: string) => stat(resolve(io.cwd, p)).catch(() => null);
  const sa = await info(a);
  const sb = await info(b);
  if (sa === null || sb === null) return resolve(io.cwd, a) === resolve(io.cwd, b);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}
