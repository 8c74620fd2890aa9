/**
 * asciicast importer, versions 2 and 3 (https://docs.asciinema.org/manual/asciicast/v2/,
 * https://docs.asciinema.org/manual/asciicast/v3/), read line by line with bounded memory.
 *
 * - v2: header `width`/`height`; events `[time, code, data]` with ABSOLUTE times, which must not
 *   go backwards.
 * - v3: header `term: {cols, rows, type, …}`; events `[interval, code, data]` with intervals
 *   RELATIVE to the previous event; lines starting with `#` are comments.
 *
 * Codes: `o` output, `i` input, `r` resize ("COLSxROWS"), `m` marker, `x` exit status (v3;
 * accepted in v2 too). Times are kept as integer microseconds (asciinema writes six decimals).
 * Unknown codes are refused rather than dropped: an audit importer must not lose data quietly.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { micros } from "../events.js";
import { formatError, readLines, type Line, type Recording } from "./stream.js";

export type { Recording } from "./stream.js";

const encoder = new TextEncoder();

/** Header fields modelled by SessionMetadata (everything else goes to `extra`). */
const V2_KNOWN = new Set(["version", "width", "height", "timestamp", "command", "title", "env"]);
const V3_KNOWN = new Set(["version", "term", "timestamp", "command", "title", "env"]);

// Line 1 may start with a BOM (stripped); later lines are taken as they are.
const firstLineDecoder = new TextDecoder("utf-8", { fatal: true });
const lineDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeLine(line: Line, source: string): string {
  try {
    return (line.number === 1 ? firstLineDecoder : lineDecoder).decode(line.bytes);
  } catch (e) {
    throw formatError(source, line.number, "not valid UTF-8", e);
  }
}

function parseJson(line: Line, source: string): unknown {
  const text = decodeLine(line, source);
  try {
    return JSON.parse(text);
  } catch (e) {
    // No `cause`: the SyntaxError quotes the line, and an "i" line holds typed keystrokes.
    if (!line.terminated)
      throw formatError(source, line.number, "truncated last line (no newline, incomplete JSON)");
    throw formatError(source, line.number, `invalid JSON: ${jsonProblem(e)}`);
  }
}

/**
 * What is wrong with a line, without the line: V8 quotes the text it failed on ("Unexpected
 * token 'H', ..."1.5, "i", Hunter2"... is not valid JSON"), which would put keystrokes, typed
 * passwords among them, on stderr and in logs.
 */
function jsonProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : "";
  // The other messages name only the grammar and a position ("Expected ',' or ']' after array
  // element in JSON at position 28").
  return message.endsWith("is not valid JSON") ? "unexpected token" : message;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

function dimension(v: unknown, name: string, source: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw formatError(source, 1, `header ${name} must be an integer 0..65535`);
  }
  return v;
}

function stringEnv(v: unknown, source: string): Record<string, string> {
  if (!isObject(v)) throw formatError(source, 1, "header env must be an object");
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    // asciinema writes null for variables that were unset; keep only strings.
    if (typeof val === "string") env[k] = val;
    else if (val !== null) throw formatError(source, 1, `header env.${k} must be a string`);
  }
  return env;
}

