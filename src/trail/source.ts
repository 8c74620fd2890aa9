/**
 * Exact-length reads from a stream of chunks, holding only what is asked for: the trail reader
 * pulls one record at a time, so memory stays bounded whatever the trail's size.
 */
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
