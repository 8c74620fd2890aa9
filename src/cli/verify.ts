import { TrailsealError, isTrailsealError } from "../errors.js";
import { ChainValidator } from "../sign.js";
import {
  REQUIREMENTS,
  verifyTrail,
  type ChannelVerdict,
  type Requirement,
  type Verdict,
} from "../verify.js";
import {
  collect,
  EXIT_FAILED,
  EXIT_OK,
  guard,
  newCommand,
  parseArgs,
  plural,
  reportError,
  type Io,
} from "./io.js";
import { inputStream, loadCertificates, loadKeys, passphrase, printable } from "./common.js";
import { Progress, counted } from "./progress.js";
import { inputName } from "./files.js";

interface VerifyFlags {
  ca?: string[];
  tsaCa?: string[];
  key?: string[];
  passin?: string;
  require?: string[];
  json?: boolean;
}

function who(r: { spkiFingerprint: string; subject: string }[]): string {
  return r.map((x) => `sha256:${x.spkiFingerprint} (${x.subject})`).join(" and ");
}

function channelLine(c: ChannelVerdict | null): string {
  if (c === null) return "unknown (the header could not be read)";
  switch (c.state) {
    case "clear":
      return `clear, ${plural(c.frames, "frame")}`;
    case "opened":
      return `encrypted, opened with entry ${c.openedBy!.entry}${c.openedBy!.added ? " (added by share)" : ""}: ${who(c.openedBy!.recipients)}; ${c.decrypted} of ${c.frames} frames decrypted`;
    case "locked": {
      const alts = c.alternatives.map((a) =>
        a.recipients.length > 1 ? `both ${who(a.recipients)}` : who(a.recipients),
      );
      return `encrypted, ${plural(c.frames, "frame")}; needs ${alts.join(", or ")}`;
    }
  }
}

/** "1, 4" or "2-5": the checkpoint indexes a signer signed. */
function indexList(indexes: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < indexes.length;) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j]! + 1) j++;
    runs.push(j - i >= 2 ? `${indexes[i]}-${indexes[j]}` : indexes.slice(i, j + 1).join(", "));
    i = j + 1;
  }
  return runs.join(", ");
}

/**
 * The signers of validly signed checkpoints, in order of first appearance. An auditor must see
 * when a trail was signed by more than one certificate, not only the first.
 */
function signersOf(v: Verdict): { subject: string; indexes: number[] }[] {
  const by = new Map<string, number[]>();
  for (const c of v.checkpoints) {
    if (c.signature !== "valid" || c.signer === null) continue;
    const list = by.get(c.signer) ?? [];
    list.push(c.index);
    by.set(c.signer, list);
  }
  return [...by].map(([subject, indexes]) => ({ subject, indexes }));
}

