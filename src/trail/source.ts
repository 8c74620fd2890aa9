/**
 * Exact-length reads from a stream of chunks, holding only what is asked for: the trail reader
 * pulls one record at a time, and the script importer one timing step at a time (as scriptreplay
 * reads its data log), so memory stays bounded whatever the input's size. The one byte reader:
 * reads that lie within one chunk are views of it, not copies, so the producer must not reuse a
 * chunk's memory once it has yielded it (Node's streams never do).
 */
import { concat } from "../bytes.js";

export class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private done = false;
  /** Bytes consumed so far (the offset of the next read in the file). */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done === true) {
        this.done = true;
        break;
      }
      const chunk = next.value;
      if (chunk.byteLength === 0) continue;
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
  }

  /**
   * Reads exactly n bytes, or fewer when the stream ends first. Bytes that lie within one chunk
   * come back as a view of it (no copy): the hot path for records inside large file chunks.
   */
  async read(n: number): Promise<Uint8Array> {
    await this.fill(n);
    const take = Math.min(n, this.buffered);
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength >= take) {
      // A plain Uint8Array view (not a Buffer, whatever the stream yields).
      const view = new Uint8Array(first.buffer, first.byteOffset, take);
      if (first.byteLength === take) this.chunks.shift();
      else this.chunks[0] = first.subarray(take);
      this.buffered -= take;
      this.offset += take;
      return view;
    }
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const head = this.chunks[0]!;
      const need = take - filled;
      if (head.byteLength <= need) {
        out.set(head, filled);
        filled += head.byteLength;
        this.chunks.shift();
      } else {
        out.set(head.subarray(0, need), filled);
        this.chunks[0] = head.subarray(need);
        filled += need;
      }
    }
    this.buffered -= take;
    this.offset += take;
    return out;
  }

  /**
   * Skips through the next `\n` (inclusive) and returns the bytes before it, or null at the end.
   * A line longer than `maxLine` keeps only its first pieces that fit; the rest is skipped.
   */
  async skipLine(maxLine: number): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let length = 0;
    let sawAny = false;
    while (!(await this.atEnd())) {
      sawAny = true;
      const head = this.chunks[0]!;
      const nl = head.indexOf(0x0a);
      const end = nl < 0 ? head.byteLength : nl;
      const line = await this.read(end);
      if (length + end <= maxLine) {
        parts.push(line);
        length += end;
      }
      if (nl >= 0) {
        await this.read(1);
        break;
      }
    }
    return sawAny ? concat(...parts) : null;
  }

  /**
   * Yields exactly `n` bytes in pieces of `maxPiece` bytes (the last one shorter), and sets
   * `missing.count` to the bytes missing when the input ends first (0 when all were read).
   */
  async *take(n: number, maxPiece: number, missing: { count: number }): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      const want = Math.min(left, maxPiece);
      const piece = await this.read(want);
      if (piece.byteLength > 0) yield piece;
      left -= piece.byteLength;
      if (piece.byteLength < want) break;
    }
    missing.count = left;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    await this.fill(1);
    return this.buffered === 0;
  }

  /** Stops reading the underlying stream. */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}
