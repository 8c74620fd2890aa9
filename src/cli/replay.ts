import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { TrailsealError } from "../errors.js";
import type { Channel, SessionEvent, SessionMetadata } from "../events.js";
import { writeAsciicastV2, writeAsciicastV3 } from "../replay/asciicast.js";
import { writeJsonl } from "../replay/jsonl.js";
import { TERMINAL_RESET, play } from "../replay/player.js";
import { writeRaw } from "../replay/raw.js";
import { writeScript } from "../replay/script.js";
import { writeText } from "../replay/text.js";
import type { OpenedKey } from "../keys.js";
import { describeAlternatives, type ChannelAccess } from "../trail/open.js";
import { TrailReader, type TrailEnd } from "../trail/reader.js";
import { verifyTrail, type SignatureVerdict } from "../verify.js";
import { openTrail, type OpenedTrail } from "../trail/session.js";
import type { Command } from "commander";
import { collect, EXIT_FAILED, EXIT_OK, guard, newCommand, parseArgs, say, type Io } from "./io.js";
import {
  OutputFile,
  inputStream,
  loadCertificates,
  loadKeys,
  tokenOptions,
  type LoadedKeys,
  type TokenFlags,
  passphrase,
  namedItems,
  namingTrail,
  printable,
  truncationNotice,
} from "./common.js";
import { Progress, counted } from "./progress.js";
import { inputName, readInput } from "./files.js";

