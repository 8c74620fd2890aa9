/**
 * Integrity and completeness, folded one record at a time. The reader (src/trail/reader.ts) does
 * the checking: it recomputes every record digest and the chain, and yields a checkpoint only
 * once its stated chain head matches. This fold keeps what the verdict reports of it: how many
 * records verified, the checkpoints, and so how far the trail is verified at any moment.
 */
import type { TrailsealError } from "../errors.js";
import type { TrailEnd, TrailRecord } from "../trail/reader.js";
import type { CheckpointRef, IntegrityVerdict } from "./verdict.js";

export interface CheckpointEntry extends CheckpointRef {
  readonly final: boolean;
}

export class IntegrityFold {
  private count = 0;
  private readonly entries: CheckpointEntry[] = [];

  /** A record that passed every check: it is counted; a checkpoint is now the verified prefix. */
  add(record: TrailRecord): void {
    this.count = record.seq + 1;
    if (record.type !== "checkpoint") return;
    const { index, records, final } = record.statement;
    this.entries.push({ index, timeUs: record.time, records, final });
  }

  /** Records that passed every check so far; the next one read is record `records`. */
  get records(): number {
    return this.count;
  }

  /** The last checkpoint verified so far, or null: everything before it is verified. */
  get lastCheckpoint(): CheckpointRef | null {
    const last = this.entries.at(-1);
    return last === undefined
      ? null
      : { index: last.index, timeUs: last.timeUs, records: last.records };
  }

  /** Every checkpoint, in trail order. */
  checkpoints(): readonly CheckpointEntry[] {
    return this.entries;
  }

  /** The verdict once the records are exhausted: how the trail ended, as the reader saw it. */
  verdict(end: TrailEnd): IntegrityVerdict {
    const checkpoints = this.entries.length;
    if (end.state === "complete") {
      const final = { index: end.final.statement.index, timeUs: end.final.time };
      return { state: "complete", records: end.records, checkpoints, final };
    }
    const last = end.lastCheckpoint;
    return {
      state: "truncated",
      records: end.records,
      checkpoints,
      lastCheckpoint:
        last === null
          ? null
          : { index: last.statement.index, timeUs: last.time, records: last.statement.records },
      uncoveredFrames: end.uncoveredFrames,
      reason: end.reason,
    };
  }

  /** The verdict when record `record` (-1 = the header) failed a check with `error`. */
  tampered(record: number, error: TrailsealError): IntegrityVerdict {
    return {
      state: "tampered",
      records: this.count,
      checkpoints: this.entries.length,
      lastCheckpoint: this.lastCheckpoint,
      firstBadRecord: record,
      error: { code: error.code, message: error.message },
    };
  }
}

/**
 * The verdict on a trail whose header could not be read: a file cut inside its header is
 * truncated (a recorder killed at once), anything else is a tampered header.
 */
export function unreadableHeader(error: TrailsealError): IntegrityVerdict {
  const counts = { records: 0, checkpoints: 0, lastCheckpoint: null };
  return error.code === "TRUNCATED"
    ? { ...counts, state: "truncated", uncoveredFrames: 0, reason: error.message }
    : {
        ...counts,
        state: "tampered",
        firstBadRecord: -1,
        error: { code: error.code, message: error.message },
      };
}
