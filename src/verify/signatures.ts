/**
 * The signatures of a trail's checkpoints, folded one record at a time: each checkpoint's CMS
 * signature is verified against the trust anchors (`verifyDetached`), and, once its stamp's token
 * has verified, checked again at the token's genTime (CAdES-T). The failures are ranked by the one
 * rule of FAILURE_RANK (the worst leads, then the first).
 */
import type { Missing } from "../errors.js";
import { ChainValidator, verifyDetached } from "../sign.js";
import type { TokenFacts } from "../timestamp/verify.js";
import type { CheckpointRecord, StampRecord, TrailRecord } from "../trail/reader.js";
import { failure, failureOf, leading, type Failure } from "./failures.js";
import type { CheckpointSignature, Signer, SignatureVerdict } from "./verdict.js";

/** How far a claimed signing time may run past the timestamp's genTime (clock skew). */
const SIGNING_TIME_SKEW_MS = 120_000;

export interface SignatureFoldOptions {
  /** Trust anchors for checkpoint signers (DER). */
  readonly anchors: readonly Uint8Array[];
  /** Certificates that may supply the signer's certificate or its intermediates (never trusted). */
  readonly untrusted?: readonly Uint8Array[];
  readonly validator: ChainValidator;
  /** The header says signing was enabled. */
  readonly expected: boolean;
  /** The trail is timestamped: each signer's chain is kept until its checkpoint's stamp. */
  readonly timestamped: boolean;
}

interface Entry {
  readonly index: number;
  readonly seq: number;
  signature: CheckpointSignature;
  readonly signingTime: Date | null;
  /** The signer's validated path (leaf … anchor), kept only until the checkpoint's stamp. */
  chain: Uint8Array[] | null;
}

export class SignatureFold {
  private readonly entries: Entry[] = [];
  /** Signed checkpoints awaiting their stamp, by record (timestamped trails only). */
  private readonly awaiting = new Map<number, Entry>();
  private readonly signers = new Map<string, Signer>();
  private lead: Failure | null = null;
  private readonly noAnchors: Missing | null;

  constructor(private readonly options: SignatureFoldOptions) {
    this.noAnchors = options.anchors.length === 0 ? "trust-anchor" : null;
  }

  /**
   * A checkpoint record: its signature is verified. A stamp record: `token` is what its token
   * verified to (StampFold.add), or null; with a token the signer is checked at its genTime.
   * Null, at once, when there is nothing to wait for (other records change nothing).
   */
  add(record: TrailRecord, token: TokenFacts | null = null): Promise<void> | null {
    if (record.type === "checkpoint") return this.checkpoint(record);
    if (record.type !== "stamp") return null;
    const entry = this.awaiting.get(record.target.seq);
    this.awaiting.delete(record.target.seq);
    return entry !== undefined && token !== null ? this.atGenTime(entry, record, token) : null;
  }

  /** The signature state of the last checkpoint added, or null before the first. */
  latest(): CheckpointSignature["state"] | null {
    return this.entries.at(-1)?.signature.state ?? null;
  }

  /** Each checkpoint's signature, in trail order. */
  checkpoints(): CheckpointSignature[] {
    return this.entries.map((e) => e.signature);
  }

  verdict(): SignatureVerdict {
    const signed = this.entries.filter((e) => e.signature.state !== "not-signed").length;
    const signers = [...this.signers.values()];
    if (this.lead !== null)
      return { state: this.lead.state, signed, signers, error: this.lead.error };
    const [first, ...rest] = signers;
    // Without a failure, every signed checkpoint is validly signed: no signer means none is signed.
    if (first === undefined) {
      const error = this.options.expected
        ? {
            code: "CHECKPOINT_INVALID" as const,
            message: "the header says signing was enabled, but no checkpoint is signed",
          }
        : null;
      return { state: "not-signed", signed, signers, error };
    }
    const unsigned = this.entries.find((e) => e.signature.state === "not-signed");
    if (unsigned !== undefined) {
      const error = {
        code: "CHECKPOINT_INVALID" as const,
        message: `checkpoint ${unsigned.index} is not signed`,
        checkpoint: unsigned.index,
        record: unsigned.seq,
      };
      return { state: "invalid", signed, signers, error };
    }
    return { state: "valid", signed, signers: [first, ...rest] };
  }

