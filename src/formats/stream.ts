/**
 * Streaming helpers shared by the importers: a line splitter and an exact-length byte reader
 * over `AsyncIterable<Uint8Array>`. Both keep memory bounded by the longest line (capped) or
 * the piece size, never by the input size, and neither depends on how the input is chunked.
 */
import { TrailsealError } from "../errors.js";
import type { SessionEvent, SessionMetadata } from "../events.js";
import { DETECT_BYTES } from "./detect.js";

/** A recording as an importer yields it: metadata first, then the events, streamed once. */
export interface Recording {
  metadata: SessionMetadata;
  /** Single-use: the events are read from the input as they are iterated. */
  events: AsyncIterable<SessionEvent>;
}

/** One line without its `\n`; `terminated` is false only for a last line cut off at EOF. */
export interface Line {
  readonly number: number;
  readonly bytes: Uint8Array;
  readonly terminated: boolean;
}

/** Longest line accepted (a JSON event line of asciicast, a timing line of script). */
const MAX_LINE = 16 * 1024 * 1024;

export function formatError(
  source: string,
  line: number | undefined,
  message: string,
  cause?: unknown,
): TrailsealError {
  const where = line === undefined ? source : `${source}: line ${line}`;
  return new TrailsealError(
    "FORMAT_INVALID",
    `${where}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Splits the input into `\n`-terminated lines, numbered from 1. */
export async function* readLines(
  input: AsyncIterable<Uint8Array>,
  source: string,
  maxLine = MAX_LINE,
): AsyncGenerator<Line> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  let number = 0;
  for await (const chunk of input) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (pendingLength + piece.byteLength > maxLine)
        throw formatError(source, number + 1, `line longer than ${maxLine} bytes`);
      let bytes: Uint8Array;
      if (pendingLength === 0) {
        // Copy: the caller may keep the line after the producer reuses its chunk.
        bytes = piece.slice();
      } else {
        bytes = new Uint8Array(pendingLength + piece.byteLength);
        let offset = 0;
        for (const p of pending) {
          bytes.set(p, offset);
          offset += p.byteLength;
        }
        bytes.set(piece, offset);
        pending = [];
        pendingLength = 0;
      }
      number++;
      yield { number, bytes, terminated: true };
      start = nl + 1;
    }
    if (start < chunk.byteLength) {
      const rest = chunk.subarray(start);
      if (pendingLength + rest.byteLength > maxLine)
        throw formatError(source, number + 1, `line longer than ${maxLine} bytes`);
      pending.push(rest.slice());
      pendingLength += rest.byteLength;
    }
  }
  if (pendingLength > 0) {
    const bytes = new Uint8Array(pendingLength);
    let offset = 0;
    for (const p of pending) {
      bytes.set(p, offset);
      offset += p.byteLength;
    }
    yield { number: number + 1, bytes, terminated: false };
  }
}

/**
 * Reads a byte stream in exact amounts, as scriptreplay does with its data logs (the timing
 * file says how many bytes each step takes).
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffer: Uint8Array = new Uint8Array(0);
  private done = false;
  /** Bytes consumed so far (for error messages). */
  offset = 0;

  constructor(input: AsyncIterable<Uint8Array>) {
    this.iterator = input[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.buffer.byteLength === 0 && !this.done) {
      const r = await this.iterator.next();
      if (r.done === true) this.done = true;
      else this.buffer = r.value;
    }
    return this.buffer.byteLength > 0;
  }

  /** Skips through the first `\n` (inclusive); returns the skipped bytes without it, or null at EOF. */
  async skipLine(maxLine = MAX_LINE): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let length = 0;
    let sawAny = false;
    while (await this.fill()) {
      sawAny = true;
      const nl = this.buffer.indexOf(0x0a);
      const end = nl < 0 ? this.buffer.byteLength : nl;
      if (length + end <= maxLine) {
        parts.push(this.buffer.slice(0, end));
        length += end;
      }
      const used = nl < 0 ? end : nl + 1;
      this.buffer = this.buffer.subarray(used);
      this.offset += used;
      if (nl >= 0) break;
    }
    if (!sawAny) return null;
    const out = new Uint8Array(length);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }

  /**
   * Yields exactly `n` bytes in pieces of at most `maxPiece` bytes; returns the number of bytes
   * missing when the input ends first (0 when all were read).
   */
  async *take(n: number, maxPiece: number, missing: { count: number }): AsyncGenerator<Uint8Array> {
    let left = n;
    let piece: Uint8Array[] = [];
    let pieceLength = 0;
    const flush = (): Uint8Array => {
      const out = piece.length === 1 ? piece[0]! : new Uint8Array(pieceLength);
      if (piece.length !== 1) {
        let o = 0;
        for (const p of piece) {
          out.set(p, o);
          o += p.byteLength;
        }
      }
      piece = [];
      pieceLength = 0;
      return out;
    };
    while (left > 0 && (await this.fill())) {
      const want = Math.min(left, maxPiece - pieceLength, this.buffer.byteLength);
      piece.push(this.buffer.slice(0, want));
      pieceLength += want;
      this.buffer = this.buffer.subarray(want);
      this.offset += want;
      left -= want;
      if (pieceLength === maxPiece) yield flush();
    }
    if (pieceLength > 0) yield flush();
    missing.count = left;
  }
}

/**
 * Reads up to `n` leading bytes without losing them: returns them and an iterable that yields
 * the whole input again from the start.
 */
export async function peek(
  input: AsyncIterable<Uint8Array>,
  n = DETECT_BYTES,
): Promise<{ head: Uint8Array; input: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const r = await iterator.next();
    if (r.done === true) {
      done = true;
      break;
    }
    seen.push(r.value);
    length += r.value.byteLength;
  }
  const head = new Uint8Array(Math.min(length, n));
  let offset = 0;
  for (const c of seen) {
    if (offset >= head.byteLength) break;
    const part = c.subarray(0, head.byteLength - offset);
    head.set(part, offset);
    offset += part.byteLength;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (;;) {
      const r = await iterator.next();
      if (r.done === true) return;
      yield r.value;
    }
  }
  return { head, input: replay() };
}
