/**
 * Text writer: the session as plain text, as a terminal showed it (through the emulator of
 * scan/screen.ts): every line in the order it left the screen (scrolled off, cleared, or on an
 * alternate screen that was left), then the final screen. For grep and for tickets; keystrokes,
 * colours and timing are not in it.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { newText, screenItems } from "../scan/screen.js";
import type { Sink } from "./asciicast.js";

const utf8 = new TextEncoder();
/** Lines are written in batches of about this many bytes. */
const BATCH = 64 * 1024;

/** Same signature as the other writers. */
export async function writeText(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent>,
  out: Sink,
): Promise<void> {
  let batch = "";
  for await (const item of screenItems(metadata, events)) {
    if (item.kind !== "line") continue;
    // A line longer than a piece comes in pieces that overlap: written once, as one line.
    const { text, ends } = newText(item);
    batch += ends ? `${text}\n` : text;
    if (batch.length >= BATCH) {
      await out(utf8.encode(batch));
      batch = "";
    }
  }
  if (batch !== "") await out(utf8.encode(batch));
}