function parseHeader(
  header: unknown,
  source: string,
): { version: 2 | 3; metadata: SessionMetadata } {
  if (!isObject(header)) throw formatError(source, 1, "the header must be a JSON object");
  const version = header["version"];
  if (version !== 2 && version !== 3) {
    throw formatError(
      source,
      1,
      `unsupported asciicast version ${JSON.stringify(version) ?? "(missing)"}; expected 2 or 3`,
    );
  }
  const metadata: SessionMetadata = { source: `asciicast-v${version}` };
  const extra: Record<string, unknown> = {};
  if (version === 2) {
    metadata.cols = dimension(header["width"], "width", source);
    metadata.rows = dimension(header["height"], "height", source);
  } else {
    const term = header["term"];
    if (!isObject(term)) throw formatError(source, 1, "v3 header must have a term object");
    metadata.cols = dimension(term["cols"], "term.cols", source);
    metadata.rows = dimension(term["rows"], "term.rows", source);
    const rest = Object.fromEntries(
      Object.entries(term).filter(([k]) => k !== "cols" && k !== "rows"),
    );
    if (Object.keys(rest).length > 0) extra["term"] = rest;
  }
  const timestamp = header["timestamp"];
  if (timestamp !== undefined && timestamp !== null) {
    if (typeof timestamp !== "number" || !Number.isFinite(timestamp))
      throw formatError(source, 1, "header timestamp must be a number");
    metadata.startTime = timestamp;
  }
  for (const key of ["command", "title"] as const) {
    const v = header[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw formatError(source, 1, `header ${key} must be a string`);
    metadata[key] = v;
  }
  if (header["env"] !== undefined && header["env"] !== null) {
    metadata.env = stringEnv(header["env"], source);
    // asciinema records only SHELL and TERM unless told (`--env USER,HOSTNAME`); use them if there.
    const user = metadata.env["USER"] ?? metadata.env["LOGNAME"];
    if (user !== undefined) metadata.user = user;
    if (metadata.env["HOSTNAME"] !== undefined) metadata.host = metadata.env["HOSTNAME"];
  }
  const known = version === 2 ? V2_KNOWN : V3_KNOWN;
  for (const [k, v] of Object.entries(header)) if (!known.has(k)) extra[k] = v;
  if (Object.keys(extra).length > 0) metadata.extra = extra;
  return { version, metadata };
}

const RESIZE = /^(\d{1,5})x(\d{1,5})$/;

function parseEvent(
  value: unknown,
  line: Line,
  source: string,
): { t: number; code: string; data: string | number } {
  if (!Array.isArray(value) || value.length !== 3)
    throw formatError(source, line.number, "an event must be a 3-element JSON array");
  const [t, code, data] = value as [unknown, unknown, unknown];
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0)
    throw formatError(source, line.number, "event time must be a non-negative number");
  if (typeof code !== "string")
    throw formatError(source, line.number, "event code must be a string");
  if (typeof data !== "string" && !(code === "x" && typeof data === "number")) {
    throw formatError(source, line.number, `event data of "${code}" must be a string`);
  }
  return { t, code, data };
}

function toEvent(
  time: number,
  code: string,
  data: string | number,
  line: Line,
  source: string,
): SessionEvent {
  switch (code) {
    case "o":
      return { type: "output", time, data: encoder.encode(data as string) };
    case "i":
      return { type: "input", time, data: encoder.encode(data as string) };
    case "r": {
      const m = RESIZE.exec(data as string);
      const cols = m === null ? NaN : Number(m[1]);
      const rows = m === null ? NaN : Number(m[2]);
      if (!(cols <= 65535 && rows <= 65535))
        throw formatError(source, line.number, `bad resize "${String(data)}"; expected COLSxROWS`);
      return { type: "resize", time, cols, rows };
    }
    case "m":
      return { type: "marker", time, label: data as string };
    case "x": {
      const status =
        typeof data === "number" ? data : /^-?\d{1,10}$/.test(data) ? Number(data) : NaN;
      if (!Number.isInteger(status))
        throw formatError(source, line.number, `bad exit status "${String(data)}"`);
      return { type: "exit", time, status };
    }
    default:
      throw formatError(source, line.number, `unknown event code "${code}"`);
  }
}

/**
 * Reads an asciicast v2 or v3 recording. Resolves once the header line is read; the events
 * are parsed as they are iterated, and a malformed line throws FORMAT_INVALID naming
 * `options.source` and the line number.
 *
 * @example
 *   const rec = await readAsciicast(fs.createReadStream("session.cast"), { source: "session.cast" });
 *   for await (const ev of rec.events) if (ev.type === "output") process.stdout.write(ev.data);
 */
export async function readAsciicast(
  input: AsyncIterable<Uint8Array>,
  options: { source?: string } = {},
): Promise<Recording> {
  const source = options.source ?? "asciicast input";
  const lines = readLines(input, source);
  const first = await lines.next();
  if (first.done === true)
    throw formatError(source, undefined, "empty input; expected an asciicast header line");
  const { version, metadata } = parseHeader(parseJson(first.value, source), source);

  async function* events(): AsyncGenerator<SessionEvent> {
    let time = 0;
    for (;;) {
      const r = await lines.next();
      if (r.done === true) return;
      const line = r.value;
      if (isBlank(line.bytes)) continue;
      if (version === 3 && line.bytes[0] === 0x23 /* # */) continue;
      const { t, code, data } = parseEvent(parseJson(line, source), line, source);
      const us = micros(t);
      if (version === 2) {
        if (us < time)
          throw formatError(
            source,
            line.number,
            `event time ${t} goes back before the previous event`,
          );
        time = us;
      } else {
        time += us;
      }
      yield toEvent(time, code, data, line, source);
    }
  }
  return { metadata, events: events() };
}
