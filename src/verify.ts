/**
 * The verdict on a trail, in the SPS player's terms and beyond: DOWNSTREAM, UPSTREAM, SIGNATURE,
 * TIMESTAMP and INTEGRITY. Verification needs no decryption key: it recomputes every record
 * digest and the chain, checks that each checkpoint states exactly the chain head it covers,
 * verifies checkpoint signatures and timestamp tokens against the given trust anchors, and, with
 * keys, also decrypts every frame and checks the key commitments.
 *
 * `verifyTrail` is a fold: each record goes, in one pass, into four small accumulators
 * (src/verify/: channels, stamps, signatures, integrity), and each gives its part of the verdict
 * at the end. Verdict types are in src/verify/verdict.ts.
 *
 * Certificates carried inside a trail are never trusted by themselves: without `anchors`, a
 * correct signature is reported as untrusted.
 */
import { TrailsealError, isTrailsealError } from "./errors.js";
import type { Channel } from "./events.js";
import type { StanzaKey } from "./recipients.js";
import { ChainValidator } from "./sign.js";
import { EventDecoder, unlockChannels, type ChannelAccess } from "./trail/open.js";
import type { TrailHeader } from "./trail/format.js";
import { TrailReader, type TrailRecord } from "./trail/reader.js";
import { ChannelFold } from "./verify/channels.js";
import { IntegrityFold, unreadableHeader } from "./verify/integrity.js";
import { SignatureFold } from "./verify/signatures.js";
import { StampFold } from "./verify/stamps.js";
import {
  REQUIREMENTS,
  type ChannelVerdict,
  type CheckpointVerdict,
  type IntegrityVerdict,
  type Outcome,
  type Requirement,
  type VerifiedPrefix,
  type Verdict,
} from "./verify/verdict.js";

export { REQUIREMENTS };
export type * from "./verify/verdict.js";

export interface VerifyOptions {
  /** Trust anchors for checkpoint signers (DER). */
  readonly anchors?: readonly Uint8Array[];
  /** Trust anchors for TSAs (DER). */
  readonly tsaAnchors?: readonly Uint8Array[];
  /**
   * Certificates (DER) that may supply a signer's or a TSA's certificate, or complete a chain,
   * when the trail leaves them out; never trusted by themselves (openssl's `-untrusted`).
   */
  readonly untrusted?: readonly Uint8Array[];
  /** Private keys: with them every frame of the channels they open is decrypted too. */
  readonly keys?: readonly StanzaKey[];
  /** What must hold; by default `complete`, plus what the header enables, plus `decrypt` with keys. */
  readonly require?: readonly Requirement[];
  /** Shares chain validations across checkpoints and trails. */
  readonly validator?: ChainValidator;
  /**
   * Called as each checkpoint is verified (its chain head matched, its signature checked): the
   * records before it are verified as far as the chain goes.
   */
  readonly onVerified?: (progress: VerifiedPrefix) => void;
}

/** The four accumulators of one trail. */
interface Folds {
  readonly channels: ChannelFold;
  readonly stamps: StampFold;
  readonly signatures: SignatureFold;
  readonly integrity: IntegrityFold;
}

/** The stanzas opened with the keys (commitments checked), or why they could not be. */
type Access =
  | {
      readonly ok: true;
      readonly access: Readonly<Record<Channel, ChannelAccess>>;
      readonly decoder: EventDecoder;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly error: TrailsealError };

/**
 * Verifies one trail read from `source`. Returns the verdict; never throws for a bad trail
 * (only for I/O failures of the source itself).
 *
 * @example
 *   const v = await verifyTrail(createReadStream("s.trail"), "s.trail", { anchors: [caDer], tsaAnchors: [caDer] });
 *   if (!v.valid) console.log(v.outcome, v.failed, v.integrity);
 */
export async function verifyTrail(
  source: AsyncIterable<Uint8Array>,
  name: string,
  options: VerifyOptions = {},
): Promise<Verdict> {
  let reader: TrailReader;
  try {
    reader = await TrailReader.open(source, name);
  } catch (e) {
    if (!isTrailsealError(e) || e.code === "IO") throw e;
    return unreadable(name, e, options.require);
  }
  const verification = await Verification.start(reader, options);
  for await (const _ of verification.records()) void _;
  return verification.verdict();
}

