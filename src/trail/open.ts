/**
 * Opening a trail: unlocking each channel's file key from the stanzas with the given private keys
 * (checked against the header's key commitment), then decrypting frames back into session events;
 * `openTrail` does both over a trail's bytes.
 */
import { TrailsealError, isTrailsealError } from "../errors.js";
import { concat, fromBase64, fromHex } from "../bytes.js";
import type { Channel, SessionEvent } from "../events.js";
import { timingSafeEqual } from "node:crypto";
import { FrameOpener, checkKeyCommitment, keyCommitment } from "../frames.js";
import {
  openLayerTyped,
  openStanzaNoting,
  type StanzaKey,
  type StanzaLayer,
} from "../recipients.js";
import { decodeFramePayload, frameAad, type HeaderStanza } from "./format.js";
import {
  TrailReader,
  type FrameRecord,
  type ParsedHeader,
  type TrailEnd,
  type TrailRecord,
} from "./reader.js";

/** One way to open a channel: a stanza, sealed with the trail or added later by `share`. */
export interface Alternative {
  readonly entry: number;
  readonly layers: readonly StanzaLayer[];
  /** ISO time when `share` added it; null when it was sealed with the trail. */
  readonly added: string | null;
}

export interface ChannelAccess {
  readonly channel: Channel;
  readonly encrypted: boolean;
  /** The alternative the given keys opened, or null (clear channel, or no key). */
  readonly openedBy: Alternative | null;
  /** Every alternative that would open the channel. */
  readonly alternatives: readonly Alternative[];
}

export interface Unlocked {
  readonly keys: Partial<Record<Channel, Uint8Array>>;
  readonly access: Readonly<Record<Channel, ChannelAccess>>;
  /**
   * Added stanzas (annex) that the keys matched but that failed (they were skipped), and a stanza
   * that opened a channel with weaker cryptography than trailseal writes (it was used).
   */
  readonly warnings: readonly string[];
}

function stanzasOf(
  parsed: ParsedHeader,
  channel: Channel,
): { stanza: HeaderStanza; added: string | null }[] {
  const sealed = parsed.header.channels[channel].stanzas ?? [];
  const added = parsed.annex.stanzas.filter((s) => s.channel === channel);
  return [
    ...sealed.map((stanza) => ({ stanza, added: null })),
    ...added.map((stanza) => ({ stanza, added: stanza.added })),
  ];
}

/**
 * Tries every stanza whose layers the given keys all cover. A sealed stanza that fails, or opens
 * to a key other than the committed one, is an attack or corruption of the signed header: it
 * throws (KEY_COMMITMENT_MISMATCH, STANZA_*). An added stanza (annex, outside the chain) that
 * fails is skipped with a warning, so anyone able to append to the annex cannot deny access
 * that another stanza grants. A channel no key opens stays locked (its access lists the
 * alternatives); that does not throw.
 */
export async function unlockChannels(
  parsed: ParsedHeader,
  keys: readonly StanzaKey[],
  handed: readonly HandedEnvelope[] = [],
): Promise<Unlocked> {
  const out: Partial<Record<Channel, Uint8Array>> = {};
  const access = {} as Record<Channel, ChannelAccess>;
  const have = new Set(keys.map((k) => k.spkiFingerprint));
  const warnings: string[] = [];
  let skipped = 0;
  for (const channel of ["downstream", "upstream"] as const) {
    const ch = parsed.header.channels[channel];
    const candidates = stanzasOf(parsed, channel);
    const alternatives = candidates.map(({ stanza, added }) => ({
      entry: stanza.entry,
      layers: stanza.layers,
      added,
    }));
    let openedBy: Alternative | null = null;
    if (ch.encrypted) {
      const commitment = fromHex(ch.commitment!);
      for (const [i, { stanza, added }] of candidates.entries()) {
        if (!stanza.layers.every((l) => have.has(l.spkiFingerprint))) continue;
        const what = `${added === null ? "" : "added "}${channel} stanza ${i} (entry ${stanza.entry})`;
        let key: Uint8Array;
        let weaker: string[];
        try {
          ({ fileKey: key, weaker } = await openStanzaNoting(
            { der: fromBase64(stanza.der), layers: [...stanza.layers] },
            keys,
          ));
          checkKeyCommitment(key, channel, commitment, what);
        } catch (e) {
          if (!isTrailsealError(e)) throw e;
          if (added !== null) {
            skipped++;
            if (skipped <= MAX_WARNINGS) {
              warnings.push(`${parsed.name}: ${what} was skipped: ${e.code}: ${e.message}`);
            }
            continue;
          }
          throw e.code === "KEY_COMMITMENT_MISMATCH"
            ? e.withFile(parsed.name, `${parsed.name}: ${e.message}`)
            : e.withFile(parsed.name, `${parsed.name}: ${what}: ${e.message}`);
        }
        out[channel] = key;
        openedBy = alternatives[i]!;
        if (weaker.length > 0) {
          // Not trailseal's own making (it writes rsa 2048+, oaep sha-256, aes-256): whoever can
          // break these reads the channel, so the auditor is told rather than left to assume.
          warnings.push(
            `${parsed.name}: ${what} opened the ${channel} channel, but it uses ${weaker.join(", ")}: weaker than trailseal writes (rsa 2048+, sha-256, aes-256)`,
          );
        }
        break;
      }
    }
    access[channel] = { channel, encrypted: ch.encrypted, openedBy, alternatives };
  }
  for (const h of handed) await unlockHanded(parsed, keys, h, out, access);
  if (skipped > MAX_WARNINGS) {
    warnings.push(`${parsed.name}: ${skipped - MAX_WARNINGS} more added stanzas were skipped`);
  }
  return { keys: out, access, warnings };
}

