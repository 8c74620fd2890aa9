/**
 * The verdict on a trail, as plain data: every field is JSON and structured-clone safe (no
 * classes, no Dates, no functions), so a verdict crosses a worker thread or a JSONL line as it
 * is. Each part is a discriminated union on `state`: a field exists only in the states where it
 * means something (a valid signature has no error, a tampered trail has no final checkpoint).
 *
 * Units: session time is in microseconds everywhere in the library, as in the records and the
 * checkpoint statements, and named `timeUs`; wall-clock instants (signingTime, genTime) are
 * ISO 8601 strings.
 */
import type { ErrorCode, Missing } from "../errors.js";

export type Requirement = "signature" | "timestamp" | "complete" | "decrypt";
export const REQUIREMENTS: readonly Requirement[] = [
  "signature",
  "timestamp",
  "complete",
  "decrypt",
];

/** A failed check, as data: the error's code and message, and what the caller did not give. */
export interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
  /**
   * Set when the check could not pass for want of something the caller gives, e.g.
   * `trust-anchor`: no trust anchors at all were given; `untrusted-certificate`: the signer's
   * certificate is neither in the signature nor given. The CLI turns it into its flag's words.
   */
  readonly missing?: Missing;
}

/** A check on one checkpoint that failed: the problem, and which checkpoint and record. */
export interface CheckpointProblem extends Problem {
  readonly checkpoint: number;
  /** The record that failed it: the checkpoint's own, or its stamp's. */
  readonly record: number;
}

/**
 * The one ranking of failures, for signatures and timestamps alike: the worst failure leads (an
 * invalid signature or token, forged or malformed, outranks an untrusted one, whose only fault
 * may be a missing trust anchor); among failures of one rank, the first in the trail leads.
 */
export type FailureState = "invalid" | "untrusted";
export const FAILURE_RANK: Readonly<Record<FailureState, number>> = { invalid: 2, untrusted: 1 };

export interface Recipient {
  readonly spkiFingerprint: string;
  readonly subject: string;
}

export interface AlternativeVerdict {
  readonly entry: number;
  /** Added later by `share` (an annex stanza), not sealed with the trail. */
  readonly added: boolean;
  /** One recipient, or two for four-eyes (outer first): all are needed. */
  readonly recipients: Recipient[];
}

export type ChannelVerdict =
  | { readonly state: "clear"; readonly frames: number }
  | {
      /** Encrypted and opened with the keys given. */
      readonly state: "opened";
      readonly frames: number;
      readonly openedBy: AlternativeVerdict;
      /** Every alternative that would open it (any one suffices; a four-eyes one needs both). */
      readonly alternatives: AlternativeVerdict[];
      /** How many frames were decrypted and authenticated. */
      readonly decrypted: number;
    }
  | {
      /** Encrypted, and no key given opens it. */
      readonly state: "locked";
      readonly frames: number;
      readonly alternatives: AlternativeVerdict[];
    };

/** A certificate that validly signed checkpoints. */
export interface Signer {
  readonly subject: string;
  readonly issuer: string;
  /** SHA-256 of the certificate, lower-case hex. */
  readonly fingerprint: string;
  /** Whether it carries the code-signing EKU (SPS asks for it). */
  readonly codeSigning: boolean;
  /** The checkpoint indexes it signed, in order. */
  readonly checkpoints: number[];
}

interface SignatureCounts {
  /** Checkpoints that carry a signature (valid or not). */
  readonly signed: number;
  /** Every certificate that validly signed a checkpoint, by fingerprint, in order of first appearance. */
  readonly signers: Signer[];
}

export type SignatureVerdict =
  | (SignatureCounts & {
      readonly state: "valid";
      /** Never empty: the first is the trail's signer, any others signed later checkpoints. */
      readonly signers: [Signer, ...Signer[]];
    })
  | (SignatureCounts & {
      readonly state: "invalid" | "untrusted";
      /** The leading failure (see FAILURE_RANK), or an unsigned checkpoint among signed ones. */
      readonly error: CheckpointProblem;
    })
  | (SignatureCounts & {
      readonly state: "not-signed";
      /** Set when the header says signing was enabled. */
      readonly error: Problem | null;
    });

/** A checkpoint without a valid token: the TSA was down, or the stamp never arrived. */
export interface Unstamped {
  readonly index: number;
  readonly timeUs: number;
  readonly reason: string;
}

