/**
 * Replay in one pass: the trail is verified (src/verify.ts `Verification`) and decrypted as it is
 * read, and its events are handed out only as far as the caller's promise allows:
 *
 * - `holdBack: true` (a terminal, a pipe): frames wait in a FrameSpool until a checkpoint that
 *   `release` accepts covers them; only then are they decrypted and their events given. What no
 *   checkpoint covers stays held (`rest()` gives it to a caller who asks for it).
 * - `holdBack: false` (a file written aside and published only if the trail verifies): each
 *   frame is decrypted and its events given at once.
 *
 * A frame that fails to decrypt or decode stops the events but not the verification, so a fault
 * the verification finds anywhere in the trail still leads, as when verification came first; the
 * frame's error is `decodeFault`.
 */
import { isTrailsealError, type TrailsealError } from "../errors.js";
import type { SessionEvent } from "../events.js";
import type { EventDecoder, FrameBytes } from "../trail/open.js";
import type { TrailReader } from "../trail/reader.js";
import { Verification, type VerifiedPrefix, type VerifyOptions } from "../verify.js";
import { FrameSpool } from "../trail/spool.js";

export interface VerifiedReplayOptions {
  /** Hold frames back until a checkpoint covers them (see above). */
  readonly holdBack: boolean;
  /** Whether a verified checkpoint releases what it covers (e.g. only when validly signed). */
  readonly release: (progress: VerifiedPrefix) => boolean;
  /** Where held frames go beyond the memory bound (tests give a small one). */
  readonly spool?: FrameSpool;
}

export class VerifiedReplay {
  private decodeFailure: TrailsealError | null = null;
  private released = false;

  private constructor(
    readonly verification: Verification,
    private readonly decoder: EventDecoder | null,
    private readonly holdBack: boolean,
    private readonly spool: FrameSpool,
  ) {}

  /**
   * Starts on an opened reader. `decoder` null: no key opens the screen, and the trail is only
   * verified (no events). `verify.onVerified` is this replay's own.
   */
  static async start(
    reader: TrailReader,
    verify: Omit<VerifyOptions, "onVerified">,
    decoder: EventDecoder | null,
    options: VerifiedReplayOptions,
  ): Promise<VerifiedReplay> {
    let replay: VerifiedReplay | null = null;
    const onVerified = (p: VerifiedPrefix): void => {
      if (replay !== null && options.release(p)) replay.released = true;
    };
    const verification = await Verification.start(reader, { ...verify, onVerified }, false);
    const spool = options.spool ?? new FrameSpool();
    replay = new VerifiedReplay(verification, decoder, options.holdBack, spool);
    return replay;
  }

  /** The error of the first frame that could not be decrypted or decoded, if any. */
  get decodeFault(): TrailsealError | null {
    return this.decodeFailure;
  }

  /** Frames held at the end: those no releasing checkpoint covers. */
  get held(): number {
    return this.spool.size;
  }

  /** The events the promise allows, as the trail is read and verified to its end. */
  async *events(): AsyncGenerator<SessionEvent> {
    for await (const record of this.verification.records()) {
      if (this.decoder === null || this.decodeFailure !== null) continue;
      if (record.type === "frame") {
        if (this.holdBack) await this.spool.add(record);
        else yield* this.decode(record);
      }
      if (this.released) {
        this.released = false;
        yield* this.rest();
      }
    }
  }

  /** The events of the frames held now, in order (the uncovered tail, at the end). */
  async *rest(): AsyncGenerator<SessionEvent> {
    for await (const frame of this.spool.drain()) {
      if (this.decodeFailure !== null) continue;
      yield* this.decode(frame);
    }
  }

  /** Drops what is still held and removes the spool's temporary file. */
  async close(): Promise<void> {
    await this.spool.close();
  }

  private decode(frame: FrameBytes): SessionEvent[] {
    try {
      return this.decoder!.decodeFrame(frame);
    } catch (e) {
      if (!isTrailsealError(e)) throw e;
      this.decodeFailure = e;
      return [];
    }
  }
}
