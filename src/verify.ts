/**
 * The verdict on a trail, in the SPS player's terms and beyond: DOWNSTREAM, UPSTREAM, SIGNATURE,
 * TIMESTAMP and INTEGRITY. Verification needs no decryption key: it recomputes every record
 * digest and the chain, checks that each checkpoint states exactly the chain head it covers,
 * verifies checkpoint signatures and timestamp tokens against the given trust anchors, and, with
 * keys, also decrypts every frame and checks the key commitments.
 *
 * Certificates carried inside a trail are never trusted by themselves: without `anchors`, a
 * correct signature is reported as untrusted.
 */
import { createHash } from "node:crypto";
import { TrailsealError, isTrailsealError, type ErrorCode } from "./errors.js";
import type { Channel } from "./events.js";
import type { StanzaKey } from "./recipients.js";
import { ChainValidator, signatureValue, verifyDetached, type SignatureFacts } from "./sign.js";
import { verifyToken, type TokenFacts } from "./timestamp/verify.js";
import {
  EventDecoder,
  unlockChannels,
  type Alternative,
  type ChannelAccess,
} from "./trail/open.js";
import type { CheckpointStatement } from "./trail/format.js";
import { TrailReader, type TrailRecord } from "./trail/reader.js";

export type Requirement = "signature" | "timestamp" | "complete" | "decrypt";
export const REQUIREMENTS: readonly Requirement[] = [
  "signature",
  "timestamp",
  "complete",
  "decrypt",
];

export interface VerifyOptions {
  /** Trust anchors for checkpoint signers (DER). */
  readonly anchors?: readonly Uint8Array[];
  /** Trust anchors for TSAs (DER). */
  readonly tsaAnchors?: readonly Uint8Array[];
  /** Private keys: with them every frame of the channels they open is decrypted too. */
  readonly keys?: readonly StanzaKey[];
  /** What must hold; by default `complete`, plus what the header enables, plus `decrypt` with keys. */
  readonly require?: readonly Requirement[];
  /** Shares chain validations across checkpoints and trails. */
  readonly validator?: ChainValidator;
}

export interface Recipient {
  readonly spkiFingerprint: string;
  readonly subject: string;
}

export interface ChannelVerdict {
  /** clear; encrypted and opened with the keys given; encrypted and locked (no key given opens it). */
  readonly state: "clear" | "opened" | "locked";
  readonly frames: number;
  /** Which alternative opened it. */
  readonly openedBy: { entry: number; added: boolean; recipients: Recipient[] } | null;
  /** Every alternative that would open it (any one suffices; a four-eyes one needs both). */
  readonly alternatives: { entry: number; added: boolean; recipients: Recipient[] }[];
  /** With keys: how many frames were decrypted and authenticated. */
  readonly decrypted: number;
}

export interface SignatureVerdict {
  readonly state: "valid" | "invalid" | "untrusted" | "not-signed";
  /** Every certificate that validly signed a checkpoint, in order of first appearance. */
  readonly signers: {
    subject: string;
    issuer: string;
    fingerprint: string;
    codeSigning: boolean;
    checkpoints: number[];
  }[];
  readonly signer: {
    subject: string;
    issuer: string;
    fingerprint: string;
    codeSigning: boolean;
  } | null;
  readonly signed: number;
  readonly code: ErrorCode | null;
  readonly message: string | null;
}

export interface TimestampVerdict {
  readonly state: "valid" | "invalid" | "untrusted" | "partial" | "not-timestamped";
  readonly source: "local" | "remote" | null;
  readonly tsaName: string | null;
  readonly policy: string | null;
  readonly firstGenTime: string | null;
  readonly lastGenTime: string | null;
  readonly stamped: number;
  /** Checkpoints without a valid token: the TSA was down, or the stamp never arrived. */
  readonly unstamped: { index: number; time: number; reason: string }[];
  readonly code: ErrorCode | null;
  readonly message: string | null;
}

