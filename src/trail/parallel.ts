/**
 * Frame records made in batches on worker threads, so that both cores seal a large recording.
 * The writer still numbers every frame (sequence number, channel frame index) and still extends
 * the chain, in order, over the 32-byte record digests the workers send back (DESIGN.md: records
 * are hashed in parallel, the chain over their digests stays cheap and sequential). The bytes
 * are the writer's own, frame for frame: `frameRecord` is the one definition both threads use,
 * so the same events make the same trail with or without workers.
 */
import { Worker } from "node:worker_threads";
import { workerScript } from "../archive/pool.js";
import type { Channel } from "../events.js";
import { MAX_FRAME_PLAINTEXT, TAG_BYTES, sealFrame } from "../frames.js";
import {
  CHANNEL_CODE,
  FLAG_LAST,
  RECORD_PREFIX_BYTES,
  RecordKind,
  encodeRecordPrefix,
  frameAad,
  recordDigest,
} from "./format.js";

/** Where a frame goes in the trail: what its clear prefix says, and its channel frame index. */
export interface FrameSpec {
  readonly channel: Channel;
  readonly seq: number;
  readonly time: number;
  readonly flags: number;
  /** The frame's index on its channel (the STREAM counter); unused on a clear channel. */
  readonly counter: number;
}

/**
 * One frame record: its clear prefix and its body in parts, the body sealed when the channel has
 * a file key (clear channels keep the plaintext, still chained).
 */
export function frameRecord(
  fileKey: Uint8Array | undefined,
  start: Uint8Array,
  spec: FrameSpec,
  plain: readonly Uint8Array[],
): { prefix: Uint8Array; body: readonly Uint8Array[] } {
  let length = fileKey === undefined ? 0 : TAG_BYTES;
  for (const part of plain) length += part.byteLength;
  const prefix = encodeRecordPrefix({
    kind: RecordKind.frame,
    flags: spec.flags,
    channel: CHANNEL_CODE[spec.channel],
    seq: spec.seq,
    time: spec.time,
    length,
  });
  const last = (spec.flags & FLAG_LAST) !== 0;
  const body =
    fileKey === undefined
      ? plain
      : sealFrame(fileKey, spec.counter, last, plain, frameAad(start, prefix));
  return { prefix, body };
}

/** What a batch is sealed with: each channel's file key (none: clear) and the start digest. */
export interface BatchKeys {
  readonly keys: Partial<Record<Channel, Uint8Array>>;
  readonly start: Uint8Array;
}

/** Frames packed for a worker: their plaintexts back to back, and six numbers per frame. */
export interface PackedBatch {
  readonly id: number;
  readonly count: number;
  readonly plain: Uint8Array;
  /** Per frame: channel code, flags, seq, time, channel frame index, plaintext length. */
  readonly meta: Float64Array;
}

/** A worker's answer: the records back to back and their digests, or why it failed. */
export type SealedBatch =
  | {
      readonly id: number;
      readonly records: Uint8Array;
      /** 32 bytes per record. */
      readonly digests: Uint8Array;
      /** The batch's buffers, handed back to pack the next batch into. */
      readonly plain: Uint8Array;
      readonly meta: Float64Array;
    }
  | { readonly id: number; readonly error: string };

const META = 6;
const CHANNELS: readonly Channel[] = ["downstream", "upstream"];
/** A batch goes out when it holds this many plaintext bytes, or this many frames. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_FRAMES = 4096;
/** Batches out per worker at most: one being sealed, one waiting, so no worker idles. */
const AHEAD = 2;

/** Seals a packed batch (in a worker, or in this thread for a trail too small to send out). */
export function sealBatch(
  k: BatchKeys,
  batch: PackedBatch,
): { records: Uint8Array; digests: Uint8Array } {
  const { count, plain, meta } = batch;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const sealed = k.keys[CHANNELS[meta[i * META]!]!] !== undefined;
    total += RECORD_PREFIX_BYTES + meta[i * META + 5]! + (sealed ? TAG_BYTES : 0);
  }
  const records = new Uint8Array(total);
  const digests = new Uint8Array(32 * count);
  let offset = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const m = i * META;
    const channel = CHANNELS[meta[m]!]!;
    const spec = { channel, flags: meta[m + 1]!, seq: meta[m + 2]!, time: meta[m + 3]! };
    const length = meta[m + 5]!;
    const piece = plain.subarray(at, at + length);
    at += length;
    const { prefix, body } = frameRecord(
      k.keys[channel],
      k.start,
      { ...spec, counter: meta[m + 4]! },
      [piece],
    );
    digests.set(recordDigest(prefix, ...body), 32 * i);
    records.set(prefix, offset);
    offset += prefix.byteLength;
    for (const part of body) {
      records.set(part, offset);
      offset += part.byteLength;
    }
  }
  return { records, digests };
}

