/**
 * High-level helpers over the writer and reader: seal a recording into a trail, and open a trail
 * back into session events. Both stream: memory stays bounded whatever the size.
 */
import type { Channel, SessionEvent, SessionMetadata } from "../events.js";
import type { StanzaKey } from "../recipients.js";
import { EventDecoder, unlockChannels, type Unlocked } from "./open.js";
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
  records(options?: { upTo?: number }): AsyncGenerator<{ record: TrailRecord; events: SessionEvent[] }>;
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
): Promise<OpenedTrail> {
  const reader = await TrailReader.open(source, name);
  const unlocked = await unlockChannels(reader.parsed, keys);
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

/** Whether the given channel is readable once opened. */
export function channelReadable(opened: OpenedTrail, channel: Channel): boolean {
  return opened.decoder.readable(channel);
}