  private async checkpoint(record: CheckpointRecord): Promise<void> {
    const { index } = record.statement;
    if (record.signature.byteLength === 0) {
      this.entries.push({
        index,
        seq: record.seq,
        signature: { state: "not-signed" },
        signingTime: null,
        chain: null,
      });
      return;
    }
    const { anchors, validator, untrusted = [] } = this.options;
    try {
      const facts = await verifyDetached(record.signature, record.content, {
        anchors,
        validator,
        ...(untrusted.length === 0 ? {} : { certificates: untrusted }),
      });
      const entry: Entry = {
        index,
        seq: record.seq,
        signature: {
          state: "valid",
          signer: facts.signer.subject,
          signingTime: facts.signingTime?.toISOString() ?? null,
        },
        signingTime: facts.signingTime,
        chain: this.options.timestamped ? facts.chain : null,
      };
      this.entries.push(entry);
      if (this.options.timestamped) this.awaiting.set(record.seq, entry);
      const known = this.signers.get(facts.signer.fingerprint);
      if (known === undefined) {
        const { subject, issuer, fingerprint } = facts.signer;
        const signer = {
          subject,
          issuer,
          fingerprint,
          codeSigning: facts.codeSigning,
          checkpoints: [index],
        };
        this.signers.set(fingerprint, signer);
      } else known.checkpoints.push(index);
    } catch (e) {
      const at = { checkpoint: index, record: record.seq };
      const f = failureOf(e, `checkpoint ${index} (record ${record.seq})`, at, this.noAnchors);
      this.entries.push({ index, seq: record.seq, signature: f, signingTime: null, chain: null });
      this.lead = leading(this.lead, f);
    }
  }

  /**
   * CAdES-T: a valid token proves the signature existed at genTime, which a signer cannot
   * backdate. So the signer's chain must be valid at genTime too (a signature made after the
   * certificate expired, claiming an earlier signingTime, fails here), and the claimed signing
   * time must not come after genTime (beyond the token's accuracy and some clock skew).
   */
  private async atGenTime(entry: Entry, stamp: StampRecord, token: TokenFacts): Promise<void> {
    const chain = entry.chain;
    entry.chain = null;
    if (entry.signature.state !== "valid") return;
    const where = `checkpoint ${entry.index} (stamp record ${stamp.seq})`;
    const at = { checkpoint: entry.index, record: stamp.seq };
    const genTime = token.genTime;
    const accuracy =
      token.accuracy === undefined ? 0 : token.accuracy.seconds * 1000 + token.accuracy.millis;
    const claimed = entry.signingTime;
    let f: Failure | null = null;
    if (
      claimed !== null &&
      claimed.getTime() > genTime.getTime() + accuracy + SIGNING_TIME_SKEW_MS
    ) {
      const message = `${where}: the signature claims signing time ${claimed.toISOString()}, after its timestamp's genTime ${genTime.toISOString()}`;
      f = failure("invalid", "SIGNATURE_INVALID", message, at, this.noAnchors);
    } else if (chain !== null && chain[0] !== undefined) {
      try {
        // The signature itself was verified with the checkpoint; only the time changes here.
        await this.options.validator.validate(
          chain[0],
          chain.slice(1, -1),
          this.options.anchors,
          genTime,
        );
      } catch (e) {
        f = failureOf(
          e,
          `${where}: at the timestamp's genTime ${genTime.toISOString()}`,
          at,
          this.noAnchors,
        );
      }
    }
    if (f === null) return;
    entry.signature = f;
    this.lead = leading(this.lead, f);
  }
}