interface Packing {
  count: number;
  bytes: number;
  plain: Uint8Array;
  meta: Float64Array;
}

/**
 * Frames in, records out in order: frames are packed into batches, a batch goes to a worker
 * when it is full, and `deliver` gets each batch's records and digests in frame order. Workers
 * start with the first full batch, so a small trail is sealed in this thread and starts none.
 */
export class FrameBatches {
  private workers: Worker[] | null = null;
  private current: Packing | null = null;
  private readonly spare: Packing[] = [];
  private readonly arrived = new Map<number, SealedBatch>();
  private sent = 0;
  private delivered = 0;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly k: BatchKeys,
    private readonly size: number,
    private readonly deliver: (records: Uint8Array, digests: Uint8Array) => void,
  ) {}

  /** Adds one frame (its plaintext in parts); resolves when there is room for the next. */
  async add(spec: FrameSpec, plain: readonly Uint8Array[]): Promise<void> {
    this.check();
    const batch = (this.current ??= this.fresh());
    const m = batch.count * META;
    batch.meta.set(
      [CHANNEL_CODE[spec.channel], spec.flags, spec.seq, spec.time, spec.counter, 0],
      m,
    );
    for (const part of plain) {
      batch.plain.set(part, batch.bytes);
      batch.bytes += part.byteLength;
      batch.meta[m + 5]! += part.byteLength;
    }
    batch.count++;
    if (batch.bytes >= BATCH_BYTES || batch.count === BATCH_FRAMES) await this.send();
  }

  /** Delivers every frame added so far (the writer's next record needs the chain head). */
  async settle(): Promise<void> {
    this.check();
    const batch = this.current;
    if (batch !== null && this.workers === null) {
      // Never filled a batch: seal it here rather than start threads for it.
      this.current = null;
      const { records, digests } = sealBatch(this.k, { id: this.sent, ...batch });
      this.sent++;
      this.delivered++;
      this.spare.push({ ...batch, count: 0, bytes: 0 });
      this.deliver(records, digests);
    } else if (batch !== null) {
      await this.send();
    }
    while (this.delivered < this.sent) await this.next();
  }

  /** Stops the workers (the writer is closed, or gave up). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private fresh(): Packing {
    return (
      this.spare.pop() ?? {
        count: 0,
        bytes: 0,
        plain: new Uint8Array(BATCH_BYTES + MAX_FRAME_PLAINTEXT),
        meta: new Float64Array(BATCH_FRAMES * META),
      }
    );
  }

  private async send(): Promise<void> {
    const batch = this.current!;
    this.current = null;
    const workers = (this.workers ??= this.start());
    const packed: PackedBatch = { id: this.sent, ...batch };
    workers[this.sent % workers.length]!.postMessage(packed, [
      batch.plain.buffer as ArrayBuffer,
      batch.meta.buffer as ArrayBuffer,
    ]);
    this.sent++;
    while (this.sent - this.delivered >= AHEAD * workers.length) await this.next();
  }

  private start(): Worker[] {
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const [script, how] = workerScript(new URL(`./seal-worker${ext}`, import.meta.url));
    return Array.from({ length: this.size }, () => {
      const worker = new Worker(script, { ...how, workerData: this.k });
      // A writer that fails mid-trail must not keep the process alive through its workers.
      worker.unref();
      worker.on("message", (answer: SealedBatch) => this.arrive(answer));
      worker.on("error", (e) => this.fail(e));
      worker.on("exit", (code) => {
        if (this.workers !== null) this.fail(new Error(`exited with code ${code}`));
      });
      return worker;
    });
  }

  private arrive(answer: SealedBatch): void {
    if ("error" in answer) return this.fail(new Error(answer.error));
    this.arrived.set(answer.id, answer);
    try {
      for (let a = this.arrived.get(this.delivered); a !== undefined && !("error" in a);) {
        this.arrived.delete(this.delivered);
        this.delivered++;
        this.spare.push({ count: 0, bytes: 0, plain: a.plain, meta: a.meta });
        this.deliver(a.records, a.digests);
        a = this.arrived.get(this.delivered);
      }
    } catch (e) {
      // The writer's own failure (its sink's, say): thrown as it is at the writer's next step.
      this.failure ??= e as Error;
    }
    this.wake?.();
  }

  private fail(e: Error): void {
    this.failure ??= new Error(`a frame-sealing worker failed: ${e.message}`, { cause: e });
    this.wake?.();
  }

  /** Waits for the next delivery (or failure). */
  private async next(): Promise<void> {
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = null;
    this.check();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }
}