interface ReplayFlags extends TokenFlags {
  key?: string[];
  inner?: string[];
  passin?: string;
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

/**
 * The verified prefix of a trail, from a first pass over it without keys: the number of records
 * to replay (all of them when complete), and what to say when it stops early. With `anchors`,
 * every checkpoint's signature must be valid and chain to one of them (and its timestamp, when
 * there is one, is used as verify uses it); without, only the chain and structure are checked.
 */
async function verifiedPrefix(
  path: string,
  io: Io,
  anchors: readonly Uint8Array[] | null,
): Promise<{ upTo: number | undefined; notice: string | null; signed: boolean }> {
  const name = inputName(path);
  const progress = await Progress.forFile(io, `checking ${name}`, path);
  const source = counted(await inputStream(path, io), progress);
  if (anchors !== null) {
    const v = await verifyTrail(source, name, { anchors, require: ["signature"] });
    const i = v.integrity;
    if (i.state === "tampered")
      throw new TrailsealError(i.error.code, i.error.message, {
        hint: FULL_VERDICT,
        record: i.firstBadRecord,
      });
    if (v.signature.state !== "valid") throw signaturesRefused(v.signature);
    if (i.state === "complete") return { upTo: undefined, notice: null, signed: true };
    const last = i.lastCheckpoint;
    return {
      upTo: last === null ? 0 : last.records,
      notice: truncationNotice(
        name,
        i.reason,
        last === null ? null : { index: last.index, time: last.timeUs / 1e6 },
        i.uncoveredFrames,
      ),
      signed: true,
    };
  }
  const reader = await TrailReader.open(source, name);
  for await (const _ of reader.records()) void _;
  const end = reader.end;
  const signed = reader.header.policy.signing;
  if (end.state === "complete") return { upTo: undefined, notice: null, signed };
  const last = end.lastCheckpoint;
  return {
    upTo: last === null ? 0 : last.statement.records,
    notice: truncationNotice(
      name,
      end.reason,
      last === null ? null : { index: last.statement.index, time: last.time / 1e6 },
      end.uncoveredFrames,
    ),
    signed,
  };
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = replayCommand(io);
  const early = parseArgs(cmd, argv);
  if (early !== null) return early;
  const flags = cmd.opts<ReplayFlags>();
  const [trailPath] = cmd.args as [string];
  let loaded: LoadedKeys | undefined;
  return guard(io, async () => {
    const { speed, idle } = await checkFlags(flags, trailPath, io);
    loaded = await loadKeys(flags.key ?? [], passphrase(flags.passin, io), io, flags);
    const { keys } = loaded;
    const name = inputName(trailPath);
    // Pass 1 (files only): find the verified prefix, so nothing unverified is shown by default.
    const prefix =
      trailPath === "-"
        ? { upTo: undefined, truncated: false }
        : await firstPass(flags, trailPath, name, io);
    const { upTo } = prefix;
    let { truncated } = prefix;

    // No progress line while the terminal shows the session (playing, or output to it).
    const toTerminal = flags.play === true || (flags.output === "-" && io.stdoutIsTTY);
    const progress = toTerminal ? null : await Progress.forFile(io, `replaying ${name}`, trailPath);
    const handed = [];
    for (const file of flags.inner ?? [])
      handed.push({ der: await readInput(file, io), name: file });
    const opened = await openTrail(
      counted(await inputStream(trailPath, io), progress),
      name,
      keys,
      handed,
    ).catch((e: unknown) => {
      throw namingTrail(name, e);
    });
    const { access } = opened.unlocked;
    for (const w of opened.unlocked.warnings) say(io, "warning", w);
    refuseUnopened(access, keys, name, io);

    const metadata = opened.reader.header.session;
    const events: AsyncIterable<SessionEvent> = namedItems(
      name,
      opened.events(upTo === undefined ? {} : { upTo }),
    );
    if (flags.play === true) {
      // Stopped by Ctrl-C: the shell's convention for SIGINT, as when it comes during checking.
      if (await playEvents(events, metadata, speed, idle, io)) return 130;
    } else {
      await writeReplay(flags, metadata, events, io);
    }
    // Pass 2 reads the trail again: from stdin it is the only pass, and a file may have been cut
    // (or replaced) since pass 1. A stopped --play leaves the records unread: no end to report.
    const end = upTo === undefined ? endOf(opened) : null;
    if (!truncated && end?.state === "truncated") {
      say(io, "warning", `${name} is truncated: ${end.reason}`);
      truncated = true;
    }
    // A truncated trail fails the completeness check (as in verify), though its prefix is written.
    return truncated ? EXIT_FAILED : EXIT_OK;
  }).finally(() => loaded?.close());
}

/** The replay command and its flags. */
function replayCommand(io: Io): Command {
  return tokenOptions(
    newCommand("trailseal replay", io)
      .description("decrypt a trail for replay, with one or more private keys")
      .argument("<trail>", "the trail file (- for stdin: then truncation is only found at the end)")
      .option(
        "-k, --key <file|uri>",
        "private key: PEM (PKCS#1, PKCS#8, encrypted PKCS#8, SEC1), PKCS#12, or a PKCS#11 URI (repeatable)",
        collect,
      )
      .option("--passin <spec>", "passphrase for encrypted keys: env:VAR, file:PATH or pass:TEXT")
      .option(
        "--inner <file>",
        "an inner envelope of a four-eyes stanza, opened from its outer layer by the outer key's holder ('trailseal unwrap'); --key opens it (repeatable)",
        collect,
      ),
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

/** Pass 1: the verified prefix of a trail file (upTo: where replay stops), with its notices. */
async function firstPass(
  flags: ReplayFlags,
  trailPath: string,
  name: string,
  io: Io,
): Promise<{ upTo: number | undefined; truncated: boolean }> {
  let upTo: number | undefined;
  let truncated = false;
  const anchors = flags.ca === undefined ? null : await loadCertificates(flags.ca, io);
  const prefix = await verifiedPrefix(trailPath, io, anchors).catch((e: unknown) => {
    throw namingTrail(name, e);
  });
  if (anchors === null && prefix.signed) {
    say(
      io,
      "notice",
      `the checkpoint signatures of ${name} were not checked (only its chain); pass --ca FILE to check them, or run 'trailseal verify'`,
    );
  }
  if (prefix.notice !== null) {
    truncated = true;
    say(io, "warning", prefix.notice);
    if (flags.unverifiedTail === true)
      say(io, "warning", "--unverified-tail: replaying the uncovered records too");
    else {
      upTo = prefix.upTo;
      say(io, "hint", "only the verified prefix is replayed; pass --unverified-tail for the rest");
    }
  }
  return { upTo, truncated };
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

/** Writes the events in the chosen format to the output file(s), 0600, all or nothing. */
async function writeReplay(
  flags: ReplayFlags,
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  io: Io,
): Promise<void> {
  // Decrypted screens and keystrokes: readable by the owner only (0600), as a private key is.
  const privately = { force: flags.force === true, mode: 0o600 };
  const out = await OutputFile.create(flags.output, io, privately);
  let timing: OutputFile | null = null;
  try {
    // A timing file that cannot be made must not leave the typescript's temporary file behind.
    if (flags.format === "script")
      timing = await OutputFile.create(flags.timingOutput!, io, privately);
    switch (flags.format) {
      case "asciicast":
        await writeAsciicastV2(metadata, events, out.write);
        break;
      case "asciicast-v3":
        await writeAsciicastV3(metadata, events, out.write);
        break;
      case "raw":
        await writeRaw(metadata, events, out.write);
        break;
      case "jsonl":
        await writeJsonl(metadata, events, out.write);
        break;
      case "script":
        await writeScript(metadata, events, out.write, timing!.write);
        break;
      case "text":
        await writeText(metadata, events, out.write);
        break;
    }
    await out.commit();
    await timing?.commit();
  } catch (e) {
    await out.abort();
    await timing?.abort();
    throw e;
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
