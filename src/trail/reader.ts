/**
 * The streaming trail reader. It parses the header and then one record at a time, checking
 * everything that needs no key: sequence numbers, the integrity chain, the order rules of frames,
 * checkpoints and stamps, and that every checkpoint states exactly the chain head it covers.
 * Decryption and signature checks are layered on top (src/trail/open.ts, src/verify.ts).
 */
import { TrailsealError } from "../errors.js";
import { MAX_FRAME_PLAINTEXT, TAG_BYTES } from "../frames.js";
import { concat, equal, toHex } from "../bytes.js";
import type { Channel } from "../events.js";
import { ByteSource } from "../bytes.js";
import {
  FLAG_CONTINUED,
  FLAG_FINAL,
  FLAG_LAST,
  FORMAT_VERSION,
  MAGIC,
  MAX_HEADER_BYTES,
  MAX_RECORD_BODY,
  NO_CHANNEL,
  RECORD_PREFIX_BYTES,
  RecordKind,
  checkpointContent,
  decodeCheckpointBody,
  decodeRecordPrefix,
  decodeStampBody,
  extendChain,
  headerDigest,
  parseAnnexJson,
  parseHeaderJson,
  recordDigest,
  type CheckpointStatement,
  type StampBody,
  type TrailAnnex,
  type TrailHeader,
} from "./format.js";

export interface ParsedHeader {
  /** The trail's name in messages (its path, or <stdin>). */
  readonly name: string;
  readonly header: TrailHeader;
  readonly annex: TrailAnnex;
  /** The sealed header bytes (magic through sealed JSON): the chain starts from their digest. */
  readonly sealed: Uint8Array;
  /** The annex bytes as stored (length prefix included). */
  readonly annexBytes: Uint8Array;
  /** SHA-256 of `sealed`: the chain's start, and part of every frame's associated data. */
  readonly start: Uint8Array;
  /** Bytes taken by the header and annex. */
  readonly size: number;
}

interface RecordBase {
  readonly seq: number;
  /** Session time, microseconds. */
  readonly time: number;
  /** Byte offset of the record in the file. */
  readonly offset: number;
  /** The record's 24-byte prefix as stored (part of a frame's associated data). */
  readonly prefix: Uint8Array;
  readonly body: Uint8Array;
  /** Chain head after this record. */
  readonly head: Uint8Array;
}

export interface FrameRecord extends RecordBase {
  readonly type: "frame";
  readonly channel: Channel;
  readonly last: boolean;
  readonly continued: boolean;
}

export interface CheckpointRecord extends RecordBase {
  readonly type: "checkpoint";
  readonly statement: CheckpointStatement;
  readonly content: Uint8Array;
  /** CMS SignedData DER; empty when unsigned. */
  readonly signature: Uint8Array;
}

export interface StampRecord extends RecordBase {
  readonly type: "stamp";
  readonly stamp: StampBody;
  /** The checkpoint the stamp is for. */
  readonly target: CheckpointRecord;
}

export type TrailRecord = FrameRecord | CheckpointRecord | StampRecord;

/** How a trail ended, as far as its structure tells. */
export type TrailEnd =
  | { readonly state: "complete"; readonly records: number; readonly final: CheckpointRecord }
  | {
      readonly state: "truncated";
      readonly records: number;
      /** The last checkpoint seen, if any. */
      readonly lastCheckpoint: CheckpointRecord | null;
      /** Frames after the last checkpoint (all frames when there is none): data nothing covers. */
      readonly uncoveredFrames: number;
      /** Why: "no final checkpoint", or "record N cut short at byte X". */
      readonly reason: string;
    };