/**
 * One trail's verification driven a record at a time, for a caller that does more with each
 * record in the same pass (replay decrypts them): `records()` hands out each record once every
 * fold has passed it, and `verdict()` is the verdict once they are read. `verifyTrail` is this,
 * read to the end.
 */
export class Verification {
  private failure: TrailsealError | null;

  private constructor(
    private readonly reader: TrailReader,
    private readonly opened: Access,
    private readonly folds: Folds,
    private readonly options: VerifyOptions,
  ) {
    this.failure = opened.ok ? null : opened.error;
  }

  /**
   * Starts on an opened reader; `options.keys` open the stanzas, as in `verifyTrail`. With
   * `decodeFrames` false, frames are counted but not decoded: for a caller that decodes them
   * itself (replay), so no frame is decoded twice.
   */
  static async start(
    reader: TrailReader,
    options: VerifyOptions = {},
    decodeFrames = true,
  ): Promise<Verification> {
    const { header } = reader;
    const validator = options.validator ?? new ChainValidator();
    const opened = await unlock(reader, options.keys ?? []);
    const folds: Folds = {
      channels: new ChannelFold(header, opened.ok && decodeFrames ? opened.decoder : null),
      stamps: new StampFold({
        anchors: options.tsaAnchors ?? [],
        untrusted: options.untrusted ?? [],
        validator,
        expected: header.policy.timestamping !== null,
        policyOid: header.policy.policyOid,
      }),
      signatures: new SignatureFold({
        anchors: options.anchors ?? [],
        untrusted: options.untrusted ?? [],
        validator,
        expected: header.policy.signing,
        timestamped: header.policy.timestamping !== null,
      }),
      integrity: new IntegrityFold(),
    };
    return new Verification(reader, opened, folds, options);
  }

  /**
   * The one pass: every record into every fold, in order, and out once all passed it (a
   * checkpoint also goes to `onVerified`). Stops at the first failure, which `fault` then holds
   * (the record at fault is the next one); I/O failures of the source throw.
   */
  async *records(): AsyncGenerator<TrailRecord> {
    if (!this.opened.ok) return;
    const { folds } = this;
    const { onVerified } = this.options;
    try {
      for await (const record of this.reader.records()) {
        folds.channels.add(record);
        // The folds answer null at once for a record they need no wait for (every frame).
        const stamping = folds.stamps.add(record);
        const token = stamping === null ? null : await stamping;
        const signing = folds.signatures.add(record, token);
        if (signing !== null) await signing;
        folds.integrity.add(record);
        const checkpoint = folds.integrity.lastCheckpoint;
        const signature = folds.signatures.latest();
        if (record.type === "checkpoint" && onVerified && checkpoint !== null && signature !== null)
          onVerified({ checkpoint, signature });
        yield record;
      }
    } catch (e) {
      if (!isTrailsealError(e) || e.code === "IO") throw e;
      this.failure = e;
    }
  }

  /** The failure that stopped the records (a bad stanza or key commitment: before the first). */
  get fault(): TrailsealError | null {
    return this.failure;
  }

  /** The verdict, once `records()` has been read to its end. */
  verdict(): Verdict {
    const { reader, opened, folds, failure } = this;
    const integrity =
      failure === null
        ? folds.integrity.verdict(reader.end)
        : folds.integrity.tampered(opened.ok ? folds.integrity.records : -1, failure);
    const channels = opened.ok
      ? {
          downstream: folds.channels.verdict(opened.access.downstream),
          upstream: folds.channels.verdict(opened.access.upstream),
        }
      : { downstream: null, upstream: null };
    const { header } = reader;
    return conclude(reader.name, header, requirements(header, this.options), folds, integrity, {
      ...channels,
      warnings: opened.ok ? [...opened.warnings] : [],
    });
  }
}

