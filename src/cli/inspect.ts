import type { Channel } from "../events.js";
import type { HeaderStanza } from "../trail/format.js";
import { TrailReader, type TrailEnd } from "../trail/reader.js";
import { EXIT_OK, newCommand, plural, runCommand, type Io } from "./io.js";
import { inputStream, namingTrail, printable } from "./common.js";
import { inputName } from "./files.js";

interface InspectFlags {
  json?: boolean;
}

interface ChannelSummary {
  encrypted: boolean;
  commitment: string | null;
  alternatives: {
    entry: number;
    fourEyes: boolean;
    added: string | null;
    recipients: { spkiFingerprint: string; subject: string; keyType: string }[];
  }[];
  frames: number;
  bytes: number;
}

/** What `inspect --json` prints for one trail (field names are stable; see README). */
export interface TrailSummary {
  file: string;
  format: string;
  trail: string;
  created: string;
  policy: {
    name: string;
    signing: boolean;
    timestamping: string | null;
    policyOid: string | null;
    interval: number;
  };
  session: Record<string, unknown>;
  channels: Record<Channel, ChannelSummary>;
  records: number;
  bytes: number;
  duration: number;
  checkpoints: number;
  signedCheckpoints: number;
  stamps: { granted: number; failed: number };
  end: { state: TrailEnd["state"]; reason: string | null; lastCheckpoint: number | null };
}

function alternative(s: HeaderStanza, added: string | null) {
  return {
    entry: s.entry,
    fourEyes: s.layers.length > 1,
    added,
    recipients: s.layers.map((l) => ({
      spkiFingerprint: l.spkiFingerprint,
      subject: text(l.subject),
      keyType: text(l.keyType),
    })),
  };
}

/** A header field as text, whatever JSON type a crafted header gave it. */
function text(v: unknown): string {
  if (typeof v === "string") return v;
  return v === undefined ? "(none)" : JSON.stringify(v);
}

/** Reads a whole trail without keys and summarises it. Structural faults throw. */
async function summarize(path: string, io: Io): Promise<TrailSummary> {
  const name = inputName(path);
  const reader = await TrailReader.open(await inputStream(path, io), name);
  const { header, annex, size } = reader.parsed;
  const channels = {} as Record<Channel, ChannelSummary>;
  for (const c of ["downstream", "upstream"] as const) {
    const ch = header.channels[c];
    channels[c] = {
      encrypted: ch.encrypted,
      commitment: ch.commitment ?? null,
      alternatives: [
        ...(ch.stanzas ?? []).map((s) => alternative(s, null)),
        ...annex.stanzas.filter((s) => s.channel === c).map((s) => alternative(s, s.added)),
      ],
      frames: 0,
      bytes: 0,
    };
  }
  let records = 0;
  let bytes = size;
  let duration = 0;
  let checkpoints = 0;
  let signed = 0;
  const stamps = { granted: 0, failed: 0 };
  for await (const r of reader.records()) {
    records++;
    bytes += r.prefix.byteLength + r.body.byteLength;
    duration = Math.max(duration, r.time);
    if (r.type === "frame") {
      channels[r.channel].frames++;
      channels[r.channel].bytes += r.body.byteLength;
    } else if (r.type === "checkpoint") {
      checkpoints++;
      if (r.signature.byteLength > 0) signed++;
    } else stamps[r.stamp.status]++;
  }
  const end = reader.end;
  return {
    file: name,
    format: header.format,
    trail: header.trail,
    created: header.created,
    policy: { ...header.policy },
    session: { ...header.session },
    channels,
    records,
    bytes,
    duration: duration / 1e6,
    checkpoints,
    signedCheckpoints: signed,
    stamps,
    end: {
      state: end.state,
      reason: end.state === "truncated" ? end.reason : null,
      lastCheckpoint:
        end.state === "complete"
          ? end.final.statement.index
          : (end.lastCheckpoint?.statement.index ?? null),
    },
  };
}

const CLIP = 200;

function clip(text: string): string {
  return text.length <= CLIP ? text : `${text.slice(0, CLIP)}… (${text.length} characters)`;
}

