/**
 * Raw importer: the bytes as downstream output, all at time 0, one event per frame
 * (FRAME_DATA_BYTES each, the last one shorter), whatever the input's chunking: so a trail of
 * raw input has no short frames at chunk ends, and the same bytes always make the same trail.
 */
import type { SessionEvent } from "../events.js";
import { toBytes } from "../bytes.js";
import { FRAME_DATA_BYTES } from "../frames.js";
import type { Recording } from "./stream.js";

export function readRaw(
  input: AsyncIterable<Uint8Array>,
  options: { source?: string } = {},
): Recording {
  void options;
  async function* events(): AsyncGenerator<SessionEvent> {
    const output = (data: Uint8Array): SessionEvent => ({ type: "output", time: 0, data });
    // The frame that straddles two chunks is the one piece copied; whole frames are views.
    let carry = new Uint8Array(FRAME_DATA_BYTES);
    let carried = 0;
    for await (const chunk of input) {
      let data = toBytes(chunk);
      if (carried > 0) {
        const n = Math.min(FRAME_DATA_BYTES - carried, data.byteLength);
        carry.set(data.subarray(0, n), carried);
        carried += n;
        data = data.subarray(n);
        if (carried < FRAME_DATA_BYTES) continue;
        yield output(carry);
        carry = new Uint8Array(FRAME_DATA_BYTES);
      }
      const whole = data.byteLength - (data.byteLength % FRAME_DATA_BYTES);
      // One event per frame: an event of several frames would mark them continued, and the
      // trail would then depend on how the input was chunked.
      for (let at = 0; at < whole; at += FRAME_DATA_BYTES) {
        yield output(data.subarray(at, at + FRAME_DATA_BYTES));
      }
      carry.set(data.subarray(whole));
      carried = data.byteLength - whole;
    }
    if (carried > 0) yield output(carry.subarray(0, carried));
  }
  return { metadata: { source: "raw" }, events: events() };
}
