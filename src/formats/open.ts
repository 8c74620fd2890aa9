/**
 * One entry point for `seal`: detect the format of a stream (or take the one given) and import it.
 */
import { TrailsealError } from "../errors.js";
import { readAsciicast } from "./asciicast.js";
import { DETECT_BYTES, detectFormat, type RecordingFormat } from "./detect.js";
import { readRaw } from "./raw.js";
import { readScript } from "./script.js";
import type { Recording } from "./stream.js";

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

export interface OpenOptions {
  /** The format; detected from the first bytes when absent. */
  format?: RecordingFormat;
  /** The timing file, required for `script` (advanced or classic, told apart by its first byte). */
  timing?: AsyncIterable<Uint8Array>;
  /** Names for error messages. */
  source?: string;
  timingSource?: string;
}

/**
 * Imports a recording of any supported format.
 *
 * @example
 *   const rec = await openRecording(createReadStream("s.log"), { timing: createReadStream("s.tm"), source: "s.log" });
 */
export async function openRecording(
  input: AsyncIterable<Uint8Array>,
  options: OpenOptions = {},
): Promise<Recording & { format: RecordingFormat }> {
  let format = options.format;
  let data = input;
  if (format === undefined) {
    const p = await peek(input);
    data = p.input;
    format = detectFormat(p.head);
  }
  const source = options.source === undefined ? {} : { source: options.source };
  switch (format) {
    case "asciicast":
      return { format, ...(await readAsciicast(data, source)) };
    case "script": {
      if (options.timing === undefined) {
        throw new TrailsealError(
          "USAGE",
          `${options.source ?? "input"} is a util-linux script log; its timing file is needed`,
          {
            hint: "pass the file written by --log-timing (or script -t) with --timing FILE",
          },
        );
      }
      const timingSource =
        options.timingSource === undefined ? {} : { timingSource: options.timingSource };
      return {
        format,
        ...(await readScript(data, options.timing, { ...source, ...timingSource })),
      };
    }
    case "raw":
      return { format, ...readRaw(data, source) };
  }
}
