import { readCertificates } from "../pem.js";
import { TrailsealError } from "../errors.js";
import { toBase64 } from "../bytes.js";
import type { Channel } from "../events.js";
import { makeStanza } from "../recipients.js";
import { encodeHeader, type AnnexStanza } from "../trail/format.js";
import { unlockChannels, type Unlocked } from "../trail/open.js";
import { readHeader, TrailReader, type ParsedHeader, type TrailEnd } from "../trail/reader.js";
import { ByteSource } from "../bytes.js";
import type { Command } from "commander";
import { collect, newCommand, plural, say, type Io } from "./io.js";
import {
  OutputFile,
  writeOutput,
  inputStream,
  keyOptions,
  namingTrail,
  passphrase,
  runWithKeys,
  truncationNotice,
  type KeyFlags,
  outputOptions,
  wrote,
} from "./common.js";
import { inputName, readInput } from "./files.js";

interface ShareFlags extends KeyFlags {
  to: string[];
  output: string;
  channel: string;
  force?: boolean;
}

/** A new recipient: one certificate, or two for a four-eyes entry. */
interface Recipient {
  certificate: Uint8Array;
  fourEyes: Uint8Array | null;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = shareCommand(io);
  return runWithKeys<ShareFlags>(cmd, argv, io, async (flags, load) => {
    const [trailPath] = cmd.args as [string];
    if (!["all", "downstream", "upstream"].includes(flags.channel)) {
      throw new TrailsealError(
        "USAGE",
        `--channel must be downstream, upstream or all, not ${flags.channel}`,
      );
    }
    const pass = passphrase(flags.passin, io);
    const { keys } = await load(pass);
    const recipients = await readRecipients(flags.to, pass, io);
    const name = inputName(trailPath);
    const src = new ByteSource(await inputStream(trailPath, io));
    const parsed = await readHeader(src, name);
    const unlocked = await unlockChannels(parsed, keys);
    // Skipped added stanzas, or a stanza weaker than trailseal writes: the sharer should know.
    for (const w of unlocked.warnings) say(io, "warning", w);
    const { added, count } = await addStanzas(
      parsed,
      unlocked,
      recipients,
      flags.channel,
      name,
      io,
    );
    const { annex } = encodeHeader(parsed.header, { stanzas: added });
    const end = await writeOutput(flags.output, io, { force: flags.force === true }, (out) =>
      copyChecked(parsed, annex, src, out, name),
    );
    if (end.state === "truncated") {
      const last = end.lastCheckpoint;
      say(
        io,
        "warning",
        `${truncationNotice(
          name,
          end.reason,
          last === null ? null : { index: last.statement.index, time: last.time / 1e6 },
          end.uncoveredFrames,
        )}; the copy is truncated in the same way`,
      );
    }
    return wrote(io, flags.output, `added ${plural(count, "stanza")}; wrote ${flags.output}`);
  });
}

/** The share command and its flags. */
function shareCommand(io: Io): Command {
  return outputOptions(
    keyOptions(
      newCommand("trailseal share", io),
      "a private key (file or PKCS#11 URI) that opens the trail now (repeatable)",
      "passphrase for encrypted keys and PKCS#12: env:VAR, file:PATH or pass:TEXT",
    )
      .description(
        "give a third party access: add stanzas for the same file keys, copying every frame unchanged",
      )
      .argument("<trail>", "the trail file (- for stdin)")
      .requiredOption(
        "--to <cert[,four-eyes-cert]>",
        "the new recipient; two certificates for a four-eyes entry (repeatable)",
        collect,
      )
      .option(
        "--channel <which>",
        "downstream, upstream, or all (every channel the keys open)",
        "all",
      ),
    "the new trail (- for stdout)",
  ).addHelpText(
    "after",
    `
Examples:
  trailseal share session.trail --key alice.key --to carol.crt -o session-carol.trail
  trailseal share session.trail --key alice.key --key bob.key --to carol.crt,dave.crt -o s2.trail

The new stanzas sit in the trail's annex, outside the signed chain; 'inspect' lists them as
added after sealing, and the header's key commitment proves they open the same content.
The copy is checked as it is written: a tampered trail is refused (nothing is written), a
truncated one is copied with a warning.
Exit status: 0 written, 1 the keys open no channel, or the input is not a trail or is tampered,
2 usage or I/O error (e.g. an existing output without --force).`,
  );
}