export interface IntegrityVerdict {
  readonly state: "complete" | "truncated" | "tampered";
  readonly records: number;
  readonly checkpoints: number;
  /** complete: the final checkpoint. */
  readonly final: { index: number; time: number } | null;
  /** truncated: the last good checkpoint and what follows it uncovered. */
  readonly lastCheckpoint: { index: number; time: number; records: number } | null;
  readonly unsignedRecords: number;
  /** tampered: the first bad record (-1 = the header) and the code. */
  readonly firstBadRecord: number | null;
  readonly code: ErrorCode | null;
  readonly message: string | null;
}

export interface CheckpointVerdict {
  readonly index: number;
  /** Session time, seconds. */
  readonly time: number;
  readonly records: number;
  readonly final: boolean;
  readonly signature: "valid" | "invalid" | "untrusted" | "not-signed";
  readonly signer: string | null;
  readonly signingTime: string | null;
  readonly timestamp:
    | {
        state: "valid" | "invalid" | "untrusted";
        genTime: string | null;
        tsaName: string | null;
        source: "local" | "remote";
      }
    | { state: "unstamped"; reason: string }
    | null;
}

export interface Verdict {
  readonly file: string;
  readonly trail: string | null;
  readonly valid: boolean;
  readonly required: Requirement[];
  readonly failed: Requirement[];
  readonly downstream: ChannelVerdict | null;
  readonly upstream: ChannelVerdict | null;
  readonly signature: SignatureVerdict;
  readonly timestamp: TimestampVerdict;
  readonly integrity: IntegrityVerdict;
  readonly checkpoints: CheckpointVerdict[];
  /** Things worth knowing that fail nothing, e.g. an added (annex) stanza that was skipped. */
  readonly warnings: string[];
}

function recipients(a: Alternative) {
  return {
    entry: a.entry,
    added: a.added !== null,
    recipients: a.layers.map((l) => ({ spkiFingerprint: l.spkiFingerprint, subject: l.subject })),
  };
}

function channelVerdict(access: ChannelAccess, frames: number, decrypted: number): ChannelVerdict {
  return {
    state: !access.encrypted ? "clear" : access.openedBy === null ? "locked" : "opened",
    frames,
    openedBy: access.openedBy === null ? null : recipients(access.openedBy),
    alternatives: access.alternatives.map(recipients),
    decrypted,
  };
}

/** What the verdict keeps of a checkpoint (not its body: memory stays small on long trails). */
interface CheckpointState {
  seq: number;
  time: number;
  statement: CheckpointStatement;
  signature: CheckpointVerdict["signature"];
  signer: string | null;
  signingTime: Date | null;
  /** The signer's validated path (leaf … anchor), kept only until the checkpoint's stamp. */
  chain: Uint8Array[] | null;
  stamp: CheckpointVerdict["timestamp"];
}

/** How far a claimed signing time may run past the timestamp's genTime (clock skew). */
const SIGNING_TIME_SKEW_MS = 120_000;

/**
 * Verifies one trail read from `source`. Returns the verdict; never throws for a bad trail
 * (only for I/O failures of the source itself).
 *
 * @example
 *   const v = await verifyTrail(createReadStream("s.trail"), "s.trail", { anchors: [caDer], tsaAnchors: [caDer] });
 *   if (!v.valid) console.log(v.failed, v.integrity);
 */
