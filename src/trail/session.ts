/**
 * High-level helpers over the writer: seal a recording into a trail, and the sinks it writes to.
 * (Opening a trail back into events is `openTrail`, in open.ts: replay and scan load no writer.)
 * Both stream: memory stays bounded whatever the size.
 */
import type { Writable } from "node:stream";
import type { SessionEvent, SessionMetadata } from "../events.js";
import { TrailWriter, type TrailWriterOptions } from "./writer.js";

/**
 * Seals a recording: every event in order, then the final checkpoint at the last event's time
 * (or `endTime` when the recording says how long it lasted).
 */
export async function sealEvents(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent> | Iterable<SessionEvent>,
  options: Omit<TrailWriterOptions, "session">,
  endTime?: number,
): Promise<TrailWriter> {
  const writer = await TrailWriter.create({ ...options, session: metadata });
  let last = 0;
  for await (const e of events) {
    await writer.event(e);
    last = Math.max(last, e.time);
  }
  await writer.close(Math.max(last, endTime ?? 0));
  return writer;
}

/**
 * A writer sink over a Node `Writable` (file, socket, stdout) or a web `WritableStream`, with
 * backpressure: the writer waits while the target's buffer is full.
 *
 * @example
 *   await sealEvents(recording.metadata, recording.events, { plan, sink: sinkFor(createWriteStream("s.trail")), random, clock });
 */
export function sinkFor(
  target: Writable | WritableStream<Uint8Array>,
): (chunk: Uint8Array) => Promise<void> {
  if (target instanceof WritableStream) {
    const writer = target.getWriter();
    return (chunk) => writer.write(chunk);
  }
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      const ok = target.write(chunk, (e) => (e ? reject(e) : undefined));
      if (ok) resolve();
      else target.once("drain", resolve);
    });
}

/**
 * Bytes from a Node `Readable` or a web `ReadableStream` as the async iterable the reader takes.
 */
export async function* bytesOf(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (source instanceof ReadableStream) {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  yield* source as AsyncIterable<Uint8Array>;
}
