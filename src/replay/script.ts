/**
 * util-linux `script` writer: a typescript (data log) and a timing file that scriptreplay
 * plays, in the layout util-linux 2.35+ reads (term-utils/script-playutils.c).
 *
 * - "classic" (default): `<delay> <bytes>` timing lines and an output-only typescript. Plays
 *   with `scriptreplay --timing TIMING TYPESCRIPT` (or `scriptreplay TIMING TYPESCRIPT`).
 * - "advanced": the multi-stream timing of `script --log-io`: H entries for the header, then
 *   `O`/`I` entries over one log holding output and input, `S … SIGWINCH ROWS= COLS=` for
 *   resizes, `H … EXIT_CODE` at the end. Plays with
 *   `scriptreplay --log-io TYPESCRIPT --log-timing TIMING` (add `--stream io` to see input).
 *
 * Delays are relative to the previous entry, `%ld.%06ld` seconds (exact microseconds). The log
 * starts with a "Script started on …" line, which scriptreplay skips. Empty data steps are not
 * written (scriptreplay asserts a non-zero size); their delay carries to the next entry.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import type { Sink } from "./asciicast.js";

const encoder = new TextEncoder();

function scriptDate(unixSeconds: number): string {
  // script writes "%Y-%m-%d %H:%M:%S%z" with a colon in the zone; we always write UTC.
  return new Date(Math.floor(unixSeconds) * 1000)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "+00:00");
}

function delay(us: number): string {
  const d = Math.max(0, us);
  return `${Math.floor(d / 1_000_000)}.${(d % 1_000_000).toString().padStart(6, "0")}`;
}

/** Header values must stay on one line in both files. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}

export async function writeScript(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  outTypescript: Sink,
  outTiming: Sink,
  options: { format?: "classic" | "advanced" } = {},
): Promise<void> {
  const advanced = options.format === "advanced";
  const start = metadata.startTime ?? 0;
  const fields: [string, string][] = [];
  if (metadata.command !== undefined) fields.push(["COMMAND", oneLine(metadata.command)]);
  if (metadata.env?.["TERM"] !== undefined) fields.push(["TERM", oneLine(metadata.env["TERM"])]);
  if (metadata.cols !== undefined) fields.push(["COLUMNS", String(metadata.cols)]);
  if (metadata.rows !== undefined) fields.push(["LINES", String(metadata.rows)]);
  const bracket =
    fields.length === 0 ? "" : ` [${fields.map(([k, v]) => `${k}="${v}"`).join(" ")}]`;
  await outTypescript(encoder.encode(`Script started on ${scriptDate(start)}${bracket}\n`));
  if (advanced) {
    const h = [["START_TIME", scriptDate(start)], ...fields];
    if (metadata.env?.["SHELL"] !== undefined) h.push(["SHELL", oneLine(metadata.env["SHELL"])]);
    for (const [k, v] of h) await outTiming(encoder.encode(`H 0.000000 ${k!} ${v!}\n`));
  }

  let previous = 0;
  let last = 0;
  let exitStatus: number | undefined;
  for await (const ev of events) {
    last = Math.max(last, ev.time);
    let entry: string | undefined;
    let data: Uint8Array | undefined;
    switch (ev.type) {
      case "output":
      case "input":
        if (ev.data.byteLength === 0 || (ev.type === "input" && !advanced)) break;
        data = ev.data;
        entry = advanced
          ? `${ev.type === "output" ? "O" : "I"} ${delay(ev.time - previous)} ${data.byteLength}`
          : `${delay(ev.time - previous)} ${data.byteLength}`;
        break;
      case "resize":
        if (advanced)
          entry = `S ${delay(ev.time - previous)} SIGWINCH ROWS=${ev.rows} COLS=${ev.cols}`;
        break;
      case "exit":
        exitStatus = ev.status;
        break;
      case "marker":
        break;
    }
    if (entry === undefined) continue;
    previous = Math.max(previous, ev.time);
    if (data !== undefined) await outTypescript(data);
    await outTiming(encoder.encode(entry + "\n"));
  }
  if (advanced) {
    await outTiming(encoder.encode(`H ${delay(last - previous)} DURATION ${delay(last)}\n`));
    if (exitStatus !== undefined)
      await outTiming(encoder.encode(`H 0.000000 EXIT_CODE ${exitStatus}\n`));
  }
  const exitField = exitStatus === undefined ? "" : ` [COMMAND_EXIT_CODE="${exitStatus}"]`;
  await outTypescript(
    encoder.encode(`\nScript done on ${scriptDate(start + last / 1_000_000)}${exitField}\n`),
  );
}
