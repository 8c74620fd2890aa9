/**
 * Small byte helpers, and the one byte reader (ByteSource). Bytes are `Uint8Array` everywhere;
 * this is the one place that converts.
 */

/** Largest read: large trails stream in chunks of this size. */
const MAX_READ = 1 << 20;

/**
 * The read size for a file of `size` bytes: a small trail in one read of its own size (+1 so
 * that the read that finds the end is the second and last), never a fixed 1 MiB buffer per
 * file: with thousands of small trails those buffers alone kept the garbage collector busy.
 */
export function readSize(size: number): number {
  return Math.min(MAX_READ, Math.max(size + 1, 16 * 1024));
}

/** A fresh ArrayBuffer holding exactly `bytes` (WebCrypto and pkijs want ArrayBuffer). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

/** A Uint8Array view of an ArrayBuffer, a view or a Node Buffer (never copies a Uint8Array). */
export function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromBase64(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

const encoder = new TextEncoder();
// Without { stream: true } a decode keeps no state between calls, so one decoder serves all.
const decoder = new TextDecoder("utf-8", { fatal: false });

export const utf8 = {
  encode: (s: string): Uint8Array => encoder.encode(s),
  decode: (b: Uint8Array): string => decoder.decode(b),
};

/**
 * Exact-length reads from a stream of chunks, holding only what is asked for: the trail reader
 * pulls one record at a time, and the script importer one timing step at a time (as scriptreplay
 * reads its data log), so memory stays bounded whatever the input's size. The one byte reader:
 * reads that lie within one chunk are views of it, not copies, so the producer must not reuse a
 * chunk's memory once it has yielded it (Node's streams never do).
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

/** Bytes a producer goes on making ahead of a sink that has not yet taken them, at most. */
const QUEUE_BYTES = 1024 * 1024;

/**
 * A producer's end of its sink (the trail writer's output, replay's): chunks go to the sink in
 * order, one call at a time, while the producer makes the next ones, so a file write overlaps the
 * sealing or decryption instead of stalling it. The producer waits when more than QUEUE_BYTES are
 * queued (a slow sink still slows it, and memory stays bounded), and a sink's failure is thrown
 * at the producer's next step. Chunks are handed on as they are: the producer must not reuse them.
 */
export class SinkQueue {
  private waiting: Uint8Array[] = [];
  private queued = 0;
  private running: Promise<void> | null = null;
  private failure: { error: unknown } | null = null;

  constructor(private readonly sink: (chunk: Uint8Array) => Promise<void> | void) {}

  /** `push` then `ready`: a sink of its own, for writers that await each chunk. */
  readonly write = (chunk: Uint8Array): Promise<void> | undefined => {
    this.push(chunk);
    return this.ready();
  };

  push(...chunks: Uint8Array[]): void {
    this.check();
    for (const chunk of chunks) {
      this.waiting.push(chunk);
      this.queued += chunk.byteLength;
    }
    this.running ??= this.run();
  }

  /** Nothing while the queue has room; else a promise of the sink having taken everything. */
  ready(): Promise<void> | undefined {
    this.check();
    return this.queued > QUEUE_BYTES ? this.drain() : undefined;
  }

  /** Resolves when the sink has taken every chunk; throws the sink's failure. */
  async drain(): Promise<void> {
    await this.running;
    this.check();
  }

  /** Hands the waiting chunks to the sink, one call at a time, until none is left. */
  private async run(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const chunks = this.waiting;
        this.waiting = [];
        for (const chunk of chunks) {
          await this.sink(chunk);
          this.queued -= chunk.byteLength;
        }
      }
    } catch (e) {
      this.failure = { error: e };
      this.waiting = [];
    } finally {
      this.running = null;
    }
  }

  private check(): void {
    if (this.failure !== null) throw this.failure.error;
  }
}
