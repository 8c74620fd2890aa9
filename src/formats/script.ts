/**
 * util-linux `script` importers, following util-linux's term-utils/script-playutils.c (the
 * reader behind scriptreplay):
 *
 * - Advanced (`script --log-io LOG --log-timing TIMING`, util-linux 2.35+): the timing file
 *   has one entry per line, `<type> <delay> <rest>`, where delay is seconds.microseconds
 *   since the previous entry (of any type):
 *     `O <delay> <bytes>`  output: the next <bytes> bytes of the log
 *     `I <delay> <bytes>`  input:  the next <bytes> bytes of the log
 *     `S <delay> <NAME> <value…>` a signal, e.g. `S 0.306393 SIGWINCH ROWS=20 COLS=70`
 *     `H <delay> <NAME> <value…>` header info: START_TIME, TERM, TTY, COLUMNS, LINES, SHELL,
 *        COMMAND, TIMING_LOG, OUTPUT_LOG, INPUT_LOG, and at the end DURATION, EXIT_CODE
 *   Input and output share one log (`--log-io`), or the log holds output only (`--log-out`).
 * - Classic (`script -t 2>TIMING TYPESCRIPT`, or `--log-out` with an old-style timing): timing
 *   lines `<delay> <bytes>`, output only.
 *
 * In both, the log starts with a "Script started on …" header line that scriptreplay skips
 * (ignore_line), and may end with a "Script done on …" trailer that no timing entry covers.
 *
 * Mapping: I -> input (upstream), O -> output (downstream), SIGWINCH -> resize, EXIT_CODE ->
 * exit; other signals and trailing headers (DURATION) are not events. Times are kept to the
 * microsecond.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { ByteSource } from "../bytes.js";
import { MAX_LINE, formatError, peek, readLines, type Line, type Recording } from "./stream.js";

export type { Recording } from "./stream.js";

export interface ScriptReadOptions {
  /** Names used in error messages. */
  source?: string;
  timingSource?: string;
  /** Largest output/input event emitted; longer log steps are split (same time). */
  maxEventBytes?: number;
}

const lossy = new TextDecoder("utf-8", { fatal: false });

/** `seconds.micros` as script writes it (`%ld.%06ld`), to integer microseconds. */
function parseDelay(text: string | undefined, line: Line, source: string): number {
  const m = text === undefined ? null : /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(text);
  if (m === null)
    throw formatError(
      source,
      line.number,
      `bad delay "${text ?? ""}"; expected seconds.microseconds`,
    );
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return Number(m[1]) * 1_000_000 + Number(frac);
}

function parseSize(text: string | undefined, line: Line, source: string): number {
  if (text === undefined || !/^\d{1,15}$/.test(text))
    throw formatError(source, line.number, `bad byte count "${text ?? ""}"`);
  return Number(text);
}

/** "2026-11-23 01:03:40+00:00" (script's START_TIME and header date) to Unix seconds. */
function parseScriptDate(text: string): number | undefined {
  const iso = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})([+-]\d{2}:?\d{2}|Z)?$/.exec(text.trim());
  const ms = iso === null ? Date.parse(text) : Date.parse(`${iso[1]}T${iso[2]}${iso[3] ?? "Z"}`);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/**
 * Parses `Script started on DATE [KEY="value" … <not executed on terminal>]`; values are not
 * escaped by script, so a value ends where the next ` KEY="`, ` <` or the closing `]` begins.
 */