/**
 * An inner envelope of a four-eyes stanza that its outer holder opened alone and handed over
 * (split knowledge: the two private keys never meet on one machine). `name` is for messages.
 */
export interface HandedEnvelope {
  readonly der: Uint8Array;
  readonly name: string;
}

/**
 * Opens a handed inner envelope with the one given key it is for, and unlocks the channel whose
 * key commitment the file key inside matches: the commitment, not the envelope, proves which
 * channel of this trail it is. Throws NO_MATCHING_KEY (no key opens it), STANZA_INVALID (it
 * holds another envelope, not a file key), KEY_COMMITMENT_MISMATCH (the file key is not one of
 * this trail's).
 */
async function unlockHanded(
  parsed: ParsedHeader,
  keys: readonly StanzaKey[],
  h: HandedEnvelope,
  out: Partial<Record<Channel, Uint8Array>>,
  access: Record<Channel, ChannelAccess>,
): Promise<void> {
  let opened: { fileKey: Uint8Array; by: string } | null = null;
  for (const key of keys) {
    let layer: Awaited<ReturnType<typeof openLayerTyped>>;
    try {
      layer = await openLayerTyped(h.der, key);
    } catch (e) {
      if (isTrailsealError(e, "NO_MATCHING_KEY")) continue;
      throw new TrailsealError(
        isTrailsealError(e) ? e.code : "STANZA_INVALID",
        `${h.name}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (layer.contentType !== "data" || layer.content.byteLength !== 32) {
      throw new TrailsealError(
        "STANZA_INVALID",
        `${h.name} holds ${layer.contentType === "data" ? `${layer.content.byteLength} bytes` : "another envelope"}, not a file key: it is not the inner envelope of a stanza`,
      );
    }
    opened = { fileKey: layer.content, by: key.spkiFingerprint };
    break;
  }
  if (opened === null) {
    throw new TrailsealError(
      "NO_MATCHING_KEY",
      `${h.name} opens with none of the keys given (${keys.map((k) => `sha256:${k.spkiFingerprint}`).join(", ") || "none"})`,
      { hint: "give the private key of the inner layer's certificate" },
    );
  }
  for (const channel of ["downstream", "upstream"] as const) {
    const ch = parsed.header.channels[channel];
    if (!ch.encrypted || ch.commitment === undefined) continue;
    const expected = fromHex(ch.commitment);
    const actual = keyCommitment(opened.fileKey, channel);
    if (actual.byteLength !== expected.byteLength || !timingSafeEqual(actual, expected)) continue;
    const by = opened.by;
    const alternative = access[channel].alternatives.find(
      (a) => a.layers.length > 1 && a.layers.at(-1)?.spkiFingerprint === by,
    );
    if (alternative === undefined) break;
    out[channel] ??= opened.fileKey;
    access[channel] = { ...access[channel], openedBy: access[channel].openedBy ?? alternative };
    return;
  }
  throw new TrailsealError(
    "KEY_COMMITMENT_MISMATCH",
    `${h.name} holds a file key that is not the key of any four-eyes entry of ${parsed.name} whose inner key is sha256:${opened.by}`,
    { hint: "the envelope belongs to another trail, or was altered" },
  );
}

/** Skipped annex stanzas named one by one; more are counted. */
const MAX_WARNINGS = 5;

/** Describes what would open a locked channel, one alternative per line. */
export function describeAlternatives(access: ChannelAccess): string[] {
  return access.alternatives.map((a) => {
    const who = a.layers.map((l) => `sha256:${l.spkiFingerprint} (${l.subject})`);
    const kind = a.layers.length > 1 ? `four-eyes: both ${who.join(" and ")}` : who[0]!;
    return `entry ${a.entry}${a.added === null ? "" : " (added by share)"}: ${kind}`;
  });
}

/** What decoding a frame needs of it: its clear fields and its bytes as stored. */
export type FrameBytes = Pick<
  FrameRecord,
  "channel" | "seq" | "time" | "last" | "continued" | "prefix" | "body"
>;

/** Largest event a decoder joins from continued frames; longer runs are passed on in pieces. */
export const MAX_JOINED_EVENT = 16 * 1024 * 1024;

/**
 * Turns frame records into session events, decrypting with the unlocked keys. Frames of a
 * locked channel are counted and skipped. Continued data frames are joined into one event, as
 * the writer split them — up to `maxEvent` bytes, so a trail cannot make a reader hold more than
 * that in memory; a longer event is passed on in pieces of the same time.
 */
export class EventDecoder {
  private readonly openers: Partial<Record<Channel, FrameOpener>> = {};
  private readonly pending: Partial<
    Record<Channel, { time: number; parts: Uint8Array[]; size: number }>
  > = {};
  /** Frames skipped because their channel is locked. */
  readonly hidden: Record<Channel, number> = { downstream: 0, upstream: 0 };
  readonly ended: Record<Channel, boolean> = { downstream: false, upstream: false };

  constructor(
    private readonly parsed: ParsedHeader,
    keys: Partial<Record<Channel, Uint8Array>>,
    private readonly maxEvent: number = MAX_JOINED_EVENT,
  ) {
    for (const channel of ["downstream", "upstream"] as const) {
      const key = keys[channel];
      if (key !== undefined) this.openers[channel] = new FrameOpener(key, channel);
    }
  }

  /** Whether frames of `channel` can be read (clear, or unlocked). */
  readable(channel: Channel): boolean {
    return !this.parsed.header.channels[channel].encrypted || this.openers[channel] !== undefined;
  }

  /** The events a record yields (none for checkpoints, stamps and hidden frames). */
  decode(record: TrailRecord): SessionEvent[] {
    return record.type === "frame" ? this.decodeFrame(record) : [];
  }

  /** The events a frame yields, from its bytes as stored (a frame record, or one held back). */
  decodeFrame(record: FrameBytes): SessionEvent[] {
    const { channel } = record;
    if (!this.readable(channel)) {
      this.hidden[channel]++;
      return [];
    }
    const plain = this.plaintext(record);
    const payload = decodeFramePayload(plain, record.seq);
    const time = record.time;
    if (record.last !== (payload.type === "end")) {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${record.seq}: ${channel} end mark and last-frame flag disagree`,
      );
    }
    if (record.continued && payload.type !== "data") {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${record.seq}: only data frames may be continued`,
      );
    }
    if (channel === "upstream" && payload.type !== "data" && payload.type !== "end") {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${record.seq}: a ${payload.type} event on the upstream channel (it belongs downstream)`,
      );
    }
    const pending = this.pending[channel];
    if (pending !== undefined && (payload.type !== "data" || time !== pending.time)) {
      throw new TrailsealError(
        "RECORD_INVALID",
        `record ${record.seq}: a continued ${channel} event is interrupted`,
      );
    }
    switch (payload.type) {
      case "data": {
        const event = (data: Uint8Array): SessionEvent =>
          channel === "downstream" ? { type: "output", time, data } : { type: "input", time, data };
        if (record.continued) {
          const p = this.pending[channel] ?? { time, parts: [], size: 0 };
          p.parts.push(payload.data);
          p.size += payload.data.byteLength;
          this.pending[channel] = p;
          if (p.size < this.maxEvent) return [];
          // Bounded memory: pass a long run on now; the rest follows as further events.
          const joined = concat(...p.parts.splice(0));
          p.size = 0;
          return [event(joined)];
        }
        let data = payload.data;
        if (pending !== undefined) {
          data = concat(...pending.parts, data);
          delete this.pending[channel];
        }
        return [event(data)];
      }
      case "resize":
        return [{ type: "resize", time, cols: payload.cols, rows: payload.rows }];
      case "marker":
        return [{ type: "marker", time, label: payload.label }];
      case "exit":
        return [{ type: "exit", time, status: payload.status }];
      case "end":
        this.ended[channel] = true;
        return [];
    }
  }

  private plaintext(record: FrameBytes): Uint8Array {
    const opener = this.openers[record.channel];
    if (opener === undefined) return record.body;
    return opener.open(
      record.body,
      frameAad(this.parsed.start, record.prefix),
      record.last,
      record.seq,
    );
  }
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
