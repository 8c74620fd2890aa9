/**
 * asciicast writers: v2 (asciinema 2.x, `asciinema play`/`cat`) and v3 (asciinema 3).
 *
 * asciicast carries terminal data as JSON strings, so it can only hold valid UTF-8. A multibyte
 * character split across two output events is carried over to the next event of the same
 * channel (as asciinema's own recorder does with an incremental decoder), so it arrives whole;
 * bytes that are not UTF-8 at all become U+FFFD. An event whose bytes are all carried over is
 * not written. For byte-exact output use `writeRaw` or `writeJsonl`.
 *
 * v2 has no exit event: `exit` is dropped in v2 and written as `x` in v3.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { formatSeconds } from "../events.js";

export type Sink = (chunk: Uint8Array) => Promise<void> | void;

const encoder = new TextEncoder();

/** Metadata keys that are header fields of their own (never copied from `extra`). */
const RESERVED = new Set([
  "version",
  "width",
  "height",
  "term",
  "timestamp",
  "command",
  "title",
  "env",
]);

/**
 * The terminal theme ({fg, bg, palette}) is a top-level `theme` in v2 and `term.theme` in v3;
 * it is kept in `extra` as the source had it and moved to where the written version wants it.
 */
function themeOf(metadata: SessionMetadata): unknown {
  const extraTerm = metadata.extra?.["term"];
  const nested =
    typeof extraTerm === "object" && extraTerm !== null
      ? (extraTerm as Record<string, unknown>)["theme"]
      : undefined;
  return metadata.extra?.["theme"] ?? nested;
}

function commonHeader(metadata: SessionMetadata): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  if (metadata.startTime !== undefined) h["timestamp"] = Math.floor(metadata.startTime);
  if (metadata.command !== undefined) h["command"] = metadata.command;
  if (metadata.title !== undefined) h["title"] = metadata.title;
  if (metadata.env !== undefined) h["env"] = metadata.env;
  for (const [k, v] of Object.entries(metadata.extra ?? {}))
    if (!RESERVED.has(k) && k !== "theme" && v !== undefined) h[k] = v;
  return h;
}

/** The v2 header line (without newline). */
function headerV2(metadata: SessionMetadata): string {
  return JSON.stringify({
    version: 2,
    width: metadata.cols ?? 80,
    height: metadata.rows ?? 24,
    ...commonHeader(metadata),
    theme: themeOf(metadata), // left out by JSON.stringify when undefined
  });
}

/** The v3 header line (without newline). */
function headerV3(metadata: SessionMetadata): string {
  const extraTerm = metadata.extra?.["term"];
  const term: Record<string, unknown> = { cols: metadata.cols ?? 80, rows: metadata.rows ?? 24 };
  if (typeof extraTerm === "object" && extraTerm !== null) {
    for (const [k, v] of Object.entries(extraTerm)) if (k !== "cols" && k !== "rows") term[k] = v;
  }
  if (term["type"] === undefined && metadata.env?.["TERM"] !== undefined)
    term["type"] = metadata.env["TERM"];
  const theme = themeOf(metadata);
  if (theme !== undefined) term["theme"] = theme;
  return JSON.stringify({ version: 3, term, ...commonHeader(metadata) });
}

/** Turns events into asciicast [time, code, data] triples with UTF-8 carry-over per channel. */
async function* triples(
  events: AsyncIterable<SessionEvent>,
  withExit: boolean,
): AsyncGenerator<[number, string, string]> {
  const decoders = {
    output: new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }),
    input: new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }),
  };
  let last = 0;
  for await (const ev of events) {
    last = Math.max(last, ev.time);
    switch (ev.type) {
      case "output":
      case "input": {
        const text = decoders[ev.type].decode(ev.data, { stream: true });
        if (text.length > 0) yield [ev.time, ev.type === "output" ? "o" : "i", text];
        break;
      }
      case "resize":
        yield [ev.time, "r", `${ev.cols}x${ev.rows}`];
        break;
      case "marker":
        yield [ev.time, "m", ev.label];
        break;
      case "exit":
        if (withExit) yield [ev.time, "x", String(ev.status)];
        break;
    }
  }
  // A sequence still incomplete at the end can never complete: flush it as U+FFFD.
  const out = decoders.output.decode();
  if (out.length > 0) yield [last, "o", out];
  const inp = decoders.input.decode();
  if (inp.length > 0) yield [last, "i", inp];
}

function eventLine(t: string, code: string, data: string): Uint8Array {
  return encoder.encode(`[${t}, ${JSON.stringify(code)}, ${JSON.stringify(data)}]\n`);
}

/** What the two versions write differently: the header, the exit event, an event's time. */
interface Version {
  readonly header: (metadata: SessionMetadata) => string;
  readonly withExit: boolean;
  /** The time written for an event at `time` µs, `previous` the latest time before it. */
  readonly time: (time: number, previous: number) => number;
}

/** A writer of one version: the header line, then an event line per triple. */
function writer(
  version: Version,
): (metadata: SessionMetadata, events: AsyncIterable<SessionEvent>, out: Sink) => Promise<void> {
  return async (metadata, events, out) => {
    await out(encoder.encode(version.header(metadata) + "\n"));
    let previous = 0;
    for await (const [time, code, data] of triples(events, version.withExit)) {
      const written = version.time(time, previous);
      previous = Math.max(previous, time);
      await out(eventLine(formatSeconds(written), code, data));
    }
  };
}

/**
 * Writes asciicast v2: absolute times in seconds with six decimals.
 *
 * @example
 *   await writeAsciicastV2(rec.metadata, rec.events, (c) => { process.stdout.write(c); });
 */
export const writeAsciicastV2 = writer({
  header: headerV2,
  withExit: false,
  // v2 readers expect non-decreasing times.
  time: (time, previous) => Math.max(previous, time),
});

/** Writes asciicast v3: intervals relative to the previous written event. */
export const writeAsciicastV3 = writer({
  header: headerV3,
  withExit: true,
  time: (time, previous) => Math.max(0, time - previous),
});
