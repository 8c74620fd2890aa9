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
import { isUtf8 } from "node:buffer";
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

// ---- the common event line, read from its bytes

/** 10^k, exact as doubles for k <= 22. */
const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** Output bytes handed out as views of one block, so an event costs no allocation of its own. */
const SLAB_BYTES = 64 * 1024;

/**
 * Reads the line asciinema writes for nearly every event, `[1.234567, "o", "text"]` (or `"i"`),
 * straight from its bytes into the event's UTF-8 bytes: no string for the line, none for the
 * text, no second encoding. It takes only that exact shape, and returns undefined for anything
 * else (another code, an exponent, more than 15 digits, a lone surrogate, any fault at all): the
 * caller then reads the line on the general path (`readEventGeneral`), so what this reader
 * accepts gives the same event, and what it passes on gives the same error.
 */
export class CommonEventReader {
  private slab = new Uint8Array(0);
  private used = 0;
  /** Where the last string read ended (after its closing quote). */
  private end = 0;

  read(b: Uint8Array): EventFields | undefined {
    let i = space(b, 0);
    if (b[i] !== 0x5b /* [ */) return undefined;
    i = space(b, i + 1);
    // Digits, then optionally a dot and digits (RFC 8259 section 6; no sign, no exponent). With
    // at most 15 digits the integer m and 10^k are exact doubles, and so m / 10^k is the
    // correctly rounded value of the decimal, the one JSON.parse gives.
    const start = i;
    let m = 0;
    for (let c = b[i] ?? -1; c >= 0x30 && c <= 0x39; c = b[++i] ?? -1) m = m * 10 + (c - 0x30);
    const whole = i - start;
    if (whole === 0 || (whole > 1 && b[start] === 0x30)) return undefined;
    let k = 0;
    if (b[i] === 0x2e /* . */) {
      for (let c = b[++i] ?? -1; c >= 0x30 && c <= 0x39; c = b[++i] ?? -1, k++)
        m = m * 10 + (c - 0x30);
      if (k === 0) return undefined;
    }
    if (whole + k > 15) return undefined;
    const t = m / POW10[k]!;
    i = space(b, i);
    if (b[i] !== 0x2c /* , */) return undefined;
    i = space(b, i + 1);
    const code = b[i + 1];
    if (b[i] !== 0x22 || b[i + 2] !== 0x22 || (code !== 0x6f /* o */ && code !== 0x69) /* i */)
      return undefined;
    i = space(b, i + 3);
    if (b[i] !== 0x2c) return undefined;
    i = space(b, i + 1);
    if (b[i] !== 0x22 || !isUtf8(b)) return undefined;
    const data = this.string(b, i + 1);
    if (data === undefined) return undefined;
    i = space(b, this.end);
    if (b[i] !== 0x5d /* ] */ || space(b, i + 1) !== b.length) return undefined;
    this.used += data.byteLength;
    return { t, code: code === 0x6f ? "o" : "i", data };
  }

  /**
   * The UTF-8 bytes of the JSON string starting at `i` (after its opening quote), written
   * into the slab (not yet taken: `read` takes them once the whole line is read). The line is
   * valid UTF-8, so its bytes are copied as they are; escapes give their character's bytes.
   */
  private string(b: Uint8Array, i: number): Uint8Array | undefined {
    // The text is never longer than the rest of the line: an escape is longer than its bytes.
    if (this.slab.byteLength - this.used < b.length - i) {
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, b.length - i));
      this.used = 0;
    }
    const out = this.slab;
    const from = this.used;
    const n = b.length;
    let o = from;
    for (;;) {
      // The run of bytes that stand for themselves: anything but a control byte, a quote and a backslash.
      let c = b[i] ?? -1;
      while (c > 0x5c || (c >= 0x20 && c !== 0x22 && c !== 0x5c)) {
        out[o++] = c;
        c = b[++i] ?? -1;
      }
      i++;
      if (c === 0x22) break;
      if (c !== 0x5c || i >= n) return undefined;
      const e = b[i++]!;
      const single = SINGLE_ESCAPES[e]!;
      if (single >= 0) {
        out[o++] = single;
        continue;
      }
      if (e !== 0x75 /* u */) return undefined;
      let u = hex4(b, i);
      i += 4;
      if (u < 0) return undefined;
      if (u >= 0xd800 && u <= 0xdfff) {
        // Only a whole pair: a lone surrogate becomes U+FFFD on the general path's encoding.
        const low = b[i] === 0x5c && b[i + 1] === 0x75 ? hex4(b, i + 2) : -1;
        if (u > 0xdbff || low < 0xdc00 || low > 0xdfff) return undefined;
        u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
        i += 6;
      }
      o = putUtf8(out, o, u);
    }
    this.end = i;
    return new Uint8Array(out.buffer, out.byteOffset + from, o - from);
  }
}