export async function readHeader(src: ByteSource, name: string): Promise<ParsedHeader> {
  const fixed = await src.read(14);
  if (fixed.byteLength < 8 && equal(fixed, MAGIC.subarray(0, fixed.byteLength))) {
    // Empty, or the start of the magic: a recorder killed before its header was out.
    throw new TrailsealError("TRUNCATED", `${name}: header is cut short`);
  }
  if (fixed.byteLength < 8 || !equal(fixed.subarray(0, 8), MAGIC)) {
    throw new TrailsealError("TRAIL_INVALID", `${name} is not a trailseal trail (bad magic)`, {
      hint: "a trail starts with the bytes 89 54 52 41 49 4c 0d 0a",
    });
  }
  if (fixed.byteLength < 14) throw new TrailsealError("TRUNCATED", `${name}: header is cut short`);
  const view = new DataView(fixed.buffer, fixed.byteOffset, fixed.byteLength);
  const version = view.getUint16(8);
  if (version !== FORMAT_VERSION) {
    throw new TrailsealError(
      "TRAIL_INVALID",
      `${name}: unsupported trail format version ${version}`,
    );
  }
  const sealedLength = view.getUint32(10);
  if (sealedLength > MAX_HEADER_BYTES) {
    throw new TrailsealError(
      "HEADER_INVALID",
      `${name}: header length ${sealedLength} exceeds the limit`,
    );
  }
  const json = await src.read(sealedLength);
  if (json.byteLength < sealedLength)
    throw new TrailsealError("TRUNCATED", `${name}: header is cut short`);
  const header = parseHeaderJson(json, name);
  const annexLengthBytes = await src.read(4);
  if (annexLengthBytes.byteLength < 4)
    throw new TrailsealError("TRUNCATED", `${name}: header is cut short`);
  const annexLength = new DataView(annexLengthBytes.buffer, annexLengthBytes.byteOffset).getUint32(
    0,
  );
  if (annexLength > MAX_HEADER_BYTES) {
    throw new TrailsealError(
      "HEADER_INVALID",
      `${name}: annex length ${annexLength} exceeds the limit`,
    );
  }
  const annexJson = await src.read(annexLength);
  if (annexJson.byteLength < annexLength)
    throw new TrailsealError("TRUNCATED", `${name}: annex is cut short`);
  const annex = parseAnnexJson(annexJson, name);
  const sealed = concat(fixed, json);
  const annexBytes = concat(annexLengthBytes, annexJson);
  return {
    name,
    header,
    annex,
    sealed,
    annexBytes,
    start: headerDigest(sealed),
    size: sealed.byteLength + annexBytes.byteLength,
  };
}

const CHANNEL_BY_CODE: readonly Channel[] = ["downstream", "upstream"];

/** Checkpoints that may await their stamp at once (see the stamp rules in docs/FORMAT.md). */
export const MAX_AWAITING_STAMPS = 1024;

/**
 * Reads a trail: `header` is parsed on `open`, then `records()` yields every record after its
 * structural checks, and `end` tells how the trail ended once the records are exhausted.
 * Throws TrailsealError with the record number on the first structural fault.
 */
export class TrailReader {
  private constructor(
    private readonly src: ByteSource,
    readonly name: string,
    readonly parsed: ParsedHeader,
  ) {}

  static async open(source: AsyncIterable<Uint8Array>, name: string): Promise<TrailReader> {
    const src = new ByteSource(source);
    const parsed = await readHeader(src, name);
    return new TrailReader(src, name, parsed);
  }

  get header(): TrailHeader {
    return this.parsed.header;
  }

  private endState: TrailEnd | null = null;

  /** How the trail ended; available once `records()` has been read to its end. */
  get end(): TrailEnd {
    if (this.endState === null) throw new Error("trail end asked for before the records were read");
    return this.endState;
  }

