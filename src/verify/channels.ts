/**
 * DOWNSTREAM and UPSTREAM, folded one record at a time: frames are counted per channel, and with
 * keys every frame of an opened channel is decrypted and authenticated (a frame that fails throws,
 * and the trail is tampered there).
 */
import type { Channel } from "../events.js";
import type { Alternative, ChannelAccess, EventDecoder } from "../trail/open.js";
import type { TrailHeader } from "../trail/format.js";
import type { TrailRecord } from "../trail/reader.js";
import type { AlternativeVerdict, ChannelVerdict } from "./verdict.js";

export class ChannelFold {
  private readonly frames: Record<Channel, number> = { downstream: 0, upstream: 0 };
  private readonly decrypted: Record<Channel, number> = { downstream: 0, upstream: 0 };

  /** `decoder` is null when the stanzas could not be read (no frame is decrypted then). */
  constructor(
    private readonly header: TrailHeader,
    private readonly decoder: EventDecoder | null,
  ) {}

  add(record: TrailRecord): void {
    if (record.type !== "frame") return;
    const { channel } = record;
    this.frames[channel]++;
    if (this.decoder === null) return;
    this.decoder.decode(record);
    if (this.header.channels[channel].encrypted && this.decoder.readable(channel))
      this.decrypted[channel]++;
  }

  verdict(access: ChannelAccess): ChannelVerdict {
    const frames = this.frames[access.channel];
    if (!access.encrypted) return { state: "clear", frames };
    const alternatives = access.alternatives.map(alternative);
    if (access.openedBy === null) return { state: "locked", frames, alternatives };
    const openedBy = alternative(access.openedBy);
    return {
      state: "opened",
      frames,
      openedBy,
      alternatives,
      decrypted: this.decrypted[access.channel],
    };
  }
}

function alternative(a: Alternative): AlternativeVerdict {
  return {
    entry: a.entry,
    added: a.added !== null,
    recipients: a.layers.map((l) => ({ spkiFingerprint: l.spkiFingerprint, subject: l.subject })),
  };
}
