/**
 * The streaming trail writer: header first, then one record per frame, checkpoint or stamp,
 * each appended as soon as it is made. Memory stays bounded: nothing but the chain head and the
 * per-channel frame counters is kept between records.
 */
import { createHash } from "node:crypto";
import { TrailsealError } from "../errors.js";
import { SinkQueue, toBase64, toHex } from "../bytes.js";
import type { Channel, SessionEvent, SessionMetadata } from "../events.js";
import { channelOf } from "../events.js";
import {
  FILE_KEY_BYTES,
  FRAME_DATA_BYTES,
  FrameSealer,
  TAG_BYTES,
  keyCommitment,
} from "../frames.js";
import {
  readAuditPolicy,
  sealingPlan,
  type AuditPolicy,
  type AuditPolicyObject,
  type SealingPlan,
} from "../policy.js";
import { makeStanza, type RecipientEntry } from "../recipients.js";
import type { CheckpointSigner } from "../sign.js";
import type { Stamper } from "../timestamp/token.js";
import {
  CHANNEL_CODE,
  FLAG_CONTINUED,
  FLAG_FINAL,
  FLAG_LAST,
  FORMAT_NAME,
  NO_CHANNEL,
  RecordKind,
  checkpointContent,
  encodeCheckpointBody,
  encodeFramePayloadParts,
  encodeHeader,
  encodeRecordPrefix,
  encodeStampBody,
  extendChain,
  frameAad,
  headerDigest,
  recordDigest,
  type ChannelHeader,
  type FramePayload,
  type HeaderStanza,
  type TrailHeader,
} from "./format.js";

export { frameAad } from "./format.js";

export interface TrailWriterOptions {
  /**
   * The audit policy that configures the trail: the policy object itself (a body or REST
   * object, as `trailseal policy create` writes it; checked, POLICY_INVALID when it has errors),
   * or the sealing plan `sealingPlan()` makes of it.
   */
  readonly plan: SealingPlan | AuditPolicy | AuditPolicyObject;
  readonly session: SessionMetadata;
  /** Receives the trail's bytes in order; awaited, so a slow sink slows the writer (backpressure). */
  readonly sink: (chunk: Uint8Array) => Promise<void> | void;
  /** Randomness, read only at the top and passed down. */
  readonly random: (n: number) => Uint8Array;
  /** Wall clock, for signing times and the header's creation time. */
  readonly clock: () => Date;
  readonly signer?: CheckpointSigner | null;
  readonly stamper?: Stamper | null;
  /**
   * Wait for each stamp before going on (sealing a finished recording). When false (live
   * recording), a slow or unreachable TSA never holds up recording: stamps are written when they
   * arrive, and a failure is written as an unstamped mark.
   */
  readonly awaitStamps?: boolean;
  readonly onWarning?: (message: string) => void;
}

type StampOutcome = { ok: true; token: Uint8Array } | { ok: false; reason: string };

interface PendingStamp {
  readonly checkpointSeq: number;
  readonly checkpointIndex: number;
  readonly nonce: bigint;
  /** Settles (never rejects) when the TSA has answered or failed. */
  readonly promise: Promise<void>;
  /** Set when `promise` settles, so a writer can look without waiting. */
  outcome: StampOutcome | null;
}

export class TrailWriter {
  private head: Uint8Array;
  private seq = 0;
  private time = 0;
  private checkpoints = 0;
  private unstamped = 0;
  private previousCheckpoint: number | null = null;
  private closed = false;
  private readonly sealers: Partial<Record<Channel, FrameSealer>>;
  private readonly pending: PendingStamp[] = [];
  private readonly interval: number;
  private readonly output: SinkQueue;

  private constructor(
    private readonly options: TrailWriterOptions,
    readonly header: TrailHeader,
    private readonly start: Uint8Array,
    fileKeys: Partial<Record<Channel, Uint8Array>>,
  ) {
    this.head = start;
    this.output = new SinkQueue(options.sink);
    this.interval = header.policy.interval * 1_000_000;
    this.sealers = {};
    for (const channel of ["downstream", "upstream"] as const) {
      const key = fileKeys[channel];
      if (key !== undefined) this.sealers[channel] = new FrameSealer(key);
    }
  }