/** Every `--to`: CERT or CERT,FOUR_EYES_CERT, one certificate per file. */
async function readRecipients(
  specs: readonly string[],
  pass: string | undefined,
  io: Io,
): Promise<Recipient[]> {
  const recipients: Recipient[] = [];
  for (const spec of specs) {
    const parts = spec.split(",");
    if (parts.length > 2 || parts.some((p) => p === "")) {
      throw new TrailsealError("USAGE", `--to takes CERT or CERT,FOUR_EYES_CERT, not ${spec}`);
    }
    const ders: Uint8Array[] = [];
    for (const p of parts) {
      const certs = await readCertificates(
        await readInput(p, io),
        pass === undefined ? { source: p } : { source: p, passphrase: pass },
      );
      if (certs.length !== 1)
        throw new TrailsealError(
          "USAGE",
          `${p} holds ${certs.length} certificates; --to wants one per file`,
        );
      ders.push(certs[0]!);
    }
    recipients.push({ certificate: ders[0]!, fourEyes: ders[1] ?? null });
  }
  return recipients;
}

/**
 * The annex's stanzas with one for each recipient on each wanted channel the keys open (`which`:
 * a channel, or all); refuses a share that would add none.
 */
async function addStanzas(
  parsed: ParsedHeader,
  unlocked: Unlocked,
  recipients: readonly Recipient[],
  which: string,
  name: string,
  io: Io,
): Promise<{ added: AnnexStanza[]; count: number }> {
  const wanted: Channel[] = which === "all" ? ["downstream", "upstream"] : [which as Channel];
  const added: AnnexStanza[] = [...parsed.annex.stanzas];
  const when = io.now().toISOString();
  let count = 0;
  for (const channel of wanted) {
    const ch = parsed.header.channels[channel];
    if (!ch.encrypted) {
      if (which !== "all") say(io, "notice", `${channel} is clear; nothing to share`);
      continue;
    }
    const key = unlocked.keys[channel];
    if (key === undefined) {
      if (which !== "all") {
        throw new TrailsealError(
          "NO_MATCHING_KEY",
          `no key given opens the ${channel} channel of ${name}`,
        );
      }
      say(
        io,
        "warning",
        `no key given opens the ${channel} channel; the new recipient will not get it`,
      );
      continue;
    }
    const base = (ch.stanzas?.length ?? 0) + added.filter((s) => s.channel === channel).length;
    for (const [i, r] of recipients.entries()) {
      const stanza = await makeStanza(key, r);
      added.push({
        channel,
        entry: base + i,
        layers: stanza.layers,
        der: toBase64(stanza.der),
        added: when,
      });
      count++;
    }
  }
  const clear = wanted.filter((c) => !parsed.header.channels[c].encrypted);
  if (clear.length === wanted.length) {
    throw new TrailsealError(
      "USAGE",
      `nothing to share: ${wanted.length === 1 ? `the ${wanted[0]} channel of ${name} is` : `both channels of ${name} are`} clear, readable without any key`,
    );
  }
  if (count === 0) {
    throw new TrailsealError(
      "NO_MATCHING_KEY",
      `the keys given open no encrypted channel of ${name}; nothing was shared`,
    );
  }
  return { added, count };
}

/**
 * Writes the sealed header, the new annex and every record after them, byte for byte, and reads
 * the copy back as it is written: its chain, sequence and structure checked as `inspect` checks
 * them (signatures are for `verify`). A tampered trail is refused (the error names it) rather
 * than passed on with new stanzas.
 */
async function copyChecked(
  parsed: ParsedHeader,
  annex: Uint8Array,
  src: ByteSource,
  out: OutputFile,
  name: string,
): Promise<TrailEnd> {
  async function* copy(): AsyncGenerator<Uint8Array> {
    for (const part of [parsed.sealed, annex]) {
      await out.write(part);
      yield part;
    }
    for (;;) {
      const chunk = await src.read(256 * 1024);
      if (chunk.byteLength === 0) return;
      await out.write(chunk);
      yield chunk;
    }
  }
  try {
    const copied = copy();
    const reader = await TrailReader.open(copied, name);
    for await (const _ of reader.records()) void _;
    const end = reader.end;
    // A cut inside a record ends the reading early: the rest is copied all the same.
    for await (const _ of copied) void _;
    return end;
  } catch (e) {
    throw namingTrail(name, e);
  }
}
