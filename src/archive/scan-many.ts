/**
 * Many trails scanned on every core: the same inputs, shards and worker pool as `verifyMany`,
 * each trail by `scanTrail`. Compiled patterns do not cross threads: the rules go to each
 * worker as their sources and are compiled there once.
 */
import type { StanzaKey } from "../recipients.js";
import { compilePattern } from "../scan/pattern.js";
import { scanTrail, type ScanRule, type TrailScan } from "../scan/scan.js";
import { ChainValidator } from "../sign.js";
import type { TrailInput } from "./inputs.js";
import { runTrails, type TaskOutcome, type TrailPoolOptions } from "./pool.js";
import { trailBytes } from "./verify-many.js";

/** A rule as data: its patterns as the policy wrote them. */
export interface RuleSource extends Omit<ScanRule, "match" | "ignore"> {
  readonly match: readonly string[];
  readonly ignore: readonly string[];
}

/** What every trail is scanned with; sent once to each worker. */
export interface ScanSetup {
  /** Relative trail paths resolve against this directory. */
  readonly cwd: string;
  readonly rules: readonly RuleSource[];
  readonly anchors: readonly Uint8Array[];
  readonly tsaAnchors: readonly Uint8Array[];
  readonly keys: readonly StanzaKey[];
  readonly permitted: number;
}

export interface ScanManyOptions extends ScanSetup, TrailPoolOptions {
  /**
   * Worker threads; 0 scans in this thread, one trail at a time. With a key on a PKCS#11 token
   * every trail is scanned in this thread: the token's session belongs to it and cannot be
   * cloned to a worker (nor is the key's secret anywhere to send).
   */
  readonly jobs: number;
}

/** A scanned trail and the bytes read (both passes). */
export interface Scanned {
  readonly scan: TrailScan;
  readonly bytes: number;
}

/** What a scan of many trails came to (the CLI's last --jsonl line). */
export interface ScanSummary {
  readonly type: "summary";
  readonly trails: number;
  readonly trailsWithHits: number;
  readonly hits: number;
  readonly unverifiedHits: number;
  /** Trails that could not be read or opened. */
  readonly unreadable: number;
  /** Bytes read, both passes (each trail is read twice: verified, then decrypted). */
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly shard?: string;
}

/** The exit status of a scan, as of `verify` (`summaryStatus`): 2 a trail unreadable, 1 a hit, else 0. */
export function scanStatus(s: ScanSummary): 0 | 1 | 2 {
  if (s.unreadable > 0) return 2;
  return s.hits > 0 ? 1 : 0;
}

/** The sources of rules, to send them to workers. */
export function ruleSources(rules: readonly ScanRule[]): RuleSource[] {
  return rules.map((r) => ({
    ...r,
    match: r.match.map((p) => p.source),
    ignore: r.ignore.map((p) => p.source),
  }));
}

/** Rules compiled again from their sources (they compiled once already, in the caller). */
export function compileRules(rules: readonly RuleSource[]): ScanRule[] {
  return rules.map((r) => ({
    ...r,
    match: r.match.map(compilePattern),
    ignore: r.ignore.map(compilePattern),
  }));
}

/** Scans one trail of an archive (reading it twice). Throws when it cannot be read or opened. */
export async function scanOne(
  input: TrailInput,
  setup: ScanSetup,
  rules: readonly ScanRule[],
  validator: ChainValidator,
): Promise<Scanned> {
  const count = { bytes: 0 };
  const scan = await scanTrail(() => trailBytes(input.path, setup.cwd, count), input.path, {
    rules,
    keys: setup.keys,
    anchors: setup.anchors,
    tsaAnchors: setup.tsaAnchors,
    permitted: setup.permitted,
    validator,
  });
  return { scan, bytes: count.bytes };
}

/**
 * Scans every input on `jobs` workers; outcomes in completion order.
 *
 * @example
 *   for await (const o of scanMany(trailInputs(["/archive"], { cwd }), { jobs: 2, cwd, rules: ruleSources(adHocRules({ creditcard: true })), anchors, tsaAnchors, keys, permitted: 0 }))
 *     console.log(o.input.path, o.ok ? o.result.scan.hits.length : o.error.code);
 */
export function scanMany(
  inputs: AsyncIterable<TrailInput>,
  options: ScanManyOptions,
): AsyncGenerator<TaskOutcome<TrailInput, Scanned>> {
  const validator = new ChainValidator();
  const rules = compileRules(options.rules);
  return runTrails(inputs, options, {
    worker: "scan-worker",
    setup: options,
    inline: (input) => scanOne(input, options, rules, validator),
  });
}
