import { TrailsealError, type Missing } from "../errors.js";
import { ChainValidator } from "../sign.js";
import {
  REQUIREMENTS,
  verifyTrail,
  type ChannelVerdict,
  type CheckpointRef,
  type Problem,
  type Recipient,
  type Requirement,
  type TimestampVerdict,
  type TokenSpan,
  type Verdict,
} from "../verify.js";
import { collect, newCommand, plural, say, type Io } from "./io.js";
import {
  anchorOptions,
  inputStream,
  keyOptions,
  loadAnchors,
  loadCertificates,
  printable,
  runWithKeys,
  type AnchorFlags,
  type KeyFlags,
} from "./common.js";
import { Progress, counted } from "./progress.js";
import {
  ArchiveProgress,
  archiveOptions,
  archivePlan,
  archiveRun,
  readableTrails,
  summaryLine,
  type ArchiveFlags,
  type ArchiveRun,
} from "./archive.js";
import type { TrailInput } from "../archive/inputs.js";
import { SummaryFold, summaryStatus } from "../archive/summary.js";
import { verifyMany, type VerifyManyOptions } from "../archive/verify-many.js";
import { inputName } from "./files.js";

interface VerifyFlags extends ArchiveFlags, KeyFlags, AnchorFlags {
  untrusted?: string[];
  require?: string[];
}

function who(r: readonly Recipient[]): string {
  return r.map((x) => `sha256:${x.spkiFingerprint} (${x.subject})`).join(" and ");
}

/** Session time (µs in the verdict) as the human verdict writes it: seconds. */
const secs = (us: number) => us / 1e6;

/** The CLI's words for what was not given: trust anchors, a left-out certificate (the flag). */
const NOT_GIVEN: Partial<Record<Missing, string>> = {
  "trust-anchor": " (no --ca trust anchor was given)",
  "tsa-trust-anchor": " (no --tsa-ca trust anchor was given)",
  "untrusted-certificate": " (give it with --untrusted FILE)",
};

/** A failure's message, and what was not given for it to pass. */
function problem(p: Problem): string {
  return `${p.message}${p.missing === undefined ? "" : (NOT_GIVEN[p.missing] ?? "")}`;
}