/** The human verdict: one block per trail, the SPS player's four states and INTEGRITY. */
export function formatVerdict(v: Verdict): string {
  // Without a readable header nothing is known about signing or timestamping.
  const unknown = v.trail === null ? "unknown (the header could not be read)" : null;
  const lines = [
    `${v.file}: ${v.valid ? "VALID" : `INVALID${v.failed.length > 0 ? ` (failed: ${v.failed.join(", ")})` : ""}`}`,
  ];
  lines.push(`  DOWNSTREAM  ${channelLine(v.downstream)}`);
  lines.push(`  UPSTREAM    ${channelLine(v.upstream)}`);
  const s = v.signature;
  const signer =
    s.signer === null
      ? ""
      : `${s.signer.subject}${s.signer.codeSigning ? " (code signing)" : " (no code-signing EKU)"}`;
  const signers = signersOf(v);
  lines.push(
    `  SIGNATURE   ${
      unknown ??
      (s.state === "valid"
        ? `valid: ${signer}, ${plural(s.signed, "checkpoint")} signed${signers.length > 1 ? `, by ${signers.length} different signers:` : ""}`
        : s.state === "not-signed"
          ? `not signed${s.message === null ? "" : `: ${s.message}`}`
          : `${s.state}: ${s.message}`)
    }`,
  );
  // The verdict names the first failure only; an auditor must also see, say, one forged
  // checkpoint among untrusted ones.
  if (s.state === "invalid" || s.state === "untrusted") {
    const states = new Map<string, number[]>();
    for (const c of v.checkpoints)
      states.set(c.signature, [...(states.get(c.signature) ?? []), c.index]);
    if (states.size > 1) {
      for (const [state, indexes] of states)
        lines.push(
          `              checkpoint${indexes.length > 1 ? "s" : ""} ${indexList(indexes)}: ${state}`,
        );
    }
  }
  if (s.state === "valid" && signers.length > 1) {
    for (const { subject, indexes } of signers)
      lines.push(
        `              checkpoint${indexes.length > 1 ? "s" : ""} ${indexList(indexes)}: ${subject}`,
      );
  }
  const t = v.timestamp;
  const span =
    t.firstGenTime === null
      ? ""
      : t.firstGenTime === t.lastGenTime
        ? `genTime ${t.firstGenTime}`
        : `genTime ${t.firstGenTime} .. ${t.lastGenTime}`;
  const tsa = t.tsaName === null ? "" : `${t.source} TSA ${t.tsaName}, `;
  lines.push(
    `  TIMESTAMP   ${
      unknown ??
      (t.state === "valid"
        ? `valid: ${plural(t.stamped, "token")}, ${tsa}${span}${t.policy === null ? "" : `, policy ${t.policy}`}`
        : t.state === "not-timestamped"
          ? `not timestamped${t.message === null ? "" : `: ${t.message}`}`
          : t.state === "partial"
            ? `partial: ${t.message}; ${plural(t.stamped, "token")}, ${tsa}${span}`
            : `${t.state}: ${t.message}`)
    }`,
  );
  for (const u of t.unstamped)
    lines.push(`              unstamped: checkpoint ${u.index} at ${u.time}s (${u.reason})`);
  const i = v.integrity;
  // "Good" means its chain head matches; say so only when its signature holds too.
  const lastState =
    i.lastCheckpoint === null
      ? null
      : (v.checkpoints.find((c) => c.index === i.lastCheckpoint!.index)?.signature ?? null);
  const lastGood =
    i.lastCheckpoint === null
      ? "no checkpoint at all"
      : lastState === "invalid" || lastState === "untrusted"
        ? `last checkpoint ${i.lastCheckpoint.index} at ${i.lastCheckpoint.time}s (its signature is ${lastState}; ${lastSigned(v, i.lastCheckpoint.index)})`
        : `last good checkpoint ${i.lastCheckpoint.index} at ${i.lastCheckpoint.time}s`;
  lines.push(
    `  INTEGRITY   ${
      i.state === "complete"
        ? `complete: ${plural(i.records, "record")}, ${plural(i.checkpoints, "checkpoint")}, final checkpoint ${i.final!.index} at ${i.final!.time}s`
        : i.state === "truncated"
          ? `truncated: ${lastGood}, ${plural(i.unsignedRecords, "frame")} ${i.lastCheckpoint === null ? "" : "after it "}unsigned (${i.message})`
          : `tampered at ${i.firstBadRecord === -1 ? "the header" : `record ${i.firstBadRecord}`}: ${i.code}: ${i.message}`
    }`,
  );
  for (const w of v.warnings) lines.push(`  WARNING     ${w}`);
  // Subjects, TSA names and messages come from the trail: no terminal escapes reach the screen.
  return `${lines.map(printable).join("\n")}\n`;
}