/** The one-byte escapes of RFC 8259 section 7, by the letter after the backslash (-1: none). */
const SINGLE_ESCAPES = new Int16Array(256).fill(-1);
for (const [letter, byte] of [
  ['"', 0x22],
  ["\\", 0x5c],
  ["/", 0x2f],
  ["b", 0x08],
  ["f", 0x0c],
  ["n", 0x0a],
  ["r", 0x0d],
  ["t", 0x09],
] as const)
  SINGLE_ESCAPES[letter.charCodeAt(0)] = byte;

/** Skips JSON whitespace (space, tab, CR, LF). */
function space(b: Uint8Array, i: number): number {
  for (let c = b[i]; c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a; c = b[++i]);
  return i;
}

/** Four hex digits at `i` as a number, or -1. */
function hex4(b: Uint8Array, i: number): number {
  let v = 0;
  for (let n = 0; n < 4; n++) {
    const c = b[i + n] ?? -1;
    const d =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x41 && c <= 0x46
          ? c - 0x37
          : c >= 0x61 && c <= 0x66
            ? c - 0x57
            : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Writes code point `u` as UTF-8 at `o`; returns the new offset. */
function putUtf8(out: Uint8Array, o: number, u: number): number {
  if (u < 0x80) {
    out[o++] = u;
  } else if (u < 0x800) {
    out[o++] = 0xc0 | (u >> 6);
    out[o++] = 0x80 | (u & 0x3f);
  } else if (u < 0x10000) {
    out[o++] = 0xe0 | (u >> 12);
    out[o++] = 0x80 | ((u >> 6) & 0x3f);
    out[o++] = 0x80 | (u & 0x3f);
  } else {
    out[o++] = 0xf0 | (u >> 18);
    out[o++] = 0x80 | ((u >> 12) & 0x3f);
    out[o++] = 0x80 | ((u >> 6) & 0x3f);
    out[o++] = 0x80 | (u & 0x3f);
  }
  return o;
}

/** An event line's three fields; `data` is already bytes when the common-line reader read it. */
interface EventFields {
  t: number;
  code: string;
  data: string | number | Uint8Array;
}

/** The general path for an event line: JSON.parse, then the checks of the fields. */
export function readEventGeneral(line: Line, source: string): EventFields {
  return parseEvent(parseJson(line, source), line, source);
}

function textBytes(data: EventFields["data"]): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : (data as Uint8Array);
}

export function toEvent(
  time: number,
  code: string,
  data: EventFields["data"],
  line: Line,
  source: string,
): SessionEvent {
  switch (code) {
    case "o":
      return { type: "output", time, data: textBytes(data) };
    case "i":
      return { type: "input", time, data: textBytes(data) };
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
        typeof data === "number" ? data : /^-?\d{1,10}$/.test(data as string) ? Number(data) : NaN;
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
    const common = new CommonEventReader();
    let time = 0;
    for (;;) {
      const r = await lines.next();
      if (r.done === true) return;
      const line = r.value;
      if (isBlank(line.bytes)) continue;
      if (version === 3 && line.bytes[0] === 0x23 /* # */) continue;
      const { t, code, data } = common.read(line.bytes) ?? readEventGeneral(line, source);
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
