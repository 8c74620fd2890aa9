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
  type RecordPrefix,
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

/**
 * Reads and checks the header and annex of the trail `name`. Every error it throws names the
 * trail in its message and carries it as `details.file`.
 */
export async function readHeader(src: ByteSource, name: string): Promise<ParsedHeader> {
  try {
    return await readHeaderOf(src, name);
  } catch (e) {
    throw e instanceof TrailsealError && e.details.file === undefined ? e.withFile(name) : e;
  }
}

async function readHeaderOf(src: ByteSource, name: string): Promise<ParsedHeader> {
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
  const json = await readPart(src, view.getUint32(10), `${name}: header`);
  const header = parseHeaderJson(json, name);
  const annexLengthBytes = await src.read(4);
  if (annexLengthBytes.byteLength < 4)
    throw new TrailsealError("TRUNCATED", `${name}: header is cut short`);
  const annexLength = new DataView(annexLengthBytes.buffer, annexLengthBytes.byteOffset).getUint32(
    0,
  );
  const annexJson = await readPart(src, annexLength, `${name}: annex`);
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

/** The header's or the annex's JSON: `length` bytes, within the limit, all there. */
async function readPart(src: ByteSource, length: number, what: string): Promise<Uint8Array> {
  if (length > MAX_HEADER_BYTES)
    throw new TrailsealError("HEADER_INVALID", `${what} length ${length} exceeds the limit`);
  const bytes = await src.read(length);
  if (bytes.byteLength < length) throw new TrailsealError("TRUNCATED", `${what} is cut short`);
  return bytes;
}

const CHANNEL_BY_CODE: readonly Channel[] = ["downstream", "upstream"];

/** Checkpoints that may await their stamp at once (see the stamp rules in docs/FORMAT.md). */
export const MAX_AWAITING_STAMPS = 1024;

/** A record as read, before the checks that need what came before it. */
interface Framed {
  readonly kind: "record";
  readonly offset: number;
  readonly prefix: Uint8Array;
  readonly p: RecordPrefix;
  readonly body: Uint8Array;
}

/** What the source holds next: a record, the clean end, or a record cut short. */
type Next = Framed | { readonly kind: "eof" } | { readonly kind: "cut"; readonly reason: string };

/** Everything the checks carry from one record to the next. */
interface ReadState {
  head: Uint8Array;
  seq: number;
  lastTime: number;
  checkpoints: number;
  lastCheckpoint: CheckpointRecord | null;
  uncoveredFrames: number;
  final: CheckpointRecord | null;
  readonly channelEnded: Record<Channel, boolean>;
  /**
   * Checkpoints awaiting their stamp (timestamped trails only; dropped once stamped, so memory
   * stays bounded by the stamps in flight, not by the length of the trail).
   */
  readonly awaitingStamp: Map<number, CheckpointRecord>;
}

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
    const state: ReadState = {
      head: this.parsed.start,
      seq: 0,
      lastTime: 0,
      checkpoints: 0,
      lastCheckpoint: null,
      uncoveredFrames: 0,
      final: null,
      channelEnded: { downstream: false, upstream: false },
      awaitingStamp: new Map(),
    };
    try {
      for (;;) {
        const next = await frame(this.src, state.seq);
        if (next.kind !== "record") {
          this.endState = endOf(state, next.kind === "cut" ? next.reason : null);
          return;
        }
        yield checkRecord(this.parsed.header, state, next);
      }
    } finally {
      if (this.endState === null) await this.src.close();
    }
  }
}

