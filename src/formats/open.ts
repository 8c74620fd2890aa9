/**
 * One entry point for `seal`: detect the format of a stream (or take the one given) and import it.
 */
import { TrailsealError } from "../errors.js";
import { readAsciicast } from "./asciicast.js";
import { detectFormat, type RecordingFormat } from "./detect.js";
import { readRaw } from "./raw.js";
import { readScript } from "./script.js";
import { peek, type Recording } from "./stream.js";

export { peek } from "./stream.js";

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
            hint: "give the timing file script wrote (options.timing)",
            missing: "timing-file",
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