  /** Makes the file keys and stanzas and writes the header. */
  static async create(options: TrailWriterOptions): Promise<TrailWriter> {
    const plan = isSealingPlan(options.plan)
      ? options.plan
      : sealingPlan(readAuditPolicy(options.plan));
    if (plan.signing !== null && (options.signer ?? null) === null) {
      throw new TrailsealError(
        "USAGE",
        `policy ${plan.name} enables signing, but no signing identity was given`,
        { missing: "signing-identity" },
      );
    }
    if (plan.timestamping !== null && (options.stamper ?? null) === null) {
      throw new TrailsealError(
        "USAGE",
        `policy ${plan.name} enables timestamping, but no timestamp source was given`,
      );
    }
    const fileKeys: Partial<Record<Channel, Uint8Array>> = {};
    const channels: Record<Channel, ChannelHeader> = {
      downstream: { encrypted: false },
      upstream: { encrypted: false },
    };
    for (const channel of ["downstream", "upstream"] as const) {
      const entries: RecipientEntry[] | null = plan[channel];
      if (entries === null) continue;
      const key = options.random(FILE_KEY_BYTES);
      fileKeys[channel] = key;
      const stanzas: HeaderStanza[] = [];
      for (const [entry, recipient] of entries.entries()) {
        const stanza = await makeStanza(key, recipient);
        stanzas.push({ entry, layers: stanza.layers, der: toBase64(stanza.der) });
      }
      channels[channel] = {
        encrypted: true,
        commitment: toHex(keyCommitment(key, channel)),
        stanzas,
      };
    }
    const header: TrailHeader = {
      format: FORMAT_NAME,
      trail: toHex(options.random(16)),
      created: options.clock().toISOString(),
      policy: {
        name: plan.name,
        signing: plan.signing !== null,
        timestamping: plan.timestamping === null ? null : plan.timestamping.selection,
        policyOid: plan.timestamping?.selection === "remote" ? plan.timestamping.policyOid : null,
        interval: plan.interval,
      },
      session: options.session,
      channels,
    };
    const { sealed, annex } = encodeHeader(header, { stanzas: [] });
    await options.sink(sealed);
    await options.sink(annex);
    return new TrailWriter(options, header, headerDigest(sealed), fileKeys);
  }

  /** Records written so far. */
  get records(): number {
    return this.seq;
  }

  /** Checkpoints written so far. */
  get checkpointCount(): number {
    return this.checkpoints;
  }

  /** Checkpoints written unstamped so far (the TSA was down, slow or refused). */
  get unstampedCount(): number {
    return this.unstamped;
  }

  /** Writes one session event at its time (microseconds, never earlier than the last one). */
  async event(e: SessionEvent): Promise<void> {
    const channel = channelOf(e);
    switch (e.type) {
      case "output":
      case "input":
        return this.write(channel, e.data, e.time);
      case "resize":
        return this.frame(channel, { type: "resize", cols: e.cols, rows: e.rows }, e.time, 0);
      case "marker":
        return this.frame(channel, { type: "marker", label: e.label }, e.time, 0);
      case "exit":
        return this.frame(channel, { type: "exit", status: e.status }, e.time, 0);
    }
  }

  /** Writes bytes on a channel; data larger than a frame is split, marked as continued. */
  async write(channel: Channel, data: Uint8Array, time: number): Promise<void> {
    const room = FRAME_DATA_BYTES;
    if (data.byteLength <= room) return this.frame(channel, { type: "data", data }, time, 0);
    for (let offset = 0; offset < data.byteLength; offset += room) {
      const piece = data.subarray(offset, offset + room);
      const more = offset + room < data.byteLength;
      await this.frame(channel, { type: "data", data: piece }, time, more ? FLAG_CONTINUED : 0);
    }
  }

  /**
   * Advances session time to `time`, writing every checkpoint that falls due up to it, and any
   * stamps that have arrived. Live recorders call this on a timer so silent intervals still get
   * their checkpoints.
   */
  async tick(time: number): Promise<void> {
    this.assertOpen();
    if (!Number.isSafeInteger(time) || time < this.time) {
      throw new RangeError(`session time ${time}µs goes back before ${this.time}µs`);
    }
    if (!this.due(time)) {
      this.time = time;
      return;
    }
    while ((this.checkpoints + 1) * this.interval <= time) {
      await this.checkpoint((this.checkpoints + 1) * this.interval, false);
    }
    this.time = time;
    await this.flushStamps(false);
  }

  /** True when advancing to `time` writes something: a checkpoint falls due, or a stamp waits. */
  private due(time: number): boolean {
    return (this.checkpoints + 1) * this.interval <= time || this.pending.length > 0;
  }

  /** Ends every channel, writes the final checkpoint at `time` and waits for its stamp. */
  async close(time: number = this.time): Promise<void> {
    await this.tick(time);
    for (const channel of ["downstream", "upstream"] as const) {
      await this.frame(channel, { type: "end" }, time, FLAG_LAST);
    }
    await this.flushStamps(true);
    await this.checkpoint(time, true);
    await this.flushStamps(true);
    await this.output.drain();
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("trail writer used after close");
  }

