/**
 * Streaming helpers shared by the importers: a line splitter and a look-ahead over
 * `AsyncIterable<Uint8Array>` (exact-length reads are bytes.ts's ByteSource). Memory
 * stays bounded by the longest line (capped), never by the input size, and nothing depends on
 * how the input is chunked.
 */
import { concat } from "../bytes.js";
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
export const MAX_LINE = 16 * 1024 * 1024;

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
      // A plain Uint8Array view: a Buffer's subarray is a Buffer, slower to make per line.
      const piece = new Uint8Array(chunk.buffer, chunk.byteOffset + start, nl - start);
      if (pendingLength + piece.byteLength > maxLine)
        throw formatError(source, number + 1, `line longer than ${maxLine} bytes`);
      // A view of the chunk when the line lies in one (as ByteSource reads: producers never
      // reuse a chunk they have yielded), so a line costs no copy and no allocation.
      const bytes = pendingLength === 0 ? piece : concat(...pending, piece);
      pending = [];
      pendingLength = 0;
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
  if (pendingLength > 0) yield { number: number + 1, bytes: concat(...pending), terminated: false };
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
  const head = concat(...seen).subarray(0, n);
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
