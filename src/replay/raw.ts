/** Raw writer: the downstream output bytes exactly as recorded, nothing else. */
import type { SessionEvent, SessionMetadata } from "../events.js";
import type { Sink } from "./asciicast.js";

/** Same signature as the other writers; the metadata has no place in raw bytes. */
export async function writeRaw(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  out: Sink,
): Promise<void> {
  void metadata;
  for await (const ev of events)
    if (ev.type === "output" && ev.data.byteLength > 0) await out(ev.data);
}
