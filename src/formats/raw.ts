/** Raw importer: the bytes as downstream output, all at time 0, chunked as they arrive. */
import type { SessionEvent } from "../events.js";
import type { Recording } from "./stream.js";

export function readRaw(input: AsyncIterable<Uint8Array>, options: { source?: string } = {}): Recording {
  void options;
  async function* events(): AsyncGenerator<SessionEvent> {
    for await (const chunk of input) {
      if (chunk.byteLength === 0) continue;
      yield { type: "output", time: 0, data: chunk instanceof Uint8Array && chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) };
    }
  }
  return { metadata: { source: "raw" }, events: events() };
}
