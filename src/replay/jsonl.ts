/**
 * JSON Lines writer: one event per line, binary-safe.
 *
 *   {"t":1.250000,"type":"output","data":"ls\r\n"}
 *   {"t":1.300000,"type":"output","data":"/wA=","encoding":"base64"}
 *   {"t":2.000000,"type":"input","data":"q"}
 *   {"t":3.000000,"type":"resize","cols":100,"rows":30}
 *   {"t":4.000000,"type":"marker","label":"step 2"}
 *   {"t":5.000000,"type":"exit","status":0}
 *
 * `t` is seconds since the session start with six decimals (exact microseconds). Each event's
 * bytes are judged on their own: valid UTF-8 is written as a string, anything else (including
 * half of a multibyte character) as base64 with `"encoding":"base64"`, so decoding each line
 * gives back exactly the recorded bytes and event boundaries. With `{ header: true }` a first
 * line `{"type":"metadata",…}` carries the session metadata.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { formatSeconds } from "../events.js";
import { toBase64 } from "../bytes.js";
import type { Sink } from "./asciicast.js";

const encoder = new TextEncoder();
// Not streaming: each decode starts afresh, so one decoder serves every event.
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function dataFields(data: Uint8Array): string {
  try {
    const text = strict.decode(data);
    return `"data":${JSON.stringify(text)}`;
  } catch {
    return `"data":${JSON.stringify(toBase64(data))},"encoding":"base64"`;
  }
}

function jsonlLine(ev: SessionEvent): string {
  const head = `{"t":${formatSeconds(ev.time)},"type":${JSON.stringify(ev.type)}`;
  switch (ev.type) {
    case "output":
    case "input":
      return `${head},${dataFields(ev.data)}}`;
    case "resize":
      return `${head},"cols":${ev.cols},"rows":${ev.rows}}`;
    case "marker":
      return `${head},"label":${JSON.stringify(ev.label)}}`;
    case "exit":
      return `${head},"status":${ev.status}}`;
  }
}

export async function writeJsonl(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  out: Sink,
  options: { header?: boolean } = {},
): Promise<void> {
  if (options.header === true)
    await out(encoder.encode(JSON.stringify({ type: "metadata", ...metadata }) + "\n"));
  for await (const ev of events) await out(encoder.encode(jsonlLine(ev) + "\n"));
}