export function parseScriptHeaderLine(line: string): {
  startTime?: number;
  fields: Record<string, string>;
} {
  const fields: Record<string, string> = {};
  const m = /^Script started on (.*?)(?: \[(.*)\])?\s*$/.exec(line);
  if (m === null) return { fields };
  const re = /([A-Z_]+)="(.*?)"(?= [A-Z_]+="| <|$)/g;
  for (const f of (m[2] ?? "").matchAll(re)) fields[f[1]!] = f[2]!;
  const startTime = parseScriptDate(m[1] ?? "");
  return startTime === undefined ? { fields } : { startTime, fields };
}

/** Applies script's header names (H entries or header-line fields) to metadata. */
function applyHeader(
  metadata: SessionMetadata,
  extra: Record<string, unknown>,
  name: string,
  value: string,
): void {
  switch (name) {
    case "START_TIME": {
      const t = parseScriptDate(value);
      if (t !== undefined) metadata.startTime = t;
      else extra["START_TIME"] = value;
      break;
    }
    case "COLUMNS":
    case "LINES": {
      const n = Number(value);
      if (Number.isInteger(n) && n >= 0 && n <= 65535)
        metadata[name === "COLUMNS" ? "cols" : "rows"] = n;
      break;
    }
    case "TERM":
    case "SHELL":
      metadata.env = { ...metadata.env, [name]: value };
      break;
    case "COMMAND":
      metadata.command = value;
      break;
    default:
      extra[name] = value;
  }
}

function finishMetadata(
  metadata: SessionMetadata,
  extra: Record<string, unknown>,
): SessionMetadata {
  if (Object.keys(extra).length > 0) metadata.extra = extra;
  return metadata;
}

function lineText(line: Line): string {
  let text = lossy.decode(line.bytes);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  return text;
}

/** A script log and its timing file, opened: where both readers start. */
interface ScriptInput {
  readonly source: string;
  readonly timingSource: string;
  readonly maxEventBytes: number;
  readonly lines: AsyncGenerator<Line>;
  readonly log: ByteSource;
  readonly metadata: SessionMetadata;
  readonly extra: Record<string, unknown>;
}

/** Opens the timing lines and the log, and reads the log's header line. */
async function openScript(
  log: AsyncIterable<Uint8Array>,
  timing: AsyncIterable<Uint8Array>,
  options: ScriptReadOptions,
  kind: "script-advanced" | "script-classic",
): Promise<ScriptInput> {
  const source = options.source ?? (kind === "script-advanced" ? "script log" : "typescript");
  const timingSource = options.timingSource ?? "script timing";
  const lines = readLines(timing, timingSource, 1 << 20);
  const reader = new ByteSource(log);
  const { metadata, extra } = await readHeaderLine(reader, kind);
  const maxEventBytes = options.maxEventBytes ?? 65536;
  return { source, timingSource, maxEventBytes, lines, log: reader, metadata, extra };
}

/** Emits one log step as events of at most maxEventBytes each. */
async function* step(
  input: ScriptInput,
  type: "output" | "input",
  time: number,
  size: number,
  line: Line,
): AsyncGenerator<SessionEvent> {
  const missing = { count: 0 };
  for await (const data of input.log.take(size, input.maxEventBytes, missing)) {
    yield { type, time, data };
  }
  if (missing.count > 0) {
    throw formatError(
      input.timingSource,
      line.number,
      `${input.source} ends ${missing.count} bytes short of this ${type} entry (log offset ${input.log.offset})`,
    );
  }
}

const TRAILER = "Script done";

/**
 * After the last timing entry the log may hold only script's trailer (`\nScript done on …\n`,
 * possibly cut short by a crash). Any other byte is session data that no timing entry covers
 * (a truncated or mismatched timing file): scriptreplay skips it, but an audit importer must not
 * drop recorded data quietly.
 */
async function expectOnlyTrailer({ log, source, timingSource }: ScriptInput): Promise<void> {
  const start = log.offset;
  const head: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  for await (const piece of log.take(Number.MAX_SAFE_INTEGER, 65536, { count: 0 })) {
    if (kept < 4096) {
      head.push(piece);
      kept += piece.byteLength;
    }
    total += piece.byteLength;
  }
  if (total === 0) return;
  const rest = lossy.decode(Buffer.concat(head)).replace(/^\r?\n/, "");
  const trailer =
    total <= 4096 &&
    (TRAILER.startsWith(rest) || (rest.startsWith(TRAILER) && !rest.slice(0, -1).includes("\n")));
  if (!trailer) {
    throw formatError(
      source,
      undefined,
      `${total} bytes from log offset ${start} on are not covered by any entry of ${timingSource} (is the timing file cut short?)`,
    );
  }
}

/**
 * The log's first line, "Script started on DATE [FIELDS]", which is not part of the session's
 * bytes (scriptreplay skips it too): the start time and header fields become metadata.
 */
async function readHeaderLine(
  reader: ByteSource,
  source: "script-advanced" | "script-classic",
): Promise<{ metadata: SessionMetadata; extra: Record<string, unknown> }> {
  const metadata: SessionMetadata = { source };
  const extra: Record<string, unknown> = {};
  const headerLine = await reader.skipLine(MAX_LINE);
  if (headerLine !== null) {
    const parsed = parseScriptHeaderLine(lossy.decode(headerLine));
    if (parsed.startTime !== undefined) metadata.startTime = parsed.startTime;
    for (const [k, v] of Object.entries(parsed.fields)) applyHeader(metadata, extra, k, v);
  }
  return { metadata, extra };
}

/** A script reader: the log (typescript) and its timing file, both streamed. */
export type ScriptReader = (
  log: AsyncIterable<Uint8Array>,
  timing: AsyncIterable<Uint8Array>,
  options?: ScriptReadOptions,
) => Promise<Recording>;

/**
 * A reader of one timing format: opens the input, lets `events` read what belongs to the
 * metadata (the advanced format's H entries), and resolves with the metadata and the events.
 */
function scriptReader(
  kind: "script-advanced" | "script-classic",
  events: (input: ScriptInput) => Promise<AsyncGenerator<SessionEvent>>,
): ScriptReader {
  return async (log, timing, options = {}) => {
    const input = await openScript(log, timing, options, kind);
    const generator = await events(input);
    return { metadata: finishMetadata(input.metadata, input.extra), events: generator };
  };
}

/**
 * Reads `script --log-io LOG --log-timing TIMING` (or `--log-out`): the multi-stream timing
 * format. Resolves after the leading H entries (the metadata); events are read as iterated.
 */
export const readScriptAdvanced: ScriptReader = scriptReader("script-advanced", async (input) => {
  const { time, next } = await readHeaderEntries(input);
  return advancedEvents(input, time, next);
});

/** The leading H entries, the session's header; returns the time after them and the next line. */
async function readHeaderEntries(
  input: ScriptInput,
): Promise<{ time: number; next: Line | undefined }> {
  let time = 0;
  for (;;) {
    const r = await input.lines.next();
    if (r.done === true) return { time, next: undefined };
    const text = lineText(r.value);
    if (text.trim() === "") continue;
    if (!text.startsWith("H ")) return { time, next: r.value };
    const m = /^H (\S+) (\S+) ?(.*)$/.exec(text);
    if (m === null)
      throw formatError(
        input.timingSource,
        r.value.number,
        "bad header entry; expected H <delay> <NAME> <value>",
      );
    time += parseDelay(m[1], r.value, input.timingSource);
    applyHeader(input.metadata, input.extra, m[2]!, m[3] ?? "");
  }
}

/** The events of the timing entries from `first` on, the session time starting at `start`. */
async function* advancedEvents(
  input: ScriptInput,
  start: number,
  first: Line | undefined,
): AsyncGenerator<SessionEvent> {
  let time = start;
  let line = first;
  for (;;) {
    if (line === undefined) {
      const r = await input.lines.next();
      if (r.done === true) {
        await expectOnlyTrailer(input);
        return;
      }
      line = r.value;
    }
    const current = line;
    line = undefined;
    const text = lineText(current);
    if (text.trim() === "") continue;
    if (!current.terminated && !/^[OI] \S+ \d+$|^[HS] /.test(text)) {
      throw formatError(input.timingSource, current.number, "truncated last line");
    }
    time = yield* advancedEntry(input, current, text, time);
  }
}

/** One timing entry (O, I, S or H) as its events; returns the session time after it. */
async function* advancedEntry(
  input: ScriptInput,
  line: Line,
  text: string,
  before: number,
): AsyncGenerator<SessionEvent, number> {
  const { timingSource } = input;
  const parts = text.split(" ");
  const type = parts[0];
  if (type !== "O" && type !== "I" && type !== "S" && type !== "H") {
    throw formatError(
      timingSource,
      line.number,
      `unknown timing entry type "${type ?? ""}"; expected O, I, S or H`,
    );
  }
  if ((type === "O" || type === "I") && parts.length !== 3) {
    throw formatError(
      timingSource,
      line.number,
      `bad ${type} entry; expected ${type} <delay> <bytes>`,
    );
  }
  const time = before + parseDelay(parts[1], line, timingSource);
  if (type === "O" || type === "I") {
    const size = parseSize(parts[2], line, timingSource);
    yield* step(input, type === "O" ? "output" : "input", time, size, line);
  } else if (type === "S" && parts[2] === "SIGWINCH") {
    const rows = /(?:^| )ROWS=(\d{1,5})(?: |$)/.exec(text);
    const cols = /(?:^| )COLS=(\d{1,5})(?: |$)/.exec(text);
    if (rows === null || cols === null)
      throw formatError(timingSource, line.number, "SIGWINCH entry without ROWS= and COLS=");
    yield { type: "resize", time, cols: Number(cols[1]), rows: Number(rows[1]) };
  } else if (type === "H" && parts[2] === "EXIT_CODE") {
    const status = Number(parts[3]);
    if (parts.length !== 4 || !Number.isInteger(status))
      throw formatError(timingSource, line.number, "bad EXIT_CODE entry");
    yield { type: "exit", time, status };
  }
  return time;
}

/**
 * Reads the classic pair `script -t 2>TIMING TYPESCRIPT`: `<delay> <bytes>` lines, output only.
 * The typescript's first line ("Script started on …") is skipped, as scriptreplay does, and
 * parsed for metadata.
 */
export const readScriptClassic: ScriptReader = scriptReader("script-classic", async (input) =>
  classicEvents(input),
);

/** The events of a classic timing file: `<delay> <bytes>` lines, output only. */
async function* classicEvents(input: ScriptInput): AsyncGenerator<SessionEvent> {
  const { lines, timingSource } = input;
  let time = 0;
  for await (const line of lines) {
    const text = lineText(line);
    if (text.trim() === "") continue;
    const m = /^(\S+) (\S+)$/.exec(text);
    if (m === null)
      throw formatError(timingSource, line.number, "bad timing line; expected <delay> <bytes>");
    time += parseDelay(m[1], line, timingSource);
    const size = parseSize(m[2], line, timingSource);
    yield* step(input, "output", time, size, line);
  }
  await expectOnlyTrailer(input);
}

/**
 * Reads a script log with its timing file, advanced or classic, told apart as scriptreplay does:
 * a classic timing file starts with a digit.
 */
export const readScript: ScriptReader = async (log, timing, options = {}) => {
  const { head, input } = await peek(timing, 1);
  const classic = head.byteLength > 0 && head[0]! >= 0x30 && head[0]! <= 0x39;
  return classic ? readScriptClassic(log, input, options) : readScriptAdvanced(log, input, options);
};
