/**
 * `trailseal scan`: content policies (or ad-hoc patterns) applied to sealed trails, after the
 * fact: the hits, each pinned to its record and to the checkpoint that covers it. The many-trail
 * options are verify's (cli/archive.ts), the work src/scan/scan.ts's on src/archive/'s pool.
 */
import { TrailsealError } from "../errors.js";
import {
  ruleSources,
  scanMany,
  scanStatus,
  type ScanSetup,
  type ScanSummary,
} from "../archive/scan-many.js";
import { readContentPolicies } from "../policy/parse.js";
import {
  adHocRules,
  policyRules,
  type ScanHit,
  type ScanRule,
  type TrailScan,
} from "../scan/scan.js";
import {
  ArchiveProgress,
  archiveOptions,
  archivePlan,
  archiveRun,
  readableTrails,
  type ArchiveFlags,
  type ArchiveRun,
} from "./archive.js";
import {
  anchorOptions,
  keyOptions,
  loadAnchors,
  printable,
  runWithKeys,
  type AnchorFlags,
  type KeyFlags,
} from "./common.js";
import { readInput } from "./files.js";
import { collect, newCommand, plural, say, type Io } from "./io.js";

interface ScanFlags extends ArchiveFlags, KeyFlags, AnchorFlags {
  policy?: string[];
  match?: string[];
  command?: string[];
  creditcard?: boolean;
  permitted?: string;
}

const ACTIONS_NOTE = "trailseal does not act on them: the session is over";

/** Seconds, as the human output writes session times. */
const secs = (us: number) => `${(us / 1e6).toFixed(3)}s`;

function hitLines(h: ScanHit): string[] {
  const from = h.source === undefined ? "" : `, from the ${h.source}`;
  const key = h.rule.key === null ? "" : ` [key ${h.rule.key}]`;
  const proof = h.verified
    ? `checkpoint ${h.checkpoint!.index}: verified`
    : h.checkpoint === null
      ? "NOT VERIFIED (no checkpoint covers it)"
      : `checkpoint ${h.checkpoint.index}: NOT VERIFIED (it does not verify under the anchors given)`;
  const actions = h.actions.length === 0 ? "none" : `${h.actions.join(", ")} (${ACTIONS_NOTE})`;
  return [
    `${h.trail}: rule ${h.rule.index} of ${h.rule.policy}${key} (${h.selection}${from}) at ${secs(h.time)}, record ${h.record} (${h.channel}), ${proof}`,
    `  matched: ${h.text}`,
    ...(h.context === h.text ? [] : [`  in:      ${h.context}`]),
    `  actions: ${actions}`,
  ];
}

/** The human report of one trail: its hits, then a line on what was scanned and proven. */
export function formatScan(s: TrailScan): string {
  const lines = s.hits.flatMap(hitLines);
  const unverified = s.hits.filter((h) => !h.verified).length;
  lines.push(
    `${s.trail}: ${plural(s.hits.length, "hit")}${unverified > 0 ? ` (${unverified} not verified)` : ""}; ${plural(s.records, "record")}, ${s.verifiedRecords} under a verified checkpoint (${s.integrity}); ${plural(s.cards, "card number")} on the screen; commands from the ${s.commands}`,
    ...s.notes.map((n) => `  note: ${n}`),
  );
  // Everything here comes from the trail: no terminal escapes reach the screen.
  return `${lines.map(printable).join("\n")}\n`;
}

/** --permitted N: card numbers a trail may show before a creditcard rule hits. */
function permittedOf(flag: string | undefined): number {
  if (flag === undefined) return 0;
  const n = Number(flag);
  if (!/^\d+$/.test(flag) || !Number.isSafeInteger(n))
    throw new TrailsealError("USAGE", `--permitted takes a whole number from 0, not '${flag}'`);
  return n;
}

/** The rules: every --policy file's, then the ad-hoc ones. */
async function rulesOf(flags: ScanFlags, io: Io): Promise<ScanRule[]> {
  const rules: ScanRule[] = [];
  for (const path of flags.policy ?? []) {
    const bytes = await readInput(path, io);
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString("utf8"));
    } catch (e) {
      throw new TrailsealError("USAGE", `${path} is not valid JSON`, { cause: e, file: path });
    }
    try {
      for (const policy of readContentPolicies(json)) rules.push(...policyRules(policy));
    } catch (e) {
      if (!(e instanceof TrailsealError)) throw e;
      // A policy that does not read is a usage error here (exit 2), not a failed check.
      throw new TrailsealError("USAGE", `${path}: ${e.message}`, {
        cause: e,
        file: path,
        hint: `run 'trailseal policy check ${path}' to see every problem`,
      });
    }
  }
  rules.push(...adHocRules(flags));
  if (rules.length === 0)
    throw new TrailsealError("USAGE", "no rule given", {
      hint: "give --policy content.json, or --match REGEX, --command REGEX or --creditcard",
    });
  return rules;
}