  private async frame(
    channel: Channel,
    payload: FramePayload,
    time: number,
    flags: number,
  ): Promise<void> {
    // Most frames write nothing before them: no promise to wait on for those (the hot path of
    // a recording's tens of thousands of events).
    if (this.due(time) || this.closed || !Number.isSafeInteger(time) || time < this.time) {
      await this.tick(time);
    }
    this.time = time;
    const plain = encodeFramePayloadParts(payload);
    const sealer = this.sealers[channel];
    let length = sealer === undefined ? 0 : TAG_BYTES;
    for (const part of plain) length += part.byteLength;
    const prefix = encodeRecordPrefix({
      kind: RecordKind.frame,
      flags,
      channel: CHANNEL_CODE[channel],
      seq: this.seq,
      time,
      length,
    });
    const body =
      sealer === undefined
        ? plain
        : sealer.sealParts(plain, frameAad(this.start, prefix), (flags & FLAG_LAST) !== 0);
    await this.append(prefix, body);
  }

  private async append(prefix: Uint8Array, body: readonly Uint8Array[]): Promise<void> {
    this.head = extendChain(this.head, recordDigest(prefix, ...body));
    this.seq++;
    this.output.push(prefix, ...body);
    const full = this.output.ready();
    if (full !== undefined) await full;
  }

  private async checkpoint(time: number, final: boolean): Promise<void> {
    const index = this.checkpoints + 1;
    const content = checkpointContent({
      trail: this.header.trail,
      index,
      time,
      records: this.seq,
      head: toHex(this.head),
      previous: this.previousCheckpoint,
      final,
    });
    const signer = this.options.signer ?? null;
    const signature =
      signer === null ? new Uint8Array(0) : await signer.sign(content, this.options.clock());
    const body = encodeCheckpointBody({ content, signature });
    const seq = this.seq;
    const prefix = encodeRecordPrefix({
      kind: RecordKind.checkpoint,
      flags: final ? FLAG_FINAL : 0,
      channel: NO_CHANNEL,
      seq,
      time,
      length: body.byteLength,
    });
    await this.append(prefix, [body]);
    this.checkpoints = index;
    this.previousCheckpoint = seq;
    this.time = time;
    const stamper = this.options.stamper ?? null;
    if (stamper === null) return;
    // CAdES-T: with a signature, the token stamps the signature value; without, the content.
    const stamped = signer === null ? content : signer.signatureValue(signature);
    const imprint = new Uint8Array(createHash("sha256").update(stamped).digest());
    const nonce = BigInt(`0x${toHex(this.options.random(8))}`);
    const settle = (outcome: StampOutcome) => {
      pending.outcome = outcome;
    };
    const pending: PendingStamp = {
      checkpointSeq: seq,
      checkpointIndex: index,
      nonce,
      outcome: null,
      promise: stamper.stamp(imprint, nonce).then(
        (token) => settle({ ok: true, token }),
        (e: unknown) => settle({ ok: false, reason: e instanceof Error ? e.message : String(e) }),
      ),
    };
    this.pending.push(pending);
    if (this.options.awaitStamps === true) await this.flushStamps(true);
  }

  /** Writes the stamps that have arrived (all of them, waiting, when `wait`), in checkpoint order. */
  private async flushStamps(wait: boolean): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (next.outcome === null) {
        if (!wait) return;
        await next.promise;
      }
      this.pending.shift();
      const outcome = next.outcome!;
      const source = this.options.stamper!.kind;
      if (!outcome.ok) {
        this.unstamped++;
        this.options.onWarning?.(
          `checkpoint ${next.checkpointIndex} is unstamped: ${outcome.reason}; nothing is lost, and stamping is tried again at the next checkpoint`,
        );
      }
      const body = encodeStampBody({
        checkpoint: next.checkpointSeq,
        status: outcome.ok ? "granted" : "failed",
        source,
        nonce: next.nonce,
        token: outcome.ok ? outcome.token : new Uint8Array(0),
        note: outcome.ok ? "" : outcome.reason.slice(0, 1000),
      });
      const prefix = encodeRecordPrefix({
        kind: RecordKind.stamp,
        flags: 0,
        channel: NO_CHANNEL,
        seq: this.seq,
        time: this.time,
        length: body.byteLength,
      });
      await this.append(prefix, [body]);
    }
  }
}

function isSealingPlan(p: SealingPlan | AuditPolicy | AuditPolicyObject): p is SealingPlan {
  return "downstream" in p && "upstream" in p && "interval" in p;
}
