/**
 * The timestamps of a trail's checkpoints, folded one record at a time: each stamp's RFC 3161
 * token is verified against the TSA trust anchors (`verifyToken`), over the checkpoint's
 * signature value when it is signed (CAdES-T) or over its content when not. The failures are
 * ranked by the one rule of FAILURE_RANK (the worst leads, then the first).
 */
import { createHash } from "node:crypto";
import { TrailsealError, type Missing } from "../errors.js";
import { ChainValidator, signatureValue } from "../sign.js";
import { verifyToken, type TokenFacts } from "../timestamp/verify.js";
import type { StampRecord, TrailRecord } from "../trail/reader.js";
import { failureOf, leading, type Failure } from "./failures.js";
import type { CheckpointTimestamp, TimestampVerdict, Unstamped } from "./verdict.js";

export interface StampFoldOptions {
  /** Trust anchors for TSAs (DER). */
  readonly anchors: readonly Uint8Array[];
  /** Certificates that may supply the TSA's certificate or its intermediates (never trusted). */
  readonly untrusted?: readonly Uint8Array[];
  readonly validator: ChainValidator;
  /** The header says timestamping was enabled: every checkpoint must carry a token. */
  readonly expected: boolean;
  /** The policy the tokens must carry (null: any). */
  readonly policyOid: string | null;
}

interface Entry {
  readonly index: number;
  readonly timeUs: number;
  stamp: CheckpointTimestamp | null;
}

/** What the valid tokens say, kept as they come (not the tokens: memory stays small). */
interface Tokens {
  count: number;
  readonly source: "local" | "remote";
  readonly tsaName: string;
  readonly policy: string;
  firstMs: number;
  lastMs: number;
}

const NO_STAMP = "no timestamp was recorded for it";

export class StampFold {
  private readonly entries: Entry[] = [];
  /** Checkpoints awaiting their stamp, by record. */
  private readonly awaiting = new Map<number, Entry>();
  private tokens: Tokens | null = null;
  private lead: Failure | null = null;
  private readonly noAnchors: Missing | null;

  constructor(private readonly options: StampFoldOptions) {
    this.noAnchors = options.anchors.length === 0 ? "tsa-trust-anchor" : null;
  }

  /**
   * A checkpoint record now awaits its stamp; a stamp record's token is verified, and the promise
   * gives its facts when it verifies (for SignatureFold's genTime check), else null. Any other
   * record, and a checkpoint, is taken at once: null, no promise (so the loop waits on stamps
   * only, not on each of thousands of frames).
   */
  add(record: TrailRecord): Promise<TokenFacts | null> | null {
    if (record.type === "checkpoint") {
      const entry: Entry = { index: record.statement.index, timeUs: record.time, stamp: null };
      this.entries.push(entry);
      if (this.options.expected) this.awaiting.set(record.seq, entry);
      return null;
    }
    return record.type === "stamp" ? this.stampRecord(record) : null;
  }

  private async stampRecord(record: StampRecord): Promise<TokenFacts | null> {
    const entry = this.awaiting.get(record.target.seq);
    // The reader lets a stamp follow only a checkpoint awaiting one; say so if that ever changes.
    if (entry === undefined) {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${record.seq}: a stamp for record ${record.target.seq}, which awaits none`,
      );
    }
    this.awaiting.delete(record.target.seq);
    return this.stamp(entry, record);
  }

  /** Each checkpoint's timestamp, in trail order (null throughout when not timestamped). */
  checkpoints(): (CheckpointTimestamp | null)[] {
    return this.entries.map((e) =>
      !this.options.expected && e.stamp === null
        ? null
        : (e.stamp ?? { state: "unstamped", reason: NO_STAMP }),
    );
  }

  verdict(): TimestampVerdict {
    const { tokens, lead } = this;
    if (!this.options.expected && tokens === null)
      return { state: "not-timestamped", stamped: 0, unstamped: [], error: null };
    const unstamped = this.unstamped();
    const stamped = tokens?.count ?? 0;
    if (lead !== null) return { state: lead.state, stamped, unstamped, error: lead.error };
    if (tokens === null) {
      const error = {
        code: "TIMESTAMP_INVALID" as const,
        message: "no checkpoint carries a timestamp",
      };
      return { state: "not-timestamped", stamped: 0, unstamped, error };
    }
    const span = {
      source: tokens.source,
      tsaName: tokens.tsaName,
      policy: tokens.policy,
      firstGenTime: new Date(tokens.firstMs).toISOString(),
      lastGenTime: new Date(tokens.lastMs).toISOString(),
    };
    if (unstamped.length === 0) return { ...span, state: "valid", stamped, unstamped: [] };
    const error = {
      code: "TIMESTAMP_INVALID" as const,
      message: `${unstamped.length} of ${this.entries.length} checkpoints are unstamped`,
    };
    return { ...span, state: "partial", stamped, unstamped, error };
  }

  /** Checkpoints without a valid token (a failed or missing stamp); none when not timestamped. */
  private unstamped(): Unstamped[] {
    if (!this.options.expected) return [];
    const out: Unstamped[] = [];
    for (const e of this.entries) {
      if (e.stamp === null || e.stamp.state === "unstamped") {
        const reason = e.stamp?.reason ?? NO_STAMP;
        out.push({ index: e.index, timeUs: e.timeUs, reason });
      }
    }
    return out;
  }

  private async stamp(entry: Entry, record: StampRecord): Promise<TokenFacts | null> {
    const { stamp, target } = record;
    if (stamp.status === "failed") {
      entry.stamp = { state: "unstamped", reason: stamp.note };
      return null;
    }
    try {
      // A malformed signature fails here; it is reported with the checkpoint, not as tampering.
      const stamped =
        target.signature.byteLength > 0 ? signatureValue(target.signature) : target.content;
      const imprint = new Uint8Array(createHash("sha256").update(stamped).digest());
      const { anchors, validator, policyOid, untrusted = [] } = this.options;
      const facts = await verifyToken(stamp.token, {
        imprint,
        nonce: stamp.nonce,
        policyOid,
        anchors,
        validator,
        ...(untrusted.length === 0 ? {} : { certificates: untrusted }),
      });
      this.noteToken(facts, stamp.source);
      const { tsaName } = facts;
      entry.stamp = {
        state: "valid",
        genTime: facts.genTime.toISOString(),
        tsaName,
        source: stamp.source,
      };
      return facts;
    } catch (e) {
      const at = { checkpoint: entry.index, record: record.seq };
      const f = failureOf(
        e,
        `checkpoint ${entry.index} (record ${record.seq})`,
        at,
        this.noAnchors,
      );
      entry.stamp = { state: f.state, source: stamp.source, error: f.error };
      this.lead = leading(this.lead, f);
      return null;
    }
  }

  private noteToken(facts: TokenFacts, source: "local" | "remote"): void {
    const ms = facts.genTime.getTime();
    if (this.tokens === null) {
      const { tsaName, policy } = facts;
      this.tokens = { count: 1, source, tsaName, policy, firstMs: ms, lastMs: ms };
      return;
    }
    this.tokens.count++;
    this.tokens.firstMs = Math.min(this.tokens.firstMs, ms);
    this.tokens.lastMs = Math.max(this.tokens.lastMs, ms);
  }
}
