/**
 * Content policies applied to a sealed trail, after the fact: the screen (scan/screen.ts), the
 * commands (scan/commands.ts), card numbers (scan/cards.ts) and window titles, each searched by
 * the rules that select it, every hit pinned to the record that holds it and to the checkpoint
 * that covers that record.
 *
 * Two passes over the trail, as replay makes them: the first verifies it without keys (the
 * verdict lists each checkpoint with the records it covers and whether its signature and
 * timestamp hold under the given anchors), the second decrypts it. A hit is proven only when
 * a verified checkpoint covers its record: hits in an unverified tail (after the last good
 * checkpoint of a truncated trail, or under a checkpoint whose signature does not verify) are
 * reported as unverified, never as proven.
 *
 * The record of a screen line is the one that completed it (the line left the screen then): it
 * is at or after the record that drew the text, so the checkpoint named covers the text too.
 */
import { TrailsealError, isTrailsealError } from "../errors.js";
import type { SessionMetadata } from "../events.js";
import type { ContentActions, ContentSelection, ParsedContentPolicy } from "../policy/content.js";
import type { StanzaKey } from "../recipients.js";
import { ChainValidator } from "../sign.js";
import { describeAlternatives, openTrail } from "../trail/open.js";
import { verifyTrail, type CheckpointVerdict, type IntegrityVerdict } from "../verify.js";
import { findCards, type CardMatch } from "./cards.js";
import { CommandReader, type Command, type CommandSource } from "./commands.js";
import { compilePattern, findIn, matchExpressions, type Pattern } from "./pattern.js";
import { Screen, type LinePiece, type ScreenItem } from "./screen.js";

/** One rule to apply: a content-policy rule, or one given on the command line. */
export interface ScanRule {
  /** The rule's place in its policy's `rules`, from 0. */
  readonly index: number;
  /** The policy's name (ad-hoc rules: `ad-hoc`). */
  readonly policy: string;
  /** The policy's REST key; null for a bare body and for ad-hoc rules. */
  readonly key: string | null;
  readonly selection: ContentSelection;
  readonly match: readonly Pattern[];
  readonly ignore: readonly Pattern[];
  /** What SPS would do on a hit; null for an ad-hoc rule. */
  readonly actions: ContentActions | null;
}

export interface ScanOptions {
  readonly rules: readonly ScanRule[];
  /** Private keys, as replay takes them: the downstream is needed, the upstream gives the keystrokes. */
  readonly keys?: readonly StanzaKey[];
  /** Trust anchors for checkpoint signers and for TSAs (DER). */
  readonly anchors?: readonly Uint8Array[];
  readonly tsaAnchors?: readonly Uint8Array[];
  /**
   * Card numbers a trail may show before `creditcard` rules hit (default 0). SPS's content-policy
   * REST object has no field for it (its 6.10 page names none); it is the caller's setting.
   */
  readonly permitted?: number;
  readonly validator?: ChainValidator;
}

export interface ScanHit {
  readonly trail: string;
  readonly rule: { readonly index: number; readonly policy: string; readonly key: string | null };
  readonly selection: ContentSelection;
  /** What matched; a card number masked (first 6, last 4). */
  readonly text: string;
  /** The whole line, command or title it matched in, card numbers masked. */
  readonly context: string;
  /** Session time, µs. */
  readonly time: number;
  readonly channel: "downstream" | "upstream";
  /** The record that holds it (its sequence number). */
  readonly record: number;
  /** For `command`: where the command was read from. */
  readonly source?: CommandSource;
  /** The first checkpoint that covers the record, or null (none does: an uncovered tail). */
  readonly checkpoint: { readonly index: number; readonly timeUs: number } | null;
  /** True only when that checkpoint verified under the given anchors. */
  readonly verified: boolean;
  /** The actions the rule asks for (trailseal does not act on them: the session is over). */
  readonly actions: readonly (keyof ContentActions)[];
}