function channelLine(c: ChannelVerdict | null): string {
  if (c === null) return "unknown (the header could not be read)";
  switch (c.state) {
    case "clear":
      return `clear, ${plural(c.frames, "frame")}`;
    case "opened":
      return `encrypted, opened with entry ${c.openedBy.entry}${c.openedBy.added ? " (added by share)" : ""}: ${who(c.openedBy.recipients)}; ${c.decrypted} of ${c.frames} frames decrypted`;
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

/** "checkpoints 1-3: what", under a verdict line. */
function checkpointsLine(indexes: readonly number[], what: string): string {
  return `              checkpoint${indexes.length > 1 ? "s" : ""} ${indexList(indexes)}: ${what}`;
}

/**
 * SIGNATURE, and under it: every signer when more than one signed (an auditor must see when a
 * trail was signed by more than one certificate, not only the first), or the checkpoints by
 * state when they differ (the verdict names the leading failure only; an auditor must also see,
 * say, one forged checkpoint among untrusted ones).
 */
function signatureLines(v: Verdict): string[] {
  const s = v.signature;
  switch (s.state) {
    case "valid": {
      const [first] = s.signers;
      const eku = first.codeSigning ? " (code signing)" : " (no code-signing EKU)";
      const many = s.signers.length > 1 ? `, by ${s.signers.length} different signers:` : "";
      return [
        `valid: ${first.subject}${eku}, ${plural(s.signed, "checkpoint")} signed${many}`,
        ...(s.signers.length > 1
          ? s.signers.map((x) => checkpointsLine(x.checkpoints, x.subject))
          : []),
      ];
    }
    case "not-signed":
      return [`not signed${s.error === null ? "" : `: ${s.error.message}`}`];
    case "invalid":
    case "untrusted": {
      const states = new Map<string, number[]>();
      for (const c of v.checkpoints)
        states.set(c.signature.state, [...(states.get(c.signature.state) ?? []), c.index]);
      const by =
        states.size > 1 ? [...states].map(([state, ix]) => checkpointsLine(ix, state)) : [];
      return [`${s.state}: ${problem(s.error)}`, ...by];
    }
  }
}

function timestampLine(t: TimestampVerdict): string {
  switch (t.state) {
    case "valid":
      return `valid: ${plural(t.stamped, "token")}, ${tokenSpan(t)}, policy ${t.policy}`;
    case "partial":
      return `partial: ${t.error.message}; ${plural(t.stamped, "token")}, ${tokenSpan(t)}`;
    case "not-timestamped":
      return `not timestamped${t.error === null ? "" : `: ${t.error.message}`}`;
    case "invalid":
    case "untrusted":
      return `${t.state}: ${problem(t.error)}`;
  }
}

function tokenSpan(t: TokenSpan): string {
  const span =
    t.firstGenTime === t.lastGenTime
      ? `genTime ${t.firstGenTime}`
      : `genTime ${t.firstGenTime} .. ${t.lastGenTime}`;
  return `${t.source} TSA ${t.tsaName}, ${span}`;
}

function integrityLine(v: Verdict): string {
  const i = v.integrity;
  switch (i.state) {
    case "complete":
      return `complete: ${plural(i.records, "record")}, ${plural(i.checkpoints, "checkpoint")}, final checkpoint ${i.final.index} at ${secs(i.final.timeUs)}s`;
    case "truncated":
      return `truncated: ${lastGood(v, i.lastCheckpoint)}, ${plural(i.uncoveredFrames, "frame")} ${i.lastCheckpoint === null ? "" : "after it "}unsigned (${i.reason})`;
    case "tampered":
      return `tampered at ${i.firstBadRecord === -1 ? "the header" : `record ${i.firstBadRecord}`}: ${i.error.code}: ${i.error.message}`;
  }
}

/** A truncated trail's last checkpoint: "good" means its chain head matches; say so only when its signature holds too. */
function lastGood(v: Verdict, last: CheckpointRef | null): string {
  if (last === null) return "no checkpoint at all";
  const state = v.checkpoints.find((c) => c.index === last.index)?.signature.state;
  const at = `checkpoint ${last.index} at ${secs(last.timeUs)}s`;
  if (state !== "invalid" && state !== "untrusted") return `last good ${at}`;
  const good = v.checkpoints
    .filter((c) => c.index < last.index && c.signature.state === "valid")
    .at(-1);
  const signed =
    good === undefined
      ? "no checkpoint before it is validly signed"
      : `the last validly signed one is checkpoint ${good.index} at ${secs(good.timeUs)}s`;
  return `last ${at} (its signature is ${state}; ${signed})`;
}

/** The human verdict: one block per trail, the SPS player's four states and INTEGRITY. */
export function formatVerdict(v: Verdict): string {
  // Without a readable header nothing is known about signing or timestamping.
  const unknown = v.trail === null ? ["unknown (the header could not be read)"] : null;
  const failed = v.failed.length > 0 ? ` (failed: ${v.failed.join(", ")})` : "";
  const [signature, ...bySigner] = unknown ?? signatureLines(v);
  const lines = [
    `${v.file}: ${v.valid ? "VALID" : `INVALID${failed}`}`,
    `  DOWNSTREAM  ${channelLine(v.downstream)}`,
    `  UPSTREAM    ${channelLine(v.upstream)}`,
    `  SIGNATURE   ${signature}`,
    ...bySigner,
    `  TIMESTAMP   ${unknown?.[0] ?? timestampLine(v.timestamp)}`,
    ...v.timestamp.unstamped.map(
      (u) => `              unstamped: checkpoint ${u.index} at ${secs(u.timeUs)}s (${u.reason})`,
    ),
    `  INTEGRITY   ${integrityLine(v)}`,
    ...v.warnings.map((w) => `  WARNING     ${w}`),
  ];
  // Subjects, TSA names and messages come from the trail: no terminal escapes reach the screen.
  return `${lines.map(printable).join("\n")}\n`;
}

const isRequirement = (x: string): x is Requirement => REQUIREMENTS.some((r) => r === x);

/** --require's lists (repeatable, comma-separated), each requirement once, in the order given. */
function requirements(lists: readonly string[]): Requirement[] {
  const require: Requirement[] = [];
  for (const r of lists
    .join(",")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "")) {
    if (!isRequirement(r)) {
      throw new TrailsealError("USAGE", `--require takes ${REQUIREMENTS.join(", ")}; not ${r}`);
    }
    if (!require.includes(r)) require.push(r);
  }
  // An empty list would make every untampered trail valid, truncated ones included.
  if (require.length === 0) {
    throw new TrailsealError("USAGE", `--require needs at least one of ${REQUIREMENTS.join(", ")}`);
  }
  return require;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal verify", io)
    .description(
      "verify trails without any decryption key: integrity, completeness, signatures, timestamps",
    )
    .argument("[trail...]", "trail files, or directories of *.trail files (- for stdin)");
  anchorOptions(cmd).option(
    "--untrusted <file>",
    "certificates that may supply a signer's or TSA's certificate or complete its chain, never trusted by themselves (repeatable)",
    collect,
  );
  keyOptions(
    cmd,
    "also decrypt every frame with this private key, a file or a PKCS#11 URI (repeatable)",
  )
    .option(
      "--require <list>",
      `what must hold, comma-separated (repeatable): ${REQUIREMENTS.join(", ")}`,
      collect,
    )
    .option("--json", "print a JSON array, one verdict object per trail");
  archiveOptions(cmd).addHelpText(
    "after",
    `
Examples:
  trailseal verify session.trail --ca ~/.trailseal/ca.crt --tsa-ca ~/.trailseal/ca.crt
  trailseal verify --require complete,signature --ca corp-root.pem *.trail
  trailseal verify --key alice.key --key bob.key --ca ca.crt --tsa-ca ca.crt --json session.trail
  trailseal verify /mnt/archive --ca corp-root.pem --tsa-ca tsa-root.pem --jsonl > archive.jsonl
  find /mnt/archive -name '*.trail' -print0 | trailseal verify --files-from - -0 --ca corp-root.pem
  trailseal verify /mnt/archive --shard "$JOB_COMPLETION_INDEX/16" --jsonl --ca corp-root.pem
  trailseal verify /mnt/nfs-archive --trail-timeout 300 --jsonl --ca corp-root.pem > nightly.jsonl

By default 'complete' must hold; 'signature' when the trail's header says signing was enabled
or --ca is given; 'timestamp' when the header says timestamping was enabled or --tsa-ca is
given; 'decrypt' too with --key. Certificates inside a trail are never
trusted by themselves: give the anchors with --ca and --tsa-ca.

Directories are walked for *.trail files; many trails are verified on --jobs worker threads.
The human output and --json keep the input order; --jsonl prints each verdict as it finishes,
then a summary object; with more than one trail a summary goes to stderr. --shard K/N takes
only the trails whose path (relative to its directory or list) hashes to K: N such runs verify
an archive exactly once; 'trailseal summary' merges their --jsonl outputs (docs/SCALE.md).
--trail-timeout S stops a worker still on one trail after S seconds (a stalled share) and
reports that trail; the others go on.
Exit status: 0 every trail valid under the required checks, 1 any invalid, truncated or
tampered, 2 usage or I/O error (a trail that cannot be read is reported on stderr, left out of
--json, and the others are still verified).`,
  );
  return runWithKeys<VerifyFlags>(cmd, argv, io, async (flags, load) => {
    const require = flags.require === undefined ? undefined : requirements(flags.require);
    const plan = await archivePlan(cmd.args, flags, io);
    const { keys } = await load();
    const setup = {
      cwd: io.cwd,
      ...(await loadAnchors(flags, io)),
      untrusted: await loadCertificates(flags.untrusted ?? [], io),
      keys,
      ...(require === undefined ? {} : { require }),
    };
    if (plan.stdin) return verifyStdin(io, setup, flags);
    return verifyArchive(io, await archiveRun(plan, keys, flags), setup, flags);
  });
}

type Setup = Omit<VerifyManyOptions, "jobs" | "onBytes">;

/** One trail read from stdin, in this thread. */
async function verifyStdin(io: Io, setup: Setup, flags: VerifyFlags): Promise<number> {
  const { require, ...rest } = setup;
  const progress = await Progress.forFile(io, "verifying <stdin>", "-");
  const v = await verifyTrail(counted(await inputStream("-", io), progress), inputName("-"), {
    ...rest,
    validator: new ChainValidator(),
    ...(require === undefined ? {} : { require }),
  });
  const fold = new SummaryFold();
  fold.addVerdict(v, 0);
  writeVerdicts(io, flags, [v]);
  if (flags.jsonl === true) io.stdout.write(`${JSON.stringify(fold.summary(0))}\n`);
  return summaryStatus(fold.summary(0));
}

function writeVerdicts(io: Io, flags: VerifyFlags, verdicts: readonly Verdict[]): void {
  if (flags.json === true) io.stdout.write(`${JSON.stringify(verdicts, null, 2)}\n`);
  else if (flags.jsonl === true)
    for (const v of verdicts)
      io.stdout.write(`${JSON.stringify({ type: "verdict", key: v.file, bytes: 0, ...v })}\n`);
  else for (const v of verdicts) io.stdout.write(formatVerdict(v));
}

/**
 * Files, directories and lists: one trail in this thread, more on the worker pool. One trail
 * that cannot be read is reported and costs the others nothing; the exit status says so.
 */
async function verifyArchive(
  io: Io,
  run: ArchiveRun,
  setup: Setup,
  flags: VerifyFlags,
): Promise<number> {
  const started = Date.now();
  const progress = run.many ? ArchiveProgress.for(io, "verifying") : null;
  const single =
    run.single === null
      ? null
      : await Progress.forFile(io, `verifying ${run.single.path}`, run.single.path);
  const outcomes = verifyMany(listing(run.inputs, progress), {
    ...setup,
    jobs: run.jobs,
    ...(run.trailTimeoutMs === undefined ? {} : { trailTimeoutMs: run.trailTimeoutMs }),
    ...(single === null ? {} : { onBytes: (n: number) => single.add(n) }),
  });
  const fold = new SummaryFold();
  const json: Verdict[] = [];
  const unreadable = () => fold.addError();
  for await (const o of readableTrails(outcomes, io, flags.jsonl === true, progress, unreadable)) {
    const { verdict, bytes } = o.result;
    fold.addVerdict(verdict, bytes);
    if (flags.json === true) json.push(verdict);
    else if (flags.jsonl === true)
      io.stdout.write(
        `${JSON.stringify({ type: "verdict", key: o.input.key, bytes, ...verdict })}\n`,
      );
    else io.stdout.write(formatVerdict(verdict));
  }
  progress?.finish();
  single?.finish();
  if (flags.json === true) writeVerdicts(io, flags, json);
  const summary = fold.summary(Date.now() - started, flags.shard);
  if (flags.jsonl === true) io.stdout.write(`${JSON.stringify(summary)}\n`);
  if (run.summary) say(io, "summary", summaryLine(summary));
  return summaryStatus(summary);
}

/** The inputs, telling the progress line their number once the listing is done. */
async function* listing(
  inputs: AsyncIterable<TrailInput>,
  progress: ArchiveProgress | null,
): AsyncGenerator<TrailInput> {
  let n = 0;
  for await (const input of inputs) {
    n++;
    yield input;
  }
  progress?.listed(n);
}

/** "1 token", "2 tokens". */
