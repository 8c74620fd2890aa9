/**
 * Recording-format detection from the first bytes of an input, for `seal` without `--from`.
 */
export type RecordingFormat = "asciicast" | "script" | "raw";

/** Metadata plus a single-use stream of events, as every importer returns it. */
export type { Recording } from "./stream.js";

/** How many leading bytes `detectFormat` wants to see (it works with fewer). */
export const DETECT_BYTES = 4096;

const SCRIPT_HEADER = "Script started on";

/**
 * asciicast: the first line is a JSON object with `"version": 2` or `3`; script: the log
 * starts with util-linux's "Script started on" header line (both the --log-io/--log-out log
 * and the classic typescript; the timing file tells them apart); raw: anything else.
 *
 * @example
 *   detectFormat(new TextEncoder().encode('{"version": 2, "width": 80, "height": 24}\n')) // "asciicast"
 */
export function detectFormat(head: Uint8Array): RecordingFormat {
  let text = new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, DETECT_BYTES));
  if (text.startsWith(SCRIPT_HEADER)) return "script";
  text = text.trimStart();
  if (text.startsWith("{")) {
    const nl = text.indexOf("\n");
    if (nl >= 0) {
      try {
        const header: unknown = JSON.parse(text.slice(0, nl));
        if (typeof header === "object" && header !== null) {
          const v = (header as Record<string, unknown>)["version"];
          if (v === 2 || v === 3) return "asciicast";
        }
      } catch {
        // not JSON: raw bytes that happen to start with "{"
      }
      return "raw";
    }
    // The header line did not fit in `head`: judge by its start.
    if (/^\{\s*"version"\s*:\s*[23]\s*[,}]/.test(text)) return "asciicast";
  }
  return "raw";
}
