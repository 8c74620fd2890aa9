/**
 * High-level helpers over the writer and reader: seal a recording into a trail, and open a trail
 * back into session events. Both stream: memory stays bounded whatever the size.
 */
import type { Writable } from "node:stream";
import type { SessionEvent, SessionMetadata } from "../events.js";
import type { StanzaKey } from "../recipients.js";
import { EventDecoder, unlockChannels, type HandedEnvelope, type Unlocked } from "./open.js";
import { TrailReader, type TrailEnd, type TrailRecord } from "./reader.js";
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

export interface OpenedTrail {
  readonly reader: TrailReader;
  readonly unlocked: Unlocked;
  readonly decoder: EventDecoder;
  /** Every record in order, with the events it yields (decrypted where a key opened its channel). */
  records(options?: {
    upTo?: number;
  }): AsyncGenerator<{ record: TrailRecord; events: SessionEvent[] }>;
  /** Just the events. */
  events(options?: { upTo?: number }): AsyncGenerator<SessionEvent>;
  /** How the trail ended; after the records are read. */
  readonly end: TrailEnd;
}

/** Opens a trail with the given keys. Channels no key opens stay locked (see `unlocked.access`). */
export async function openTrail(
  source: AsyncIterable<Uint8Array>,
  name: string,
  keys: readonly StanzaKey[],
  /** Inner envelopes of four-eyes stanzas, opened from their outer layer by its holder. */
  handed: readonly HandedEnvelope[] = [],
): Promise<OpenedTrail> {
  const reader = await TrailReader.open(source, name);
  const unlocked = await unlockChannels(reader.parsed, keys, handed);
  const decoder = new EventDecoder(reader.parsed, unlocked.keys);
  async function* records(options?: { upTo?: number }) {
    for await (const record of reader.records()) {
      // `upTo`: stop before this sequence number (the verified prefix of a truncated trail).
      if (options?.upTo !== undefined && record.seq >= options.upTo) break;
      yield { record, events: decoder.decode(record) };
    }
  }
  return {
    reader,
    unlocked,
    decoder,
    records,
    async *events(options?: { upTo?: number }) {
      for await (const { events } of records(options)) yield* events;
    },
    get end() {
      return reader.end;
    },
  };
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