  async *records(): AsyncGenerator<TrailRecord> {
    const { header, start } = this.parsed;
    const interval = header.policy.interval * 1_000_000;
    let head = start;
    let seq = 0;
    let lastTime = 0;
    let checkpoints = 0;
    let lastCheckpoint: CheckpointRecord | null = null;
    let uncoveredFrames = 0;
    let final: CheckpointRecord | null = null;
    const channelEnded: Record<Channel, boolean> = { downstream: false, upstream: false };
    // Checkpoints awaiting their stamp (timestamped trails only; dropped once stamped, so memory
    // stays bounded by the stamps in flight, not by the length of the trail).
    const awaitingStamp = new Map<number, CheckpointRecord>();
    try {
      for (;;) {
        const offset = this.src.offset;
        const prefix = await this.src.read(RECORD_PREFIX_BYTES);
        if (prefix.byteLength === 0) break;
        if (prefix.byteLength < RECORD_PREFIX_BYTES) {
          this.endState = {
            state: "truncated",
            records: seq,
            lastCheckpoint,
            uncoveredFrames,
            reason: `record ${seq} is cut short at byte ${offset + prefix.byteLength}`,
          };
          return;
        }
        const p = decodeRecordPrefix(prefix, offset);
        if (p.seq !== seq) {
          throw new TrailsealError(
            "SEQUENCE_INVALID",
            `record at byte ${offset} has sequence number ${p.seq} where ${seq} was expected`,
            { hint: p.seq > seq ? "a record was removed" : "a record was duplicated or reordered" },
          );
        }
        if (p.length > MAX_RECORD_BODY) {
          throw new TrailsealError(
            "RECORD_INVALID",
            `record ${seq}: body length ${p.length} exceeds the limit`,
          );
        }
        const body = await this.src.read(p.length);
        if (body.byteLength < p.length) {
          this.endState = {
            state: "truncated",
            records: seq,
            lastCheckpoint,
            uncoveredFrames,
            reason: `record ${seq} is cut short at byte ${offset + RECORD_PREFIX_BYTES + body.byteLength}`,
          };
          return;
        }
        if (p.time < lastTime) {
          throw new TrailsealError(
            "SEQUENCE_INVALID",
            `record ${seq}: time ${p.time / 1e6}s goes back before ${lastTime / 1e6}s`,
          );
        }
        const before = head;
        head = extendChain(head, recordDigest(prefix, body));
        const base = { seq, time: p.time, offset, prefix, body, head };
        if (final !== null && (p.kind !== RecordKind.stamp || p.time !== final.time)) {
          // No checkpoint covers what follows the final one, so only stamps (which authenticate
          // themselves) may, and their clear time is pinned to the final checkpoint's.
          throw new TrailsealError(
            "RECORD_INVALID",
            `record ${seq} follows the final checkpoint (record ${final.seq}); only stamps at its time may`,
          );
        }
        switch (p.kind) {
          case RecordKind.frame: {
            const channel = CHANNEL_BY_CODE[p.channel];
            if (channel === undefined || (p.flags & ~(FLAG_LAST | FLAG_CONTINUED)) !== 0) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: bad frame channel or flags`,
              );
            }
            if (channelEnded[channel]) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: ${channel} frame after that channel's last frame`,
              );
            }
            const last = (p.flags & FLAG_LAST) !== 0;
            if (last && (p.flags & FLAG_CONTINUED) !== 0) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: a last frame cannot be continued`,
              );
            }
            const limit =
              MAX_FRAME_PLAINTEXT + (header.channels[channel].encrypted ? TAG_BYTES : 0);
            if (p.length > limit) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: ${channel} frame of ${p.length} bytes exceeds the ${limit}-byte limit`,
              );
            }
            if (last) channelEnded[channel] = true;
            // A frame past a checkpoint boundary means the checkpoint that was due is missing.
            const due = (checkpoints + 1) * interval;
            if (p.time >= due) {
              throw new TrailsealError(
                "CHECKPOINT_MISSING",
                `record ${seq} at ${p.time / 1e6}s: no checkpoint ${checkpoints + 1} at ${due / 1e6}s before it`,
              );
            }
            lastTime = p.time;
            seq++;
            uncoveredFrames++;
            yield {
              ...base,
              type: "frame",
              channel,
              last,
              continued: (p.flags & FLAG_CONTINUED) !== 0,
            };
            break;
          }
          case RecordKind.checkpoint: {
            if (p.channel !== NO_CHANNEL || (p.flags & ~FLAG_FINAL) !== 0) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: bad checkpoint channel or flags`,
              );
            }
            const isFinal = (p.flags & FLAG_FINAL) !== 0;
            const { content, signature } = decodeCheckpointBody(body, seq);
            const index = checkpoints + 1;
            if (isFinal && p.time >= index * interval) {
              throw new TrailsealError(
                "CHECKPOINT_MISSING",
                `record ${seq} (final checkpoint) at ${p.time / 1e6}s: no checkpoint ${index} at ${(index * interval) / 1e6}s before it`,
              );
            }
            if (!isFinal && p.time !== index * interval) {
              throw new TrailsealError(
                "CHECKPOINT_INVALID",
                `record ${seq}: checkpoint ${index} is at ${p.time / 1e6}s, not at ${(index * interval) / 1e6}s`,
              );
            }
            if (isFinal && !(channelEnded.downstream && channelEnded.upstream)) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: final checkpoint before the last frame of ${channelEnded.downstream ? "upstream" : "downstream"}`,
              );
            }
            const statement: CheckpointStatement = {
              trail: header.trail,
              index,
              time: p.time,
              records: seq,
              head: toHex(before),
              previous: lastCheckpoint === null ? null : lastCheckpoint.seq,
              final: isFinal,
            };
            if (!equal(content, checkpointContent(statement))) {
              const stated = /^head: ([0-9a-f]{64})$/m.exec(Buffer.from(content).toString("utf8"));
              if (stated !== null && stated[1] !== statement.head) {
                throw new TrailsealError(
                  "CHAIN_BROKEN",
                  `record ${seq}: checkpoint ${index} covers chain head ${stated[1]!}, but records 0-${seq - 1} hash to ${statement.head}`,
                  { hint: "a record before this checkpoint was altered, inserted or removed" },
                );
              }
              throw new TrailsealError(
                "CHECKPOINT_INVALID",
                `record ${seq}: checkpoint ${index} does not state what it covers (trail, index, time, records or previous differ)`,
              );
            }
            if (header.policy.signing && signature.byteLength === 0) {
              throw new TrailsealError(
                "CHECKPOINT_INVALID",
                `record ${seq}: checkpoint ${index} is not signed`,
              );
            }
            const record: CheckpointRecord = {
              ...base,
              type: "checkpoint",
              statement,
              content,
              signature,
            };
            checkpoints = index;
            lastCheckpoint = record;
            uncoveredFrames = 0;
            if (header.policy.timestamping !== null) {
              // Stamps follow their checkpoints closely (a TSA times out in seconds, checkpoints
              // come every 10 s or more): a pile of unstamped ones is a crafted trail, and a
              // reader must not hold it in memory.
              if (awaitingStamp.size >= MAX_AWAITING_STAMPS) {
                throw new TrailsealError(
                  "RECORD_INVALID",
                  `record ${seq}: more than ${MAX_AWAITING_STAMPS} checkpoints await a stamp`,
                );
              }
              awaitingStamp.set(seq, record);
            }
            if (isFinal) final = record;
            lastTime = p.time;
            seq++;
            yield record;
            break;
          }
          case RecordKind.stamp: {
            if (p.channel !== NO_CHANNEL || p.flags !== 0) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: bad stamp channel or flags`,
              );
            }
            const stamp = decodeStampBody(body, seq);
            if (header.policy.timestamping === null) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: stamp in a trail without timestamping`,
              );
            }
            const target = awaitingStamp.get(stamp.checkpoint);
            if (target === undefined) {
              throw new TrailsealError(
                "RECORD_INVALID",
                `record ${seq}: stamp for record ${stamp.checkpoint}, which is not a checkpoint before it awaiting a stamp (a second stamp, or no checkpoint)`,
              );
            }
            awaitingStamp.delete(stamp.checkpoint);
            lastTime = p.time;
            seq++;
            yield { ...base, type: "stamp", stamp, target };
            break;
          }
          default:
            throw new TrailsealError(
              "RECORD_INVALID",
              `record ${seq}: unknown record kind ${p.kind}`,
            );
        }
      }
      this.endState =
        final !== null
          ? { state: "complete", records: seq, final }
          : {
              state: "truncated",
              records: seq,
              lastCheckpoint,
              uncoveredFrames,
              reason: "the trail has no final checkpoint",
            };
    } finally {
      if (this.endState === null) await this.src.close();
    }
  }
}
