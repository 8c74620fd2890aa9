/** Raw importer: the bytes as downstream output, all at time 0, chunked as they arrive. */
import type { SessionEvent } from "../events.js";
import { toBytes } from "../bytes.js";
import type { Recording } from "./stream.js";

export function readRaw(
  input: AsyncIterable<Uint8Array>,
  options: { source?: string } = {},
): Recording {
  void options;
  async function* events(): AsyncGenerator<SessionEvent> {
    for await (const chunk of input) {
      if (chunk.byteLength === 0) continue;
      // A Node Buffer is a Uint8Array already; toBytes keeps the view without copying.
      yield { type: "output", time: 0, data: toBytes(chunk) };
    }
  }
  return { metadata: { source: "raw" }, events: events() };
}