const HELP = `
Examples:
  trailseal scan --policy content.json session.trail --key auditor.key --ca ca.crt --tsa-ca ca.crt
  trailseal scan --command 'rm\\s+-rf' --creditcard --key down.key --key up.key *.trail
  trailseal scan --match 'BEGIN (RSA|OPENSSH) PRIVATE KEY' /mnt/archive --key auditor.p12 \\
      --passin env:P12_PASS --ca ca.crt --jsonl > hits.jsonl
  trailseal scan --command sudo s.trail --key "pkcs11:token=audit;object=auditor" \\
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pin env:AUDIT_PIN

Rules come from SPS content policies (a body, a REST object or a list response, as
/api/configuration/policies/content_policies returns them; every policy of a list applies, and
an item that fails 'trailseal policy check' is refused, named by its index and key) and from
--match (screen_content), --command (command) and --creditcard (together one policy, ad-hoc);
patterns are PCRE syntax searched as substrings, run in linear time (what only a backtracking
engine can run is refused). Each policy applies on its own: for each text, its rules are tried in
order and the first that matches gives the policy's hit, named by policy (name and key) and rule.

screen_content is the screen as a terminal emulator showed it (each line when it left the
screen, then the final screen); command the commands typed, rebuilt from the keystrokes with
line editing, or from the echoed lines on the screen when no key opens the upstream channel
(said in the report: typed-blind input is then missed); creditcard card numbers on the screen
(Luhn and issuer prefixes), always shown masked, a hit once more than --permitted N were shown
(default 0: SPS's REST object has no field for it); window_title the titles set by OSC 0/2.
Graphical protocols (RDP, ICA, VNC) are not recorded by trailseal.

Each trail is read twice: verified (as 'trailseal verify' does, without keys), then decrypted.
A hit is "verified" only when a checkpoint that verified under --ca (or, on a trail timestamped
without signing, --tsa-ca) covers its record; hits after the last good checkpoint are not
verified. The actions a rule asks for are listed; trailseal does not terminate anything after
the fact. Each trail needs a key that opens its downstream channel (the screen).

Keys are files (PEM, PKCS#12) or PKCS#11 URIs (--key 'pkcs11:token=audit;object=auditor' with
--pkcs11-module and --pin env:VAR), as for replay. With a token key every trail is scanned in
this thread, one at a time, whatever --jobs says: the token's session cannot be handed to worker
threads, and no key's secret is ever passed on through a file or the environment.

Exit status: 0 no rule matched, 1 at least one hit, 2 usage or I/O error (a trail that cannot
be read or opened is reported on stderr and the others are still scanned).`;

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal scan", io)
    .description("search sealed trails as SPS content policies do: screen, commands, cards, titles")
    .argument("[trail...]", "trail files, or directories of *.trail files")
    .option("--policy <file>", "an SPS content policy (JSON; repeatable)", collect)
    .option("--match <regex>", "a screen_content pattern (repeatable)", collect)
    .option("--command <regex>", "a command pattern (repeatable)", collect)
    .option("--creditcard", "card numbers on the screen")
    .option("--permitted <n>", "card numbers a trail may show before a creditcard hit (default 0)");
  keyOptions(cmd, "private key that opens a channel: PEM, PKCS#12 or a PKCS#11 URI (repeatable)");
  anchorOptions(cmd).option("--json", "print a JSON array, one scan object per trail");
  archiveOptions(cmd).addHelpText("after", HELP);
  return runWithKeys<ScanFlags>(cmd, argv, io, async (flags, load) => {
    const rules = await rulesOf(flags, io);
    const plan = await archivePlan(cmd.args, flags, io);
    if (plan.stdin)
      throw new TrailsealError("USAGE", "scan reads each trail twice (verified, then decrypted)", {
        hint: "save the trail to a file and name it",
      });
    const { keys } = await load();
    const setup: ScanSetup = {
      cwd: io.cwd,
      rules: ruleSources(rules),
      ...(await loadAnchors(flags, io)),
      keys,
      permitted: permittedOf(flags.permitted),
    };
    return scanArchive(io, await archiveRun(plan, keys, flags), setup, flags);
  });
}

/** Every trail, on the pool; the report in input order (--jsonl: as each finishes). */
async function scanArchive(
  io: Io,
  run: ArchiveRun,
  setup: ScanSetup,
  flags: ScanFlags,
): Promise<number> {
  const started = Date.now();
  const progress = run.jobs > 0 ? ArchiveProgress.for(io, "scanning") : null;
  const outcomes = scanMany(run.inputs, {
    ...setup,
    jobs: run.jobs,
    ...(run.trailTimeoutMs === undefined ? {} : { trailTimeoutMs: run.trailTimeoutMs }),
  });
  const json: TrailScan[] = [];
  const sum = { trails: 0, trailsWithHits: 0, hits: 0, unverifiedHits: 0, unreadable: 0, bytes: 0 };
  const unreadable = () => {
    sum.trails++;
    sum.unreadable++;
  };
  for await (const o of readableTrails(outcomes, io, flags.jsonl === true, progress, unreadable)) {
    sum.trails++;
    const { scan, bytes } = o.result;
    sum.bytes += bytes;
    sum.hits += scan.hits.length;
    sum.unverifiedHits += scan.hits.filter((h) => !h.verified).length;
    if (scan.hits.length > 0) sum.trailsWithHits++;
    if (flags.json === true) json.push(scan);
    else if (flags.jsonl === true)
      io.stdout.write(`${JSON.stringify({ type: "scan", key: o.input.key, bytes, ...scan })}\n`);
    else io.stdout.write(formatScan(scan));
  }
  progress?.finish();
  if (flags.json === true) io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  const summary: ScanSummary = {
    type: "summary",
    ...sum,
    elapsedMs: Date.now() - started,
    ...(flags.shard === undefined ? {} : { shard: flags.shard }),
  };
  if (flags.jsonl === true) io.stdout.write(`${JSON.stringify(summary)}\n`);
  if (run.summary)
    say(
      io,
      "summary",
      `${plural(summary.trails, "trail")}${summary.shard === undefined ? "" : ` (shard ${summary.shard})`}: ${plural(summary.hits, "hit")} (${summary.unverifiedHits} not verified) in ${summary.trailsWithHits}, ${summary.unreadable} unreadable`,
    );
  return scanStatus(summary);
}