export interface TrailScan {
  readonly trail: string;
  readonly hits: readonly ScanHit[];
  /** Where commands came from: the keystrokes, or the screen when the upstream is locked. */
  readonly commands: CommandSource;
  /** Card numbers seen on the screen. */
  readonly cards: number;
  readonly integrity: IntegrityVerdict["state"];
  /** Records covered by a verified checkpoint (records 0 .. verifiedRecords-1). */
  readonly verifiedRecords: number;
  readonly records: number;
  /** What the reader should know: commands from the screen, an unverified tail, a stop. */
  readonly notes: readonly string[];
}

/** Ad-hoc rules, one pattern each, in the order: screen content, commands, cards. */
export function adHocRules(given: {
  match?: readonly string[];
  command?: readonly string[];
  creditcard?: boolean;
}): ScanRule[] {
  const rule = (selection: ContentSelection, source: string | null): Omit<ScanRule, "index"> => ({
    policy: "ad-hoc",
    key: null,
    selection,
    match: source === null ? [] : [compilePattern(source)],
    ignore: [],
    actions: null,
  });
  const rules = [
    ...(given.match ?? []).map((s) => rule("screen_content", s)),
    ...(given.command ?? []).map((s) => rule("command", s)),
    ...(given.creditcard === true ? [rule("creditcard", null)] : []),
  ];
  return rules.map((r, index) => ({ ...r, index }));
}

/** The rules of a parsed content policy. */
export function policyRules(policy: ParsedContentPolicy): ScanRule[] {
  return policy.rules.map((r) => ({
    index: r.index,
    policy: policy.name,
    key: policy.key,
    selection: r.selection,
    match: r.match,
    ignore: r.ignore,
    actions: r.actions,
  }));
}

/** A text with every card number in it masked. */
function maskCards(text: string): string {
  let out = "";
  let at = 0;
  for (const c of findCards(text)) {
    out += text.slice(at, c.start) + c.masked;
    at = c.end;
  }
  return out + text.slice(at);
}

/**
 * A card number that one piece of a long line does not count: one the piece before counted (it
 * ends in the part this piece repeats), or one at the end of a piece the next piece repeats (its
 * digits may go on there). Card numbers are far shorter than what pieces repeat.
 */
function repeated(card: CardMatch, text: string, piece: LinePiece | undefined): boolean {
  if (piece === undefined) return false;
  return card.end < piece.overlap || (piece.carried > 0 && card.end === text.length);
}

/** Where each record stands: the checkpoints in order, with what verified. */
class Coverage {
  constructor(private readonly checkpoints: readonly CheckpointVerdict[]) {}

  /**
   * The checkpoint that proves `record`: the first verified one whose covered records include
   * it (a later checkpoint's chain head commits to every record before it), else the first that
   * covers it at all, else null.
   */
  of(record: number): CheckpointVerdict | null {
    let lo = 0;
    let hi = this.checkpoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.checkpoints[mid]!.records > record) hi = mid;
      else lo = mid + 1;
    }
    const first = this.checkpoints[lo] ?? null;
    for (let i = lo; i < this.checkpoints.length; i++)
      if (verified(this.checkpoints[i]!)) return this.checkpoints[i]!;
    return first;
  }

  /**
   * Records 0 .. n-1 are under a verified checkpoint (a verified checkpoint's own record with
   * them): the verified prefix.
   */
  get verifiedRecords(): number {
    let n = 0;
    for (const c of this.checkpoints) if (verified(c)) n = Math.max(n, c.records + 1);
    return n;
  }

  /** The trail ends with a checkpoint that verified: nothing is outside the proof. */
  get allVerified(): boolean {
    const last = this.checkpoints.at(-1);
    return last !== undefined && last.final && verified(last);
  }
}

/**
 * A checkpoint verified: its chain head matched (it is in the verdict), and its signature holds
 * under the anchors; on a trail sealed with timestamping alone, its timestamp holds.
 */
function verified(c: CheckpointVerdict): boolean {
  if (c.signature.state === "valid") return true;
  return c.signature.state === "not-signed" && c.timestamp?.state === "valid";
}