/** What the valid tokens say: the first token's TSA, and the span of their genTimes. */
export interface TokenSpan {
  readonly source: "local" | "remote";
  readonly tsaName: string;
  readonly policy: string;
  readonly firstGenTime: string;
  readonly lastGenTime: string;
}

export type TimestampVerdict =
  | (TokenSpan & { readonly state: "valid"; readonly stamped: number; readonly unstamped: [] })
  | (TokenSpan & {
      /** Some checkpoints carry a valid token, the others none. */
      readonly state: "partial";
      readonly stamped: number;
      readonly unstamped: Unstamped[];
      readonly error: Problem;
    })
  | {
      readonly state: "invalid" | "untrusted";
      readonly stamped: number;
      readonly unstamped: Unstamped[];
      /** The leading failure (see FAILURE_RANK). */
      readonly error: CheckpointProblem;
    }
  | {
      readonly state: "not-timestamped";
      readonly stamped: 0;
      readonly unstamped: Unstamped[];
      /** Set when the header says timestamping was enabled (or TSA anchors were given). */
      readonly error: Problem | null;
    };

/** A checkpoint that the chain verified: its index, session time and the records it covers. */
export interface CheckpointRef {
  readonly index: number;
  readonly timeUs: number;
  /** Records 0 .. records-1 are covered by it (its own record excluded). */
  readonly records: number;
}

interface IntegrityCounts {
  /** Records read and verified. */
  readonly records: number;
  readonly checkpoints: number;
}

export type IntegrityVerdict =
  | (IntegrityCounts & {
      readonly state: "complete";
      readonly final: { readonly index: number; readonly timeUs: number };
    })
  | (IntegrityCounts & {
      readonly state: "truncated";
      /** The last good checkpoint: what is verified. Null when the trail has none. */
      readonly lastCheckpoint: CheckpointRef | null;
      /** Frames after it (all frames when there is none): data no checkpoint covers. */
      readonly uncoveredFrames: number;
      /** Why: "no final checkpoint", or "record N is cut short at byte X". */
      readonly reason: string;
    })
  | (IntegrityCounts & {
      readonly state: "tampered";
      /** The last checkpoint before the fault: its prefix still verifies. */
      readonly lastCheckpoint: CheckpointRef | null;
      /** The first bad record; -1 = the header. */
      readonly firstBadRecord: number;
      readonly error: Problem;
    });

export type CheckpointSignature =
  | { readonly state: "valid"; readonly signer: string; readonly signingTime: string | null }
  | { readonly state: "invalid" | "untrusted"; readonly error: CheckpointProblem }
  | { readonly state: "not-signed" };

export type CheckpointTimestamp =
  | {
      readonly state: "valid";
      readonly genTime: string;
      readonly tsaName: string;
      readonly source: "local" | "remote";
    }
  | {
      readonly state: "invalid" | "untrusted";
      readonly source: "local" | "remote";
      readonly error: CheckpointProblem;
    }
  | { readonly state: "unstamped"; readonly reason: string };

export interface CheckpointVerdict extends CheckpointRef {
  readonly final: boolean;
  readonly signature: CheckpointSignature;
  /** Null when the trail is not timestamped at all. */
  readonly timestamp: CheckpointTimestamp | null;
}

/**
 * What the trail is, in one word, for summaries: `valid` under the required checks; else
 * `tampered` (integrity), `truncated` (completeness was required and does not hold) or `invalid`
 * (see `failed` for the checks that failed).
 */
export type Outcome = "valid" | "invalid" | "truncated" | "tampered";

export interface Verdict {
  readonly file: string;
  /** The trail id from the header; null when the header is unreadable. */
  readonly trail: string | null;
  readonly valid: boolean;
  readonly outcome: Outcome;
  readonly required: Requirement[];
  readonly failed: Requirement[];
  /** Null when the header is unreadable or its stanzas are bad. */
  readonly downstream: ChannelVerdict | null;
  readonly upstream: ChannelVerdict | null;
  readonly signature: SignatureVerdict;
  readonly timestamp: TimestampVerdict;
  readonly integrity: IntegrityVerdict;
  readonly checkpoints: CheckpointVerdict[];
  /** Things worth knowing that fail nothing, e.g. an added (annex) stanza that was skipped. */
  readonly warnings: string[];
}

/** Where verification has got to: what replay may publish (see `VerifyOptions.onVerified`). */
export interface VerifiedPrefix {
  /** The checkpoint just verified (its chain head matched, its signature checked). */
  readonly checkpoint: CheckpointRef;
  /** Its signature state at this point (a later stamp may still find fault with it). */
  readonly signature: CheckpointSignature["state"];
}