/** Reads the next record's prefix and body, with the checks that need only its number. */
async function frame(src: ByteSource, seq: number): Promise<Next> {
  const offset = src.offset;
  const prefix = await src.read(RECORD_PREFIX_BYTES);
  if (prefix.byteLength === 0) return { kind: "eof" };
  if (prefix.byteLength < RECORD_PREFIX_BYTES)
    return { kind: "cut", reason: cutShort(seq, offset + prefix.byteLength) };
  const p = decodeRecordPrefix(prefix, offset);
  if (p.seq !== seq) {
    throw new TrailsealError(
      "SEQUENCE_INVALID",
      `record at byte ${offset} has sequence number ${p.seq} where ${seq} was expected`,
      { hint: p.seq > seq ? "a record was removed" : "a record was duplicated or reordered" },
    );
  }
  if (p.length > MAX_RECORD_BODY)
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: body length ${p.length} exceeds the limit`,
    );
  const body = await src.read(p.length);
  if (body.byteLength < p.length)
    return { kind: "cut", reason: cutShort(seq, offset + RECORD_PREFIX_BYTES + body.byteLength) };
  return { kind: "record", offset, prefix, p, body };
}

function cutShort(seq: number, at: number): string {
  return `record ${seq} is cut short at byte ${at}`;
}

/** How the trail ended: complete with its final checkpoint, or truncated (and why). */
function endOf(state: ReadState, cut: string | null): TrailEnd {
  const { seq: records, final, lastCheckpoint, uncoveredFrames } = state;
  if (cut === null && final !== null) return { state: "complete", records, final };
  const reason = cut ?? "the trail has no final checkpoint";
  return { state: "truncated", records, lastCheckpoint, uncoveredFrames, reason };
}

/** The checks of one record in its place, then the chain extended over it: the record. */
function checkRecord(header: TrailHeader, state: ReadState, framed: Framed): TrailRecord {
  const { p, offset, prefix, body } = framed;
  const seq = state.seq;
  if (p.time < state.lastTime) {
    throw new TrailsealError(
      "SEQUENCE_INVALID",
      `record ${seq}: time ${p.time / 1e6}s goes back before ${state.lastTime / 1e6}s`,
    );
  }
  const before = state.head;
  state.head = extendChain(before, recordDigest(prefix, body));
  const base: RecordBase = { seq, time: p.time, offset, prefix, body, head: state.head };
  const final = state.final;
  if (final !== null && (p.kind !== RecordKind.stamp || p.time !== final.time)) {
    // No checkpoint covers what follows the final one, so only stamps (which authenticate
    // themselves) may, and their clear time is pinned to the final checkpoint's.
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq} follows the final checkpoint (record ${final.seq}); only stamps at its time may`,
    );
  }
  let record: TrailRecord;
  switch (p.kind) {
    case RecordKind.frame:
      record = checkFrame(header, state, p, base);
      break;
    case RecordKind.checkpoint:
      record = checkCheckpoint(header, state, p, base, before);
      break;
    case RecordKind.stamp:
      record = checkStamp(header, state, p, base);
      break;
    default:
      throw new TrailsealError("RECORD_INVALID", `record ${seq}: unknown record kind ${p.kind}`);
  }
  state.lastTime = p.time;
  state.seq++;
  return record;
}

/** A frame: a known channel still open, its flags, its size, and no checkpoint overdue. */
function checkFrame(
  header: TrailHeader,
  state: ReadState,
  p: RecordPrefix,
  base: RecordBase,
): FrameRecord {
  const { seq } = base;
  const channel = CHANNEL_BY_CODE[p.channel];
  if (channel === undefined || (p.flags & ~(FLAG_LAST | FLAG_CONTINUED)) !== 0)
    throw new TrailsealError("RECORD_INVALID", `record ${seq}: bad frame channel or flags`);
  if (state.channelEnded[channel]) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: ${channel} frame after that channel's last frame`,
    );
  }
  const last = (p.flags & FLAG_LAST) !== 0;
  const continued = (p.flags & FLAG_CONTINUED) !== 0;
  if (last && continued)
    throw new TrailsealError("RECORD_INVALID", `record ${seq}: a last frame cannot be continued`);
  const limit = MAX_FRAME_PLAINTEXT + (header.channels[channel].encrypted ? TAG_BYTES : 0);
  if (p.length > limit) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: ${channel} frame of ${p.length} bytes exceeds the ${limit}-byte limit`,
    );
  }
  if (last) state.channelEnded[channel] = true;
  // A frame past a checkpoint boundary means the checkpoint that was due is missing.
  const due = (state.checkpoints + 1) * header.policy.interval * 1_000_000;
  if (p.time >= due) {
    throw new TrailsealError(
      "CHECKPOINT_MISSING",
      `record ${seq} at ${p.time / 1e6}s: no checkpoint ${state.checkpoints + 1} at ${due / 1e6}s before it`,
    );
  }
  state.uncoveredFrames++;
  // Spelled out, not `{ ...base }`: this runs once per frame, and the spread (a generic copy of
  // an object of another shape) was 2 µs of it (node --cpu-prof of the stamped hour's verify).
  const { offset, prefix, body, head, time } = base;
  return { seq, time, offset, prefix, body, head, type: "frame", channel, last, continued };
}

/** A checkpoint: in its place in time, stating exactly what it covers (chain head `before`). */
function checkCheckpoint(
  header: TrailHeader,
  state: ReadState,
  p: RecordPrefix,
  base: RecordBase,
  before: Uint8Array,
): CheckpointRecord {
  const { seq } = base;
  if (p.channel !== NO_CHANNEL || (p.flags & ~FLAG_FINAL) !== 0)
    throw new TrailsealError("RECORD_INVALID", `record ${seq}: bad checkpoint channel or flags`);
  const isFinal = (p.flags & FLAG_FINAL) !== 0;
  const { content, signature } = decodeCheckpointBody(base.body, seq);
  const index = state.checkpoints + 1;
  checkCheckpointPlace(header, state, p.time, isFinal, seq);
  const statement: CheckpointStatement = {
    trail: header.trail,
    index,
    time: p.time,
    records: seq,
    head: toHex(before),
    previous: state.lastCheckpoint === null ? null : state.lastCheckpoint.seq,
    final: isFinal,
  };
  if (!equal(content, checkpointContent(statement))) throw misstated(content, statement, seq);
  if (header.policy.signing && signature.byteLength === 0) {
    throw new TrailsealError(
      "CHECKPOINT_INVALID",
      `record ${seq}: checkpoint ${index} is not signed`,
    );
  }
  const record: CheckpointRecord = { ...base, type: "checkpoint", statement, content, signature };
  state.checkpoints = index;
  state.lastCheckpoint = record;
  state.uncoveredFrames = 0;
  if (header.policy.timestamping !== null) {
    // Stamps follow their checkpoints closely (a TSA times out in seconds, checkpoints come
    // every 10 s or more): a pile of unstamped ones is a crafted trail, and a reader must not
    // hold it in memory.
    if (state.awaitingStamp.size >= MAX_AWAITING_STAMPS) {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${seq}: more than ${MAX_AWAITING_STAMPS} checkpoints await a stamp`,
      );
    }
    state.awaitingStamp.set(seq, record);
  }
  if (isFinal) state.final = record;
  return record;
}