/** The hits of one trail, from its rules, as the items of its screen come. */
class HitFold {
  readonly hits: ScanHit[] = [];
  cards = 0;
  /** The policies that hit the line whose pieces are coming (see `LinePiece`). */
  private readonly lineHits = new Set<string>();

  constructor(
    private readonly trail: string,
    private readonly rules: readonly ScanRule[],
    private readonly coverage: Coverage,
    private readonly permitted: number,
  ) {}

  command(c: Command): void {
    this.text("command", c.text, c.time, c.ref, { source: c.source });
  }

  item(item: ScreenItem): void {
    if (item.kind === "title") this.text("window_title", item.title, item.time, item.ref);
    if (item.kind !== "line") return;
    const { piece } = item;
    // A line given in pieces is one text: each policy hits it once at most.
    if (piece === undefined || piece.index === 0) this.lineHits.clear();
    this.text("screen_content", item.text, item.time, item.ref, { piece, won: this.lineHits });
    const cards = findCards(item.text).filter((c) => !repeated(c, item.text, piece));
    if (cards.length === 0) return;
    // SPS's rule for card rules: an ignore expression that finds in the line excuses it.
    const hits = (r: ScanRule) =>
      !r.ignore.some((p) => findIn(p, item.text, piece) !== null) &&
      (r.match.length === 0 || matchExpressions(r.match, r.ignore, item.text, piece) !== null);
    const rules = this.winners("creditcard", (r) => (hits(r) ? r : null), new Set());
    for (const card of cards) {
      this.cards++;
      if (this.cards <= this.permitted) continue;
      for (const [rule] of rules) this.add(rule, card.masked, item.text, item.time, item.ref);
    }
  }

  /**
   * The rules of a selection that hit, one per policy, with what `find` found: each policy
   * applies on its own, and in a policy the first rule that finds wins. Policies are told apart
   * by key and name.
   */
  private winners<T>(
    selection: ContentSelection,
    find: (rule: ScanRule) => T | null,
    won: Set<string>,
  ): [ScanRule, T][] {
    const out: [ScanRule, T][] = [];
    for (const rule of this.rules) {
      const policy = `${rule.key}\0${rule.policy}`;
      if (rule.selection !== selection || won.has(policy)) continue;
      const found = find(rule);
      if (found === null) continue;
      won.add(policy);
      out.push([rule, found]);
    }
    return out;
  }

  /**
   * Each policy's first rule of the selection that matches the text gives a hit, unless the
   * policy is in `won` (it hit an earlier piece of the same line).
   */
  private text(
    selection: ContentSelection,
    text: string,
    time: number,
    ref: number,
    on: { piece?: LinePiece | undefined; won?: Set<string>; source?: CommandSource } = {},
  ): void {
    const { piece, source } = on;
    const find = (r: ScanRule) => matchExpressions(r.match, r.ignore, text, piece);
    const hits = this.winners(selection, find, on.won ?? new Set());
    const channel = source === "keystrokes" ? "upstream" : "downstream";
    for (const [rule, hit] of hits) {
      const shown = maskCards(text.slice(hit.index, hit.index + hit.length));
      this.add(rule, shown, text, time, ref, channel, source);
    }
  }

  private add(
    rule: ScanRule,
    text: string,
    context: string,
    time: number,
    record: number,
    channel: "downstream" | "upstream" = "downstream",
    source?: CommandSource,
  ): void {
    const checkpoint = this.coverage.of(record);
    const actions = rule.actions ?? {
      log: false,
      notify: false,
      store_in_connection_database: false,
      terminate: false,
    };
    this.hits.push({
      trail: this.trail,
      rule: { index: rule.index, policy: rule.policy, key: rule.key },
      selection: rule.selection,
      text,
      context: maskCards(context),
      time,
      channel,
      record,
      ...(source === undefined ? {} : { source }),
      checkpoint:
        checkpoint === null ? null : { index: checkpoint.index, timeUs: checkpoint.timeUs },
      verified: checkpoint !== null && verified(checkpoint),
      actions: (Object.keys(actions) as (keyof ContentActions)[]).filter((k) => actions[k]),
    });
  }
}