async function unlock(reader: TrailReader, keys: readonly StanzaKey[]): Promise<Access> {
  try {
    const unlocked = await unlockChannels(reader.parsed, keys);
    const decoder = new EventDecoder(reader.parsed, unlocked.keys);
    return { ok: true, access: unlocked.access, decoder, warnings: unlocked.warnings };
  } catch (e) {
    // A bad stanza or key commitment is a tampered header.
    if (!isTrailsealError(e)) throw e;
    return { ok: false, error: e };
  }
}

/**
 * What must hold by default. The header alone is no reason to skip a check: anyone can write an
 * unsigned trail. A verifier who gives trust anchors expects what they anchor, whatever the
 * header says.
 */
function requirements(header: TrailHeader, options: VerifyOptions): Requirement[] {
  if (options.require) return [...options.require];
  const wanted: Record<Requirement, boolean> = {
    signature: header.policy.signing || (options.anchors ?? []).length > 0,
    timestamp: header.policy.timestamping !== null || (options.tsaAnchors ?? []).length > 0,
    complete: true,
    decrypt: (options.keys ?? []).length > 0,
  };
  return REQUIREMENTS.filter((r) => wanted[r]);
}

function conclude(
  file: string,
  header: TrailHeader,
  required: Requirement[],
  folds: Folds,
  integrity: IntegrityVerdict,
  channels: {
    downstream: ChannelVerdict | null;
    upstream: ChannelVerdict | null;
    warnings: string[];
  },
): Verdict {
  const signature = folds.signatures.verdict();
  const timestamp = folds.stamps.verdict();
  const { downstream, upstream, warnings } = channels;
  const intact = integrity.state !== "tampered";
  const holds: Record<Requirement, boolean> = {
    complete: integrity.state === "complete",
    signature: intact && signature.state === "valid",
    timestamp: intact && timestamp.state === "valid",
    decrypt: intact && decrypted(downstream, upstream),
  };
  const failed = required.filter((r) => !holds[r]);
  const valid = failed.length === 0 && intact;
  return {
    file,
    trail: header.trail,
    valid,
    outcome: outcomeOf(valid, integrity, failed),
    required,
    failed,
    downstream,
    upstream,
    signature,
    timestamp,
    integrity,
    checkpoints: checkpointVerdicts(folds),
    warnings,
  };
}

/** The screen must be readable (clear, or opened and every frame decrypted); keystrokes may stay locked. */
function decrypted(down: ChannelVerdict | null, up: ChannelVerdict | null): boolean {
  const whole = (c: ChannelVerdict) => c.state !== "opened" || c.decrypted === c.frames;
  return down !== null && up !== null && down.state !== "locked" && whole(down) && whole(up);
}

function outcomeOf(valid: boolean, integrity: IntegrityVerdict, failed: Requirement[]): Outcome {
  if (valid) return "valid";
  if (integrity.state === "tampered") return "tampered";
  return failed.includes("complete") ? "truncated" : "invalid";
}

/** Each checkpoint: the integrity fold's facts joined with its signature and timestamp. */
function checkpointVerdicts(folds: Folds): CheckpointVerdict[] {
  const signatures = folds.signatures.checkpoints();
  const stamps = folds.stamps.checkpoints();
  // Every fold saw every checkpoint the integrity fold counted (it is told last), so the
  // fallbacks below are never taken.
  return folds.integrity.checkpoints().map((c, i) => ({
    ...c,
    signature: signatures[i] ?? { state: "not-signed" },
    timestamp: stamps[i] ?? null,
  }));
}

/** The verdict on a trail whose header could not be read: nothing is known but the fault. */
function unreadable(
  file: string,
  error: TrailsealError,
  require: readonly Requirement[] | undefined,
): Verdict {
  const required = require ? [...require] : (["complete"] satisfies Requirement[]);
  const integrity = unreadableHeader(error);
  return {
    file,
    trail: null,
    valid: false,
    outcome: outcomeOf(false, integrity, required),
    required,
    failed: required,
    downstream: null,
    upstream: null,
    signature: { state: "not-signed", signed: 0, signers: [], error: null },
    timestamp: { state: "not-timestamped", stamped: 0, unstamped: [], error: null },
    integrity,
    checkpoints: [],
    warnings: [],
  };
}