/** The last checkpoint before `index` with a valid signature, as words. */
function lastSigned(v: Verdict, index: number): string {
  const good = v.checkpoints.filter((c) => c.index < index && c.signature === "valid").at(-1);
  return good === undefined
    ? "no checkpoint before it is validly signed"
    : `the last validly signed one is checkpoint ${good.index} at ${good.time}s`;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal verify", io)
    .description(
      "verify trails without any decryption key: integrity, completeness, signatures, timestamps",
    )
    .argument("<trail...>", "trail files (- for stdin)")
    .option("--ca <file>", "trust anchor for checkpoint signers (repeatable)", collect)
    .option("--tsa-ca <file>", "trust anchor for timestamp authorities (repeatable)", collect)
    .option(
      "-k, --key <file>",
      "also decrypt every frame with this private key (repeatable)",
      collect,
    )
    .option("--passin <spec>", "passphrase for encrypted keys: env:VAR, file:PATH or pass:TEXT")
    .option(
      "--require <list>",
      `what must hold, comma-separated (repeatable): ${REQUIREMENTS.join(", ")}`,
      collect,
    )
    .option("--json", "print a JSON array, one verdict object per trail")
    .addHelpText(
      "after",
      `
Examples:
  trailseal verify session.trail --ca ~/.trailseal/ca.crt --tsa-ca ~/.trailseal/ca.crt
  trailseal verify --require complete,signature --ca corp-root.pem *.trail
  trailseal verify --key alice.key --key bob.key --ca ca.crt --tsa-ca ca.crt --json session.trail

By default 'complete' must hold; 'signature' when the trail's header says signing was enabled
or --ca is given; 'timestamp' when the header says timestamping was enabled or --tsa-ca is
given; 'decrypt' too with --key. Certificates inside a trail are never
trusted by themselves: give the anchors with --ca and --tsa-ca.
Exit status: 0 every trail valid under the required checks, 1 any invalid, truncated or
tampered, 2 usage or I/O error (a trail that cannot be read is reported on stderr, left out of
--json, and the others are still verified).`,
    );
  const early = parseArgs(cmd, argv);
  if (early !== null) return early;
  const flags = cmd.opts<VerifyFlags>();
  const paths = cmd.args;
  return guard(io, async () => {
    let require: Requirement[] | undefined;
    if (flags.require !== undefined) {
      require = [];
      for (const r of flags.require
        .join(",")
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== "")) {
        if (!(REQUIREMENTS as readonly string[]).includes(r)) {
          throw new TrailsealError("USAGE", `--require takes ${REQUIREMENTS.join(", ")}; not ${r}`);
        }
        if (!require.includes(r as Requirement)) require.push(r as Requirement);
      }
      // An empty list would make every untampered trail valid, truncated ones included.
      if (require.length === 0) {
        throw new TrailsealError(
          "USAGE",
          `--require needs at least one of ${REQUIREMENTS.join(", ")}`,
        );
      }
    }
    const anchors = await loadCertificates(flags.ca ?? [], io);
    const tsaAnchors = await loadCertificates(flags.tsaCa ?? [], io);
    const keys = await loadKeys(flags.key ?? [], passphrase(flags.passin, io), io);
    const validator = new ChainValidator();
    const verdicts: Verdict[] = [];
    // One unreadable trail must not cost the others their verdicts: it is reported, the rest
    // are verified, and the exit status is 2 at the end.
    let ioFailure: number | null = null;
    for (const path of paths) {
      let v: Verdict;
      try {
        const progress = await Progress.forFile(io, `verifying ${inputName(path)}`, path);
        v = await verifyTrail(counted(await inputStream(path, io), progress), inputName(path), {
          anchors,
          tsaAnchors,
          keys,
          validator,
          ...(require === undefined ? {} : { require }),
        });
      } catch (e) {
        if (!isTrailsealError(e, "IO")) throw e;
        ioFailure = reportError(io, e);
        continue;
      }
      verdicts.push(v);
      if (flags.json !== true) io.stdout.write(formatVerdict(v));
    }
    if (flags.json === true) io.stdout.write(`${JSON.stringify(verdicts, null, 2)}\n`);
    if (ioFailure !== null) return ioFailure;
    return verdicts.every((v) => v.valid) ? EXIT_OK : EXIT_FAILED;
  });
}

/** "1 token", "2 tokens". */