/**
 * Scans one trail. `source` is called once for each pass (the trail is read twice: verified,
 * then decrypted). Throws `NO_MATCHING_KEY` when no key opens the downstream (there is no screen
 * to scan), and I/O errors of the source; a trail that turns out tampered is scanned up to the
 * fault, with a note.
 *
 * @example
 *   const scan = await scanTrail(() => createReadStream("s.trail"), "s.trail", { rules: adHocRules({ command: ["rm\\s+-rf"] }), keys, anchors: [ca] });
 *   for (const h of scan.hits) console.log(h.record, h.text, h.verified);
 */
export async function scanTrail(
  source: () => AsyncIterable<Uint8Array>,
  name: string,
  options: ScanOptions,
): Promise<TrailScan> {
  const verdict = await verifyTrail(source(), name, {
    anchors: options.anchors ?? [],
    tsaAnchors: options.tsaAnchors ?? [],
    validator: options.validator ?? new ChainValidator(),
  });
  const coverage = new Coverage(verdict.checkpoints);
  const opened = await openTrail(source(), name, options.keys ?? []);
  const { access } = opened.unlocked;
  if (!opened.decoder.readable("downstream"))
    throw new TrailsealError(
      "NO_MATCHING_KEY",
      `${name}: no key given opens the downstream channel (the screen); any one of these would: ${describeAlternatives(access.downstream).join("; ")}`,
      { file: name },
    );
  const commands: CommandSource = opened.decoder.readable("upstream") ? "keystrokes" : "screen";
  const fold = new HitFold(name, options.rules, coverage, options.permitted ?? 0);
  const commandRules = options.rules.some((r) => r.selection === "command");
  const notes = [
    ...(commands === "screen" && commandRules
      ? [
          "the keystrokes (upstream) are hidden: commands were read from the echoed lines on the screen, so commands typed with echo off are missed",
        ]
      : []),
  ];
  const stop = await feed(
    opened,
    opened.reader.header.session,
    fold,
    commandRules ? commands : null,
  );
  if (stop !== null) notes.push(stop);
  const verifiedRecords = coverage.verifiedRecords;
  const records = verdict.integrity.records;
  if (!coverage.allVerified)
    notes.push(
      `records ${verifiedRecords} to ${records - 1} are not covered by a verified checkpoint: hits there are unverified`,
    );
  return {
    trail: name,
    hits: fold.hits,
    commands,
    cards: fold.cards,
    integrity: verdict.integrity.state,
    verifiedRecords,
    records,
    notes,
  };
}

/**
 * Every record through one screen and, when a rule looks at commands (`source` not null), one
 * command reader; a fault in the trail stops it.
 */
async function feed(
  opened: Awaited<ReturnType<typeof openTrail>>,
  metadata: SessionMetadata,
  fold: HitFold,
  source: CommandSource | null,
): Promise<string | null> {
  // The echoed line of a typed command is the only one the reader needs from the keystrokes.
  const newlines = source === null ? false : source === "screen" ? true : "after-enter";
  const screen = new Screen(metadata, { newlines });
  const reader = source === null ? null : new CommandReader({ source });
  const take = (items: readonly ScreenItem[]) => {
    for (const item of items) {
      fold.item(item);
      for (const c of reader?.read(item) ?? []) fold.command(c);
    }
  };
  let stop: string | null = null;
  try {
    for await (const { record, events } of opened.records())
      for (const event of events) take(await screen.push(event, record.seq));
  } catch (e) {
    if (!isTrailsealError(e) || e.code === "IO") throw e;
    stop = `the scan stopped at a fault in the trail: ${e.message}`;
  }
  take(await screen.end());
  for (const c of reader?.end() ?? []) fold.command(c);
  return stop;
}
