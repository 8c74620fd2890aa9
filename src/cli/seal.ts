import type { RecordingFormat } from "../formats/detect.js";
import { openRecording } from "../formats/open.js";
import type { Recording } from "../formats/stream.js";
import { TrailsealError } from "../errors.js";
import { sealEvents } from "../trail/session.js";
import { randomBytes } from "node:crypto";
import { newCommand, plural, runCommand, say, type Io } from "./io.js";
import { inputStream, wrote, writeOutput } from "./common.js";
import { Progress, counted } from "./progress.js";
import { inputName } from "./files.js";
import { resolveSealing, sealingOptions, type Sealing, type SealingFlags } from "./sealing.js";

interface SealFlags extends SealingFlags {
  output: string;
  from?: string;
  timing?: string;
  force?: boolean;
}

const FORMATS = ["asciicast", "script", "raw"] as const;

/** Opens a recording file (or stdin) in the given or detected format. */
async function openRecordingFile(
  path: string,
  format: string | undefined,
  timing: string | undefined,
  io: Io,
): Promise<Recording & { format: RecordingFormat }> {
  if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) {
    throw new TrailsealError("USAGE", `--from must be one of ${FORMATS.join(", ")}, not ${format}`);
  }
  if (timing !== undefined && format !== undefined && format !== "script") {
    throw new TrailsealError("USAGE", "--timing goes with --from script");
  }
  const progress = await Progress.forFile(io, `sealing ${inputName(path)}`, path);
  return openRecording(counted(await inputStream(path, io), progress), {
    ...(format === undefined ? {} : { format: format as RecordingFormat }),
    ...(timing === undefined
      ? {}
      : { timing: await inputStream(timing, io), timingSource: inputName(timing) }),
    source: inputName(path),
  });
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = sealingOptions(newCommand("trailseal seal", io))
    .description(
      "seal a recording into a trail: encrypted, chained, signed and timestamped as the policy says",
    )
    .argument(
      "<input>",
      "recording: asciicast v2/v3, a script log (with --timing), or raw bytes; - for stdin",
    )
    .requiredOption("-o, --output <file>", "the trail to write (- for stdout)")
    .option(
      "--from <format>",
      "input format: asciicast, script or raw (default: detected from content)",
    )
    .option("--timing <file>", "timing file of a script log (script --log-timing, or script -t)")
    .option("--force", "overwrite the output file")
    .addHelpText(
      "after",
      `
Examples:
  trailseal seal --policy audit.json session.cast -o session.trail
  trailseal seal --policy audit.json --sign-cert signer.crt --sign-key signer.key \\
      --passin env:SIGN_PASS session.cast -o session.trail
  trailseal seal --policy audit.json --from script --timing session.tm session.log -o s.trail
  trailseal seal --policy audit.json --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \\
      --sign-key 'pkcs11:token=signing;object=checkpoints' --tsa-key 'pkcs11:token=signing;object=tsa' \\
      --pin env:SIGN_PIN session.cast -o session.trail    # keys on a token, certificates from it
  trailseal seal --policy remote-tsa.json --tsa-ca tsa-root.pem --tsa-tls-ca corp-tls-root.pem \\
      session.cast -o session.trail
  cat dump.bin | trailseal seal --policy audit.json --from raw - -o dump.trail

Asciicast 'o' events become downstream, 'i' upstream; resizes and markers are kept.
A script log's input becomes upstream and its output downstream.
Exit status: 0 sealed, 1 the policy has errors, 2 usage or I/O error (e.g. an unreadable
recording or key, an existing output without --force).`,
    );
  return runCommand<SealFlags>(cmd, argv, io, async (flags) => {
    const [input] = cmd.args as [string];
    const sealing = await resolveSealing(flags, io);
    try {
      return await seal(flags, input, sealing, io);
    } finally {
      sealing.close();
    }
  });
}

async function seal(flags: SealFlags, input: string, sealing: Sealing, io: Io): Promise<number> {
  const recording = await openRecordingFile(input, flags.from, flags.timing, io);
  const writer = await writeOutput(flags.output, io, { force: flags.force === true }, (out) =>
    sealEvents(recording.metadata, recording.events, {
      plan: sealing.plan,
      sink: out.write,
      random: (n) => new Uint8Array(randomBytes(n)),
      clock: io.now,
      signer: sealing.signer,
      stamper: sealing.stamper,
      awaitStamps: true,
      onWarning: (m) => say(io, "warning", m),
    }),
  );
  return wrote(io, flags.output, summary(writer, input, recording.format, flags.output));
}

/** The line `seal` ends with: what was written, and how it is protected. */
function summary(
  writer: Awaited<ReturnType<typeof sealEvents>>,
  input: string,
  format: RecordingFormat,
  output: string,
): string {
  const h = writer.header;
  const describe = (c: "downstream" | "upstream") =>
    h.channels[c].encrypted
      ? `encrypted (${plural(h.channels[c].stanzas!.length, "alternative")})`
      : "clear";
  // Said here too, not only in the warnings: a summary must not claim stamps that are missing.
  const unstamped = writer.unstampedCount;
  const stamping =
    h.policy.timestamping === null
      ? "not timestamped"
      : unstamped === 0
        ? `timestamped (${h.policy.timestamping})`
        : `timestamped (${h.policy.timestamping}), but ${unstamped} of ${writer.checkpointCount} checkpoints unstamped`;
  return (
    `sealed ${inputName(input)} (${format}) into ${output}: ${writer.records} records, ${plural(writer.checkpointCount, "checkpoint")}; ` +
    `downstream ${describe("downstream")}, upstream ${describe("upstream")}; ` +
    `${h.policy.signing ? "signed" : "not signed"}, ${stamping}`
  );
}