export async function verifyTrail(
  source: AsyncIterable<Uint8Array>,
  name: string,
  options: VerifyOptions = {},
): Promise<Verdict> {
  const anchors = options.anchors ?? [];
  const tsaAnchors = options.tsaAnchors ?? [];
  const keys = options.keys ?? [];
  const validator = options.validator ?? new ChainValidator();

  let reader: TrailReader;
  try {
    reader = await TrailReader.open(source, name);
  } catch (e) {
    if (!isTrailsealError(e) || e.code === "IO") throw e;
    const required = options.require ? [...options.require] : (["complete"] as Requirement[]);
    return {
      file: name,
      trail: null,
      valid: false,
      required,
      failed: required,
      downstream: null,
      upstream: null,
      signature: {
        state: "not-signed",
        signers: [],
        signer: null,
        signed: 0,
        code: null,
        message: null,
      },
      timestamp: emptyTimestamp("not-timestamped"),
      // A file cut inside its header is truncated (a recorder killed at once), not tampered.
      integrity:
        e.code === "TRUNCATED"
          ? {
              state: "truncated",
              records: 0,
              checkpoints: 0,
              final: null,
              lastCheckpoint: null,
              unsignedRecords: 0,
              firstBadRecord: null,
              code: e.code,
              message: e.message,
            }
          : {
              state: "tampered",
              records: 0,
              checkpoints: 0,
              final: null,
              lastCheckpoint: null,
              unsignedRecords: 0,
              firstBadRecord: -1,
              code: e.code,
              message: e.message,
            },
      checkpoints: [],
      warnings: [],
    };
  }
  const header = reader.header;
  const required: Requirement[] = options.require
    ? [...options.require]
    : [
        // The header alone is no reason to skip a check: anyone can write an unsigned trail. A
        // verifier who gives trust anchors expects what they anchor, whatever the header says.
        ...(header.policy.signing || anchors.length > 0 ? (["signature"] as const) : []),
        ...(header.policy.timestamping !== null || tsaAnchors.length > 0
          ? (["timestamp"] as const)
          : []),
        "complete",
        ...(keys.length > 0 ? (["decrypt"] as const) : []),
      ];

  // Keys: unlock (commitments checked); a bad stanza is a tampered header.
  let access: Record<Channel, ChannelAccess> | null = null;
  const warnings: string[] = [];
  let decoder: EventDecoder | null = null;
  let keyFailure: TrailsealError | null = null;
  try {
    const unlocked = await unlockChannels(reader.parsed, keys);
    access = unlocked.access;
    warnings.push(...unlocked.warnings);
    decoder = new EventDecoder(reader.parsed, unlocked.keys);
  } catch (e) {
    if (!isTrailsealError(e)) throw e;
    keyFailure = e;
  }

  const frames: Record<Channel, number> = { downstream: 0, upstream: 0 };
  const decrypted: Record<Channel, number> = { downstream: 0, upstream: 0 };
  const checkpoints: CheckpointState[] = [];
  const bySeq = new Map<number, CheckpointState>();
  let signatureFailure: {
    code: ErrorCode;
    message: string;
    state: "invalid" | "untrusted";
  } | null = null;
  let firstSigner: (SignatureFacts["signer"] & { codeSigning: boolean }) | null = null;
  const signers = new Map<string, SignatureVerdict["signers"][number]>();
  /** Keeps the worst failure: an invalid signature outranks an untrusted one. */
  const noteSignatureFailure = (f: {
    code: ErrorCode;
    message: string;
    state: "invalid" | "untrusted";
  }) => {
    const current = signatureFailure as { state: "invalid" | "untrusted" } | null;
    if (current === null || (current.state === "untrusted" && f.state === "invalid"))
      signatureFailure = f;
  };
  /** A checkpoint's signature failed (CHAIN_UNTRUSTED: untrusted; else invalid); rethrows others. */
  const signatureFailed = (state: CheckpointState, e: unknown, where: string) => {
    if (!isTrailsealError(e)) throw e;
    const untrusted = e.code === "CHAIN_UNTRUSTED";
    state.signature = untrusted ? "untrusted" : "invalid";
    noteSignatureFailure({
      code: e.code,
      message: `${where}: ${e.message}`,
      state: untrusted ? "untrusted" : "invalid",
    });
  };
  let stampFailure: { code: ErrorCode; message: string; state: "invalid" | "untrusted" } | null =
    null;
  const tokens: TokenFacts[] = [];
  let stampSource: "local" | "remote" | null = null;
  let tamper: { record: number; error: TrailsealError } | null =
    keyFailure === null ? null : { record: -1, error: keyFailure };
  let lastSeq = -1;

  if (tamper === null) {
    try {
      for await (const record of reader.records()) {
        lastSeq = record.seq;
        await visit(record);
      }
    } catch (e) {
      if (!isTrailsealError(e) || e.code === "IO") throw e;
      tamper = { record: lastSeq + 1, error: e };
    }
  }

  async function visit(record: TrailRecord): Promise<void> {
    switch (record.type) {
      case "frame":
        frames[record.channel]++;
        if (decoder === null) return;
        decoder.decode(record);
        if (header.channels[record.channel].encrypted && decoder.readable(record.channel))
          decrypted[record.channel]++;
        return;
      case "checkpoint": {
        const state: CheckpointState = {
          seq: record.seq,
          time: record.time,
          statement: record.statement,
          signature: "not-signed",
          signer: null,
          signingTime: null,
          chain: null,
          stamp: null,
        };
        if (record.signature.byteLength > 0) {
          try {
            const facts = await verifyDetached(record.signature, record.content, {
              anchors,
              validator,
            });
            state.signature = "valid";
            state.signer = facts.signer.subject;
            state.signingTime = facts.signingTime;
            // Kept for the stamp's genTime check (timestamped trails only; dropped at the stamp).
            if (header.policy.timestamping !== null) state.chain = facts.chain;
            firstSigner ??= { ...facts.signer, codeSigning: facts.codeSigning };
            const known = signers.get(facts.signer.fingerprint);
            if (known === undefined) {
              signers.set(facts.signer.fingerprint, {
                subject: facts.signer.subject,
                issuer: facts.signer.issuer,
                fingerprint: facts.signer.fingerprint,
                codeSigning: facts.codeSigning,
                checkpoints: [record.statement.index],
              });
            } else known.checkpoints.push(record.statement.index);
          } catch (e) {
            signatureFailed(
              state,
              e,
              `checkpoint ${record.statement.index} (record ${record.seq})`,
            );
          }
        }
        checkpoints.push(state);
        if (header.policy.timestamping !== null) bySeq.set(record.seq, state);
        return;
      }
      case "stamp": {
        const state = bySeq.get(record.target.seq)!;
        bySeq.delete(record.target.seq);
        const signerChain = state.chain;
        state.chain = null;
        const { stamp } = record;
        stampSource = stamp.source;
        if (stamp.status === "failed") {
          state.stamp = { state: "unstamped", reason: stamp.note };
          return;
        }
        const target = record.target;
        try {
          // A malformed signature fails here; it is reported with the checkpoint, not as tampering.
          const stamped =
            target.signature.byteLength > 0 ? signatureValue(target.signature) : target.content;
          const imprint = new Uint8Array(createHash("sha256").update(stamped).digest());
          const facts = await verifyToken(stamp.token, {
            imprint,
            nonce: stamp.nonce,
            policyOid: header.policy.policyOid,
            anchors: tsaAnchors,
            validator,
          });
          tokens.push(facts);
          state.stamp = {
            state: "valid",
            genTime: facts.genTime.toISOString(),
            tsaName: facts.tsaName,
            source: stamp.source,
          };
          if (target.signature.byteLength > 0 && state.signature === "valid") {
            await checkSignatureAtGenTime(state, signerChain, target.statement, facts, record.seq);
          }
        } catch (e) {
          if (!isTrailsealError(e)) throw e;
          const untrusted = e.code === "CHAIN_UNTRUSTED";
          state.stamp = {
            state: untrusted ? "untrusted" : "invalid",
            genTime: null,
            tsaName: null,
            source: stamp.source,
          };
          stampFailure ??= {
            code: e.code,
            message: `checkpoint ${target.statement.index} (record ${record.seq}): ${e.message}`,
            state: untrusted ? "untrusted" : "invalid",
          };
        }
        return;
      }
    }
  }

  /**
   * CAdES-T: a valid token proves the signature existed at genTime, which a signer cannot
   * backdate. So the signer's chain must be valid at genTime too (a signature made after the
   * certificate expired, claiming an earlier signingTime, fails here), and the claimed signing
   * time must not come after genTime (beyond the token's accuracy and some clock skew).
   */
  async function checkSignatureAtGenTime(
    state: CheckpointState,
    chain: Uint8Array[] | null,
    statement: CheckpointStatement,
    token: TokenFacts,
    stampSeq: number,
  ): Promise<void> {
    const where = `checkpoint ${statement.index} (stamp record ${stampSeq})`;
    const accuracy =
      token.accuracy === undefined ? 0 : token.accuracy.seconds * 1000 + token.accuracy.millis;
    if (
      state.signingTime !== null &&
      state.signingTime.getTime() > token.genTime.getTime() + accuracy + SIGNING_TIME_SKEW_MS
    ) {
      state.signature = "invalid";
      noteSignatureFailure({
        code: "SIGNATURE_INVALID",
        message: `${where}: the signature claims signing time ${state.signingTime.toISOString()}, after its timestamp's genTime ${token.genTime.toISOString()}`,
        state: "invalid",
      });
      return;
    }
    if (chain === null || chain[0] === undefined) return;
    try {
      // The signature itself was verified with the checkpoint; only the time changes here.
      await validator.validate(chain[0], chain.slice(1, -1), anchors, token.genTime);
    } catch (e) {
      signatureFailed(
        state,
        e,
        `${where}: at the timestamp's genTime ${token.genTime.toISOString()}`,
      );
    }
  }

  // ---- integrity
  let integrity: IntegrityVerdict;
  const count = lastSeq + 1;
  const cps = checkpoints;
  const lastCp = cps.at(-1) ?? null;
  if (tamper !== null) {
    integrity = {
      state: "tampered",
      records: count,
      checkpoints: cps.length,
      final: null,
      lastCheckpoint:
        lastCp === null
          ? null
          : {
              index: lastCp.statement.index,
              time: lastCp.time / 1e6,
              records: lastCp.statement.records,
            },
      unsignedRecords: 0,
      firstBadRecord: tamper.record,
      code: tamper.error.code,
      message: tamper.error.message,
    };
  } else {
    const end = reader.end;
    if (end.state === "complete") {
      integrity = {
        state: "complete",
        records: end.records,
        checkpoints: cps.length,
        final: { index: end.final.statement.index, time: end.final.time / 1e6 },
        lastCheckpoint: null,
        unsignedRecords: 0,
        firstBadRecord: null,
        code: null,
        message: null,
      };
    } else {
      integrity = {
        state: "truncated",
        records: end.records,
        checkpoints: cps.length,
        final: null,
        lastCheckpoint:
          end.lastCheckpoint === null
            ? null
            : {
                index: end.lastCheckpoint.statement.index,
                time: end.lastCheckpoint.time / 1e6,
                records: end.lastCheckpoint.statement.records,
              },
        unsignedRecords: end.uncoveredFrames,
        firstBadRecord: null,
        code: "TRUNCATED",
        message: end.reason,
      };
    }
  }

  // ---- signature
  const signedCount = checkpoints.filter((c) => c.signature !== "not-signed").length;
  const sigFail = signatureFailure as {
    code: ErrorCode;
    message: string;
    state: "invalid" | "untrusted";
  } | null;
  const signer = firstSigner as (SignatureFacts["signer"] & { codeSigning: boolean }) | null;
  let signature: SignatureVerdict;
  if (sigFail !== null) {
    signature = {
      signers: [...signers.values()],
      state: sigFail.state,
      signer: signer === null ? null : pickSigner(signer),
      signed: signedCount,
      code: sigFail.code,
      message:
        anchors.length === 0 && sigFail.state === "untrusted"
          ? `${sigFail.message} (no --ca trust anchor was given)`
          : sigFail.message,
    };
  } else if (signedCount === 0) {
    signature = {
      signers: [...signers.values()],
      state: "not-signed",
      signer: null,
      signed: 0,
      code: null,
      message: header.policy.signing
        ? "the header says signing was enabled, but no checkpoint is signed"
        : null,
    };
  } else if (signedCount < checkpoints.length) {
    const first = checkpoints.find((c) => c.signature === "not-signed")!;
    signature = {
      signers: [...signers.values()],
      state: "invalid",
      signer: signer === null ? null : pickSigner(signer),
      signed: signedCount,
      code: "CHECKPOINT_INVALID",
      message: `checkpoint ${first.statement.index} is not signed`,
    };
  } else {
    signature = {
      signers: [...signers.values()],
      state: "valid",
      signer: signer === null ? null : pickSigner(signer),
      signed: signedCount,
      code: null,
      message: null,
    };
  }

  // ---- timestamp
  const unstamped = checkpoints
    .filter((c) => c.stamp === null || c.stamp.state === "unstamped")
    .map((c) => ({
      index: c.statement.index,
      time: c.time / 1e6,
      reason:
        c.stamp !== null && c.stamp.state === "unstamped"
          ? c.stamp.reason
          : "no timestamp was recorded for it",
    }));
  let timestamp: TimestampVerdict;
  const tsFail = stampFailure as {
    code: ErrorCode;
    message: string;
    state: "invalid" | "untrusted";
  } | null;
  const genTimes = tokens.map((t) => t.genTime.getTime()).sort((a, b) => a - b);
  const base = {
    source: stampSource as "local" | "remote" | null,
    tsaName: tokens[0]?.tsaName ?? null,
    policy: tokens[0]?.policy ?? null,
    firstGenTime: genTimes.length === 0 ? null : new Date(genTimes[0]!).toISOString(),
    lastGenTime: genTimes.length === 0 ? null : new Date(genTimes.at(-1)!).toISOString(),
    stamped: tokens.length,
    unstamped: header.policy.timestamping === null ? [] : unstamped,
  };
  if (header.policy.timestamping === null && tokens.length === 0) {
    timestamp = { ...emptyTimestamp("not-timestamped") };
  } else if (tsFail !== null) {
    timestamp = {
      ...base,
      state: tsFail.state,
      code: tsFail.code,
      message: tsaAnchorsNote(tsFail, tsaAnchors),
    };
  } else if (tokens.length === 0) {
    timestamp = {
      ...base,
      state: "not-timestamped",
      code: "TIMESTAMP_INVALID",
      message: "no checkpoint carries a timestamp",
    };
  } else if (unstamped.length > 0) {
    timestamp = {
      ...base,
      state: "partial",
      code: "TIMESTAMP_INVALID",
      message: `${unstamped.length} of ${checkpoints.length} checkpoints are unstamped`,
    };
  } else {
    timestamp = { ...base, state: "valid", code: null, message: null };
  }

  // ---- channels
  const downstream =
    access === null
      ? null
      : channelVerdict(access.downstream, frames.downstream, decrypted.downstream);
  const upstream =
    access === null ? null : channelVerdict(access.upstream, frames.upstream, decrypted.upstream);

  // ---- requirements
  const holds: Record<Requirement, boolean> = {
    complete: integrity.state === "complete",
    signature: integrity.state !== "tampered" && signature.state === "valid",
    timestamp: integrity.state !== "tampered" && timestamp.state === "valid",
    decrypt:
      integrity.state !== "tampered" &&
      keyFailure === null &&
      downstream !== null &&
      downstream.state !== "locked" &&
      (downstream.state === "clear" || downstream.decrypted === downstream.frames) &&
      upstream !== null &&
      (upstream.state !== "opened" || upstream.decrypted === upstream.frames),
  };
  const failed = required.filter((r) => !holds[r]);
  return {
    file: name,
    trail: header.trail,
    valid: failed.length === 0 && integrity.state !== "tampered",
    required,
    failed,
    downstream,
    upstream,
    signature,
    timestamp,
    integrity,
    checkpoints: checkpoints.map((c) => ({
      index: c.statement.index,
      time: c.time / 1e6,
      records: c.statement.records,
      final: c.statement.final,
      signature: c.signature,
      signer: c.signer,
      signingTime: c.signingTime?.toISOString() ?? null,
      timestamp:
        header.policy.timestamping === null && c.stamp === null
          ? null
          : (c.stamp ?? { state: "unstamped", reason: "no timestamp was recorded for it" }),
    })),
    warnings,
  };
}

function pickSigner(s: SignatureFacts["signer"] & { codeSigning: boolean }) {
  return {
    subject: s.subject,
    issuer: s.issuer,
    fingerprint: s.fingerprint,
    codeSigning: s.codeSigning,
  };
}

function tsaAnchorsNote(
  f: { message: string; state: string },
  anchors: readonly Uint8Array[],
): string {
  return anchors.length === 0 && f.state === "untrusted"
    ? `${f.message} (no --tsa-ca trust anchor was given)`
    : f.message;
}

function emptyTimestamp(state: "not-timestamped"): TimestampVerdict {
  return {
    state,
    source: null,
    tsaName: null,
    policy: null,
    firstGenTime: null,
    lastGenTime: null,
    stamped: 0,
    unstamped: [],
    code: null,
    message: null,
  };
}
