/**
 * Frames held back until a checkpoint covers them (one-pass replay to a terminal or a pipe,
 * src/verify/replay.ts): in memory up to a bound, the rest in a temporary file, so memory stays
 * bounded whatever the distance between checkpoints. What is spilled is the frames as the trail
 * stores them (ciphertext of an encrypted channel): they are decrypted only once released.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrailsealError } from "../errors.js";
import type { FrameRecord } from "./reader.js";
import { FLAG_CONTINUED, FLAG_LAST, RECORD_PREFIX_BYTES, decodeRecordPrefix } from "./format.js";
import { ByteSource } from "../bytes.js";
import type { FrameBytes } from "./open.js";

/** Frames held in memory before the spool spills to its temporary file. */
const SPOOL_MEMORY_BYTES = 4 * 1024 * 1024;

const CHANNELS = ["downstream", "upstream"] as const;

export class FrameSpool {
  private held: FrameRecord[] = [];
  private heldBytes = 0;
  private dir: string | null = null;
  private file: { path: string; handle: FileHandle; frames: number } | null = null;

  constructor(
    private readonly memoryBytes = SPOOL_MEMORY_BYTES,
    private readonly parent = tmpdir(),
  ) {}

  /** Frames held now. */
  get size(): number {
    return this.held.length + (this.file?.frames ?? 0);
  }

  async add(frame: FrameRecord): Promise<void> {
    if (this.file === null && this.heldBytes + frame.body.byteLength <= this.memoryBytes) {
      this.held.push(frame);
      this.heldBytes += frame.body.byteLength;
      return;
    }
    const file = this.file ?? (await this.spill());
    try {
      await file.handle.writev([frame.prefix, frame.body]);
    } catch (e) {
      throw new TrailsealError("IO", `cannot write the replay spool ${file.path}`, { cause: e });
    }
    file.frames++;
  }

  /** Every frame held, in order; the spool is empty once they are read. */
  async *drain(): AsyncGenerator<FrameBytes> {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    yield* held;
    const file = this.file;
    if (file === null) return;
    this.file = null;
    await file.handle.close();
    try {
      yield* readSpilled(file.path, file.frames);
    } finally {
      await rm(file.path, { force: true });
    }
  }

  /** Drops what is held and removes the temporary file. */
  async close(): Promise<void> {
    this.held = [];
    this.heldBytes = 0;
    await this.file?.handle.close();
    this.file = null;
    if (this.dir !== null) await rm(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  private async spill(): Promise<NonNullable<FrameSpool["file"]>> {
    this.dir ??= await mkdtemp(join(this.parent, "trailseal-replay-"));
    const path = join(this.dir, "held.frames");
    // The owner only, as the trail's own frames may be clear.
    const handle = await open(path, "wx", 0o600);
    this.file = { path, handle, frames: 0 };
    return this.file;
  }
}

/** The spilled frames back, each prefix and body as it was written. */
async function* readSpilled(path: string, frames: number): AsyncGenerator<FrameBytes> {
  const src = new ByteSource(createReadStream(path, { highWaterMark: 256 * 1024 }));
  try {
    for (let i = 0; i < frames; i++) {
      const offset = src.offset;
      const prefix = await src.read(RECORD_PREFIX_BYTES);
      const cut = () => new TrailsealError("IO", `the replay spool ${path} is cut short`);
      if (prefix.byteLength < RECORD_PREFIX_BYTES) throw cut();
      const p = decodeRecordPrefix(prefix, offset);
      const body = await src.read(p.length);
      if (body.byteLength < p.length) throw cut();
      yield {
        channel: CHANNELS[p.channel]!,
        seq: p.seq,
        time: p.time,
        last: (p.flags & FLAG_LAST) !== 0,
        continued: (p.flags & FLAG_CONTINUED) !== 0,
        prefix,
        body,
      };
    }
  } finally {
    await src.close();
  }
}