/** A checkpoint at its interval's end (or, the final one, before it), after every last frame. */
function checkCheckpointPlace(
  header: TrailHeader,
  state: ReadState,
  time: number,
  isFinal: boolean,
  seq: number,
): void {
  const index = state.checkpoints + 1;
  const due = index * header.policy.interval * 1_000_000;
  if (isFinal && time >= due) {
    throw new TrailsealError(
      "CHECKPOINT_MISSING",
      `record ${seq} (final checkpoint) at ${time / 1e6}s: no checkpoint ${index} at ${due / 1e6}s before it`,
    );
  }
  if (!isFinal && time !== due) {
    throw new TrailsealError(
      "CHECKPOINT_INVALID",
      `record ${seq}: checkpoint ${index} is at ${time / 1e6}s, not at ${due / 1e6}s`,
    );
  }
  const { downstream, upstream } = state.channelEnded;
  if (isFinal && !(downstream && upstream)) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: final checkpoint before the last frame of ${downstream ? "upstream" : "downstream"}`,
    );
  }
}

/** Why a checkpoint's content differs from what it must state: the chain head, or the rest. */
function misstated(
  content: Uint8Array,
  statement: CheckpointStatement,
  seq: number,
): TrailsealError {
  const stated = /^head: ([0-9a-f]{64})$/m.exec(Buffer.from(content).toString("utf8"));
  if (stated !== null && stated[1] !== statement.head) {
    return new TrailsealError(
      "CHAIN_BROKEN",
      `record ${seq}: checkpoint ${statement.index} covers chain head ${stated[1]!}, but records 0-${seq - 1} hash to ${statement.head}`,
      { hint: "a record before this checkpoint was altered, inserted or removed" },
    );
  }
  return new TrailsealError(
    "CHECKPOINT_INVALID",
    `record ${seq}: checkpoint ${statement.index} does not state what it covers (trail, index, time, records or previous differ)`,
  );
}

/** A stamp: in a timestamped trail, for a checkpoint before it that awaits one. */
function checkStamp(
  header: TrailHeader,
  state: ReadState,
  p: RecordPrefix,
  base: RecordBase,
): StampRecord {
  const { seq } = base;
  if (p.channel !== NO_CHANNEL || p.flags !== 0)
    throw new TrailsealError("RECORD_INVALID", `record ${seq}: bad stamp channel or flags`);
  const stamp = decodeStampBody(base.body, seq);
  if (header.policy.timestamping === null) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: stamp in a trail without timestamping`,
    );
  }
  const target = state.awaitingStamp.get(stamp.checkpoint);
  if (target === undefined) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq}: stamp for record ${stamp.checkpoint}, which is not a checkpoint before it awaiting a stamp (a second stamp, or no checkpoint)`,
    );
  }
  state.awaitingStamp.delete(stamp.checkpoint);
  return { ...base, type: "stamp", stamp, target };
}