function human(s: TrailSummary): string {
  const lines: string[] = [];
  lines.push(`${s.file}: ${s.format} trail ${s.trail}, created ${s.created}`);
  lines.push(
    `policy ${s.policy.name}: interval ${s.policy.interval}s, ${s.policy.signing ? "signed" : "not signed"}, ` +
      `${s.policy.timestamping === null ? "not timestamped" : `timestamped (${s.policy.timestamping}${s.policy.policyOid === null ? "" : `, policy ${s.policy.policyOid}`})`}`,
  );
  const session = Object.entries(s.session).filter(([k]) => k !== "extra");
  // The recording's header fields trailseal does not model (asciicast idle_time_limit, theme,
  // tags, …): one line each, cut short so a large one cannot bury the rest (--json has them whole).
  const extra = Object.entries(s.session.extra ?? {}).map(
    ([k, v]) => [`extra.${k}`, clip(JSON.stringify(v) ?? "null")] as const,
  );
  if (session.length + extra.length > 0) {
    lines.push("session:");
    for (const [k, v] of session)
      lines.push(`  ${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
    for (const [k, v] of extra) lines.push(`  ${k}: ${v}`);
  }
  for (const c of ["downstream", "upstream"] as const) {
    const ch = s.channels[c];
    lines.push(
      `${c}: ${ch.encrypted ? "encrypted" : "clear"}, ${plural(ch.frames, "frame")}, ${plural(ch.bytes, "byte")}`,
    );
    if (ch.encrypted) {
      lines.push(`  key commitment ${ch.commitment}`);
      lines.push("  opened by any one of:");
      for (const a of ch.alternatives) {
        const who = a.recipients.map(
          (r) => `sha256:${r.spkiFingerprint} ${r.keyType} (${r.subject})`,
        );
        const tag = a.added === null ? "" : ` [added after sealing, ${a.added}]`;
        lines.push(
          a.fourEyes
            ? `    entry ${a.entry}: four-eyes, both of${tag}`
            : `    entry ${a.entry}: ${who[0]}${tag}`,
        );
        if (a.fourEyes) for (const w of who) lines.push(`      ${w}`);
      }
    }
  }
  lines.push(
    `${plural(s.records, "record")}, ${plural(s.bytes, "byte")}, ${s.duration}s of session; ${plural(s.checkpoints, "checkpoint")} (${s.signedCheckpoints} signed); ` +
      `${plural(s.stamps.granted, "timestamp")}${s.stamps.failed > 0 ? `, ${plural(s.stamps.failed, "checkpoint")} unstamped` : ""}`,
  );
  lines.push(
    s.end.state === "complete"
      ? `complete: ends with final checkpoint ${s.end.lastCheckpoint}`
      : `truncated: ${s.end.reason}${s.end.lastCheckpoint === null ? "" : `; last checkpoint ${s.end.lastCheckpoint}`}`,
  );
  lines.push("(structure and chain checked; run 'trailseal verify' for signatures and timestamps)");
  // Every field comes from the trail, the annex from anyone who could write the file.
  return `${lines.map(printable).join("\n")}\n`;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal inspect", io)
    .description("show a trail's header, channels, recipients and counts, without any key")
    .argument("<trail>", "the trail file (- for stdin)")
    .option("--json", "print a JSON object")
    .addHelpText(
      "after",
      `
Examples:
  trailseal inspect session.trail
  trailseal inspect --json session.trail | jq '.channels.upstream.alternatives'

Exit status: 0 shown (a truncated trail too: the output says where it ends), 1 not a trail, or
its structure or chain is broken, 2 usage or I/O error.`,
    );
  return runCommand<InspectFlags>(cmd, argv, io, async (flags) => {
    const [path] = cmd.args as [string];
    const summary = await summarize(path, io).catch((e: unknown) => {
      throw namingTrail(inputName(path), e);
    });
    io.stdout.write(flags.json === true ? `${JSON.stringify(summary, null, 2)}\n` : human(summary));
    return EXIT_OK;
  });
}
