/**
 * AES-256-GCM frames in the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
 * authenticated-encryption and its nonce-reuse misuse-resistance", 2015), and key commitment.
 *
 * Each channel has its own random 256-bit file key. Its frames are numbered 0, 1, 2, … and the
 * 96-bit nonce of frame n is the 88-bit big-endian counter n followed by one byte that is 0x01 on
 * the channel's last frame and 0x00 otherwise. Dropping, reordering or duplicating a frame, or
 * cutting the channel short, changes the nonce the reader expects, so authentication fails.
 *
 * GCM is not key-committing: a ciphertext can be made to decrypt under two keys. The trail header
 * therefore commits to each channel's key with HMAC-SHA-256(key, label ‖ channel), and a reader
 * checks an unwrapped key against it before using it, so every auditor who opens a stanza
 * provably gets the same key, hence the same plaintext.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import { concat } from "./bytes.js";
import { TrailsealError } from "./errors.js";
import type { Channel } from "./events.js";

export const FILE_KEY_BYTES = 32;
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;
/** Largest frame plaintext the writer produces; the reader refuses frames larger than this. */
export const MAX_FRAME_PLAINTEXT = 64 * 1024;
/** Most data bytes one frame carries: its plaintext is a type byte, then the data (FORMAT.md). */
export const FRAME_DATA_BYTES = MAX_FRAME_PLAINTEXT - 1;

const COMMITMENT_LABEL = "trailseal/1 key commitment ";
/** Frame counters are 88 bits; we stop far earlier (2^53 frames of 64 KiB is beyond any disk). */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The 12-byte nonce of frame `counter` (STREAM: counter ‖ last-frame flag). */
export function frameNonce(counter: number, last: boolean): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
    throw new RangeError(`frame counter out of range: ${counter}`);
  }
  const nonce = new Uint8Array(NONCE_BYTES);
  const view = new DataView(nonce.buffer);
  // bytes 0..2 stay zero (the counter's high bits), 3..10 hold the counter, 11 is the flag.
  view.setBigUint64(3, BigInt(counter));
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** The text a channel's key commitment is an HMAC of: "trailseal/1 key commitment " ‖ channel. */
export function commitmentLabel(channel: Channel): string {
  return COMMITMENT_LABEL + channel;
}

/** HMAC-SHA-256(fileKey, commitmentLabel(channel)). */
export function keyCommitment(fileKey: Uint8Array, channel: Channel): Uint8Array {
  return new Uint8Array(createHmac("sha256", fileKey).update(commitmentLabel(channel)).digest());
}

/** Checks an unwrapped key against the header's commitment; throws KEY_COMMITMENT_MISMATCH. */
export function checkKeyCommitment(
  fileKey: Uint8Array,
  channel: Channel,
  commitment: Uint8Array,
  what: string,
): void {
  const actual = keyCommitment(fileKey, channel);
  if (
    fileKey.byteLength !== FILE_KEY_BYTES ||
    actual.byteLength !== commitment.byteLength ||
    !timingSafeEqual(actual, commitment)
  ) {
    throw new TrailsealError(
      "KEY_COMMITMENT_MISMATCH",
      `${what} yields a ${channel} key that does not match the header's key commitment`,
      { hint: "the stanza was altered, swapped between channels, or belongs to another trail" },
    );
  }
}

/** Seals the frames of one channel, in order. */
export class FrameSealer {
  private counter = 0;
  private finished = false;

  constructor(private readonly fileKey: Uint8Array) {
    if (fileKey.byteLength !== FILE_KEY_BYTES) throw new RangeError("file key must be 32 bytes");
  }

  /** The index the next frame will get. */
  get next(): number {
    return this.counter;
  }

  seal(plaintext: Uint8Array, aad: Uint8Array, last: boolean): Uint8Array {
    return concat(...this.sealParts([plaintext], aad, last));
  }

  /**
   * Seals one frame whose plaintext is the concatenation of `parts`, and returns the ciphertext
   * in parts, the tag last. Nothing is copied: a 64 KiB frame costs one pass of the cipher and
   * one buffer, which is what keeps bulk sealing off the garbage collector.
   */
  sealParts(parts: readonly Uint8Array[], aad: Uint8Array, last: boolean): Uint8Array[] {
    if (this.finished) throw new Error("frame sealer used after its last frame");
    const cipher = createCipheriv("aes-256-gcm", this.fileKey, frameNonce(this.counter, last));
    cipher.setAAD(aad);
    const out: Uint8Array[] = [];
    for (const part of parts) {
      const sealed = cipher.update(part);
      if (sealed.byteLength > 0) out.push(sealed);
    }
    const tail = cipher.final();
    if (tail.byteLength > 0) out.push(tail);
    out.push(cipher.getAuthTag());
    this.counter++;
    if (last) this.finished = true;
    return out;
  }
}

/** Opens the frames of one channel, in order. */
export class FrameOpener {
  private counter = 0;

  constructor(
    private readonly fileKey: Uint8Array,
    private readonly channel: Channel,
  ) {
    if (fileKey.byteLength !== FILE_KEY_BYTES) throw new RangeError("file key must be 32 bytes");
  }

  /** Decrypts the next frame; `record` names it in errors. Throws FRAME_CORRUPT. */
  open(ciphertext: Uint8Array, aad: Uint8Array, last: boolean, record: number): Uint8Array {
    if (ciphertext.byteLength < TAG_BYTES) {
      throw new TrailsealError(
        "FRAME_CORRUPT",
        `record ${record}: ${this.channel} frame too short`,
      );
    }
    const split = ciphertext.byteLength - TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", this.fileKey, frameNonce(this.counter, last));
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(split));
    try {
      const head = decipher.update(ciphertext.subarray(0, split));
      const tail = decipher.final();
      this.counter++;
      // A view of node's buffer, not a copy: frames stream through, so fewer bytes to collect.
      const plain = tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
    } catch (e) {
      throw new TrailsealError(
        "FRAME_CORRUPT",
        `record ${record}: ${this.channel} frame ${this.counter} fails authentication`,
        {
          cause: e,
          hint: "the record was altered, dropped, reordered or taken from another trail",
        },
      );
    }
  }
}
