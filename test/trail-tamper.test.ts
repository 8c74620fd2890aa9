/**
 * Adversarial suite for the trail reader and decryption (the keyed path used by replay): every
 * malformed input fails with a specific code naming the record, never a crash or garbled output.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { TrailsealError } from "../src/errors.js";
import type { SessionEvent } from "../src/events.js";
import type { SealingPlan } from "../src/policy.js";
import {
  encodeHeader,
  encodeRecordPrefix,
  decodeRecordPrefix,
  type TrailHeader,
} from "../src/trail/format.js";
import { TrailReader } from "../src/trail/reader.js";
import { sealEvents } from "../src/trail/session.js";
import { openTrail, unlockChannels } from "../src/trail/open.js";
import { makeStanza } from "../src/recipients.js";
import { chainBrokenAt } from "./helpers/chain.js";
import { certDer, chunks, counterRandom, stanzaKey } from "./helpers/fixtures.js";

const enc = (s: string) => new TextEncoder().encode(s);
const A = { cert: certDer("certs/rsa2048-a.crt"), key: stanzaKey("certs/rsa2048-a.key") };
const C = { cert: certDer("certs/ec-p256-a.crt"), key: stanzaKey("certs/ec-p256-a.key") };
const KEYS = [A.key, C.key];
const B = { cert: certDer("certs/rsa2048-b.crt"), key: stanzaKey("certs/rsa2048-b.key") };

/** The downstream file key of `trail`, opened with a key of its sealed stanzas. */
let downstreamKey: Uint8Array;

const EVENTS: SessionEvent[] = [
  { type: "output", time: 0, data: enc("login: ") },
  { type: "input", time: 1_000_000, data: enc("root\r") },
  { type: "output", time: 12_000_000, data: enc("# ") },
  { type: "input", time: 35_000_000, data: enc("exit\r") },
  { type: "output", time: 36_000_000, data: enc("bye\r\n") },
];

function plan(encrypted: boolean): SealingPlan {
  const entry = (c: Uint8Array) => [{ certificate: c, fourEyes: null }];
  return {
    name: "t",
    downstream: encrypted ? entry(A.cert) : null,
    upstream: encrypted ? entry(C.cert) : null,
    signing: null,
    timestamping: null,
    interval: 30,
  };
}

async function seal(encrypted: boolean, seed = 1): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  await sealEvents({ cols: 80, rows: 24 }, EVENTS, {
    plan: plan(encrypted),
    sink: (c) => void out.push(c.slice()),
    random: counterRandom(seed),
    clock: () => new Date("2026-11-23T00:00:00Z"),
  });
  return new Uint8Array(Buffer.concat(out));
}

type Outcome =
  | { ok: true; state: string; events: SessionEvent[] }
  | { ok: false; code: string; message: string };

/** Reads a trail whole with the keys, as replay does. */
async function consume(trail: Uint8Array, keys = KEYS): Promise<Outcome> {
  try {
    const opened = await openTrail(chunks(trail, 977), "t.trail", keys);
    const events: SessionEvent[] = [];
    for await (const e of opened.events()) events.push(e);
    return { ok: true, state: opened.end.state, events };
  } catch (e) {
    if (e instanceof TrailsealError) return { ok: false, code: e.code, message: e.message };
    throw e; // a crash: the test fails
  }
}

interface Layout {
  headerEnd: number;
  records: { offset: number; end: number; kind: number }[];
}

async function layout(trail: Uint8Array): Promise<Layout> {
  const reader = await TrailReader.open(chunks(trail, 1 << 20), "t");
  const records: Layout["records"] = [];
  for await (const r of reader.records()) {
    records.push({
      offset: r.offset,
      end: r.offset + r.prefix.byteLength + r.body.byteLength,
      kind: r.prefix[0]!,
    });
  }
  return { headerEnd: reader.parsed.size, records };
}

const slice = (t: Uint8Array, a: number, b: number) => t.subarray(a, b);
const join = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Rewrites one record's sequence number in place (for renumbering attacks). */
function renumber(record: Uint8Array, seq: number): Uint8Array {
  const p = decodeRecordPrefix(record.subarray(0, 24), 0);
  return join(encodeRecordPrefix({ ...p, seq }), record.subarray(24));
}

describe("trail tamper suite (keyed)", () => {
  let trail: Uint8Array;
  let clear: Uint8Array;
  let L: Layout;
  let LC: Layout;
  beforeAll(async () => {
    trail = await seal(true);
    clear = await seal(false);
    L = await layout(trail);
    const r = await TrailReader.open(chunks(trail, 1 << 20), "t");
    downstreamKey = (await unlockChannels(r.parsed, KEYS)).keys.downstream!;
    LC = await layout(clear);
  });

  it("the untouched trail opens completely", async () => {
    expect(await consume(trail)).toEqual({ ok: true, state: "complete", events: EVENTS });
    expect(L.records.length).toBe(9); // 5 frames, checkpoint at 30 s, 2 end frames, final checkpoint
  });

  it("a flipped bit anywhere is detected, with the code of the part it hit", async () => {
    const seen = new Map<string, Set<string>>();
    const region = (i: number): string => {
      if (i < 8) return "magic";
      if (i < 10) return "version";
      if (i < 14) return "header length";
      if (i < L.headerEnd - 4) return "header";
      if (i < L.headerEnd) return "annex length";
      const r = L.records.find((x) => i >= x.offset && i < x.end)!;
      const at = i - r.offset;
      const kind = r.kind === 1 ? "frame" : "checkpoint";
      if (at === 0) return "kind";
      if (at === 1) return "flags";
      if (at === 2) return "channel";
      if (at === 3) return "reserved";
      if (at < 12) return "seq";
      if (at < 20) return "time";
      if (at < 24) return "length";
      return `${kind} body`;
    };
    for (let i = 0; i < trail.byteLength; i++) {
      const bad = trail.slice();
      bad[i]! ^= 0x10;
      const r = await consume(bad);
      if (r.ok && r.state === "complete")
        throw new Error(`flip at byte ${i} (${region(i)}) went unnoticed`);
      const set = seen.get(region(i)) ?? new Set<string>();
      // A longer length on the last record reads as a trail cut inside that record.
      set.add(r.ok ? `state:${r.state}` : r.code);
      seen.set(region(i), set);
    }
    const codes = Object.fromEntries([...seen].map(([k, v]) => [k, [...v].sort()]));
    expect(codes).toEqual({
      magic: ["TRAIL_INVALID"],
      version: ["TRAIL_INVALID"],
      // A longer length runs into the records (not JSON, or cut short); a shorter one cuts the JSON.
      "header length": ["HEADER_INVALID", "TRUNCATED"],
      // Either the JSON breaks, a field check fails, the stanza fails, the commitment fails, or the
      // header still parses and every frame's associated data (the header digest) fails.
      header: [
        "FRAME_CORRUPT",
        "HEADER_INVALID",
        "KEY_COMMITMENT_MISMATCH",
        "STANZA_DECRYPT_FAILED",
        "STANZA_INVALID",
      ].filter((c) => seen.get("header")!.has(c)),
      "annex length": ["HEADER_INVALID", "TRUNCATED"],
      kind: ["RECORD_INVALID"],
      flags: ["RECORD_INVALID"], // 0x10 is no defined flag
      channel: ["RECORD_INVALID"],
      reserved: ["RECORD_INVALID"],
      // a flip in the top bytes takes a number past 2^53: RECORD_INVALID (out of range)
      seq: ["RECORD_INVALID", "SEQUENCE_INVALID"],
      time: [
        "CHECKPOINT_INVALID",
        "CHECKPOINT_MISSING",
        "FRAME_CORRUPT",
        "RECORD_INVALID",
        "SEQUENCE_INVALID",
      ],
      length: ["FRAME_CORRUPT", "RECORD_INVALID", "SEQUENCE_INVALID", "state:truncated"].filter(
        (c) => seen.get("length")!.has(c),
      ),
      "frame body": ["FRAME_CORRUPT"],
      // content lines that no longer match, or the length fields; a hex digit flipped by 0x10 is
      // no hex digit, so the head line no longer parses (CHAIN_BROKEN is tested on its own below)
      "checkpoint body": ["CHECKPOINT_INVALID", "RECORD_INVALID"],
    });
    // The header region must at least see the JSON break and the digest-bound frames fail.
    expect(codes.header).toEqual(expect.arrayContaining(["FRAME_CORRUPT", "HEADER_INVALID"]));
  }, 120_000);

  it("a flipped bit in a clear frame is caught by the chain at the next checkpoint", async () => {
    const frame = LC.records[0]!;
    const bad = clear.slice();
    bad[frame.offset + 26]! ^= 0x01;
    const r = await consume(bad, []);
    const broken = chainBrokenAt(bad, 1);
    expect(broken).toMatch(/^record 3: checkpoint 1 covers .* records 0-2 hash to /);
    expect(r).toEqual({ ok: false, code: "CHAIN_BROKEN", message: broken });
  });

  it("a cut at every record boundary leaves a readable, truncated prefix", async () => {
    for (const [i, r] of L.records.entries()) {
      const result = await consume(trail.subarray(0, r.offset));
      // Every event framed before the cut, in order (the two end frames come after the five).
      const frames = L.records.slice(0, i).filter((x) => x.kind === 1).length;
      expect(result).toEqual({
        ok: true,
        state: "truncated",
        events: EVENTS.slice(0, Math.min(frames, EVENTS.length)),
      });
    }
  });

  it("a cut inside a record is reported as truncated at that record", async () => {
    const r = L.records[3]!;
    const opened = await openTrail(chunks(trail.subarray(0, r.offset + 30), 100), "t.trail", KEYS);
    for await (const _ of opened.events()) void _;
    expect(opened.end).toMatchObject({
      state: "truncated",
      reason: `record 3 is cut short at byte ${r.offset + 30}`,
    });
  });

  it("a cut inside the header fails with TRUNCATED", async () => {
    expect(await consume(trail.subarray(0, 100))).toMatchObject({ ok: false, code: "TRUNCATED" });
  });

  it("a dropped record fails with SEQUENCE_INVALID naming the record", async () => {
    const r = L.records[1]!;
    const bad = join(slice(trail, 0, r.offset), slice(trail, r.end, trail.byteLength));
    expect(await consume(bad)).toEqual({
      ok: false,
      code: "SEQUENCE_INVALID",
      message: `record at byte ${r.offset} has sequence number 2 where 1 was expected`,
    });
  });

  it("a dropped and renumbered record fails authentication", async () => {
    const parts = L.records.map((r) => slice(trail, r.offset, r.end));
    const kept = [parts[0]!, ...parts.slice(2).map((p, i) => renumber(p, i + 1))];
    const bad = join(slice(trail, 0, L.headerEnd), ...kept);
    expect(await consume(bad)).toMatchObject({ ok: false, code: "FRAME_CORRUPT" });
  });

  it("a duplicated record fails with SEQUENCE_INVALID", async () => {
    const r = L.records[2]!;
    const bad = join(slice(trail, 0, r.end), slice(trail, r.offset, trail.byteLength));
    expect(await consume(bad)).toMatchObject({ ok: false, code: "SEQUENCE_INVALID" });
  });

  it("reordered records fail with SEQUENCE_INVALID", async () => {
    const [r1, r2] = [L.records[1]!, L.records[2]!];
    const bad = join(
      slice(trail, 0, r1.offset),
      slice(trail, r2.offset, r2.end),
      slice(trail, r1.offset, r1.end),
      slice(trail, r2.end, trail.byteLength),
    );
    expect(await consume(bad)).toMatchObject({ ok: false, code: "SEQUENCE_INVALID" });
  });

  it("a record from another trail (same recipients, same position) fails authentication", async () => {
    const other = await seal(true, 99);
    const LO = await layout(other);
    const r = L.records[2]!;
    const o = LO.records[2]!;
    const bad = join(
      slice(trail, 0, r.offset),
      slice(other, o.offset, o.end),
      slice(trail, r.end, trail.byteLength),
    );
    expect(await consume(bad)).toEqual({
      ok: false,
      code: "FRAME_CORRUPT",
      message: "record 2: downstream frame 1 fails authentication",
    });
  });

  it("a stanza swapped between channels fails the key commitment", async () => {
    // Both channels encrypted to the same certificate, so the swapped stanzas still open.
    const out: Uint8Array[] = [];
    const same = { ...plan(true), upstream: [{ certificate: A.cert, fourEyes: null }] };
    await sealEvents({}, EVENTS, {
      plan: same,
      sink: (c) => void out.push(c.slice()),
      random: counterRandom(5),
      clock: () => new Date(0),
    });
    const t = new Uint8Array(Buffer.concat(out));
    const reader = await TrailReader.open(chunks(t, 1 << 20), "t");
    const h = reader.parsed.header;
    const swapped: TrailHeader = {
      ...h,
      channels: {
        downstream: { ...h.channels.downstream, stanzas: h.channels.upstream.stanzas! },
        upstream: { ...h.channels.upstream, stanzas: h.channels.downstream.stanzas! },
      },
    };
    const { sealed, annex } = encodeHeader(swapped, { stanzas: [] });
    const bad = join(sealed, annex, t.subarray(reader.parsed.size));
    expect(await consume(bad, [A.key])).toEqual({
      ok: false,
      code: "KEY_COMMITMENT_MISMATCH",
      message:
        "t.trail: downstream stanza 0 (entry 0) yields a downstream key that does not match the header's key commitment",
    });
  });

  it("the whole upstream channel removed is detected", async () => {
    const upstream = L.records.filter((r, i) => i > 0 && [1, 3, 6].includes(i));
    expect(upstream.length).toBe(3);
    const kept = L.records
      .filter((r) => !upstream.includes(r))
      .map((r, i) => renumber(slice(trail, r.offset, r.end), i));
    const bad = join(slice(trail, 0, L.headerEnd), ...kept);
    expect(await consume(bad)).toMatchObject({ ok: false, code: "FRAME_CORRUPT" });
  });

  it("a bogus stanza slipped into the annex cannot deny access another stanza grants", async () => {
    const reader = await TrailReader.open(chunks(trail, 1 << 20), "t");
    const { sealed } = reader.parsed;
    const genuine = await makeStanza(downstreamKey, {
      certificate: B.cert,
      fourEyes: null,
    });
    const bogus = await makeStanza(new Uint8Array(32).fill(7), {
      certificate: B.cert,
      fourEyes: null,
    });
    const annexStanza = (st: typeof genuine, entry: number) => ({
      channel: "downstream" as const,
      entry,
      layers: st.layers,
      der: Buffer.from(st.der).toString("base64"),
      added: "2026-11-23T00:00:00.000Z",
    });
    const { annex } = encodeHeader(reader.parsed.header, {
      stanzas: [annexStanza(bogus, 1), annexStanza(genuine, 2)],
    });
    const shared = join(sealed, annex, trail.subarray(reader.parsed.size));
    const opened = await openTrail(chunks(shared, 4096), "t.trail", [B.key, C.key]);
    const events: SessionEvent[] = [];
    for await (const e of opened.events()) events.push(e);
    expect(events).toEqual(EVENTS);
    expect(opened.unlocked.warnings).toEqual([
      "t.trail: added downstream stanza 1 (entry 1) was skipped: KEY_COMMITMENT_MISMATCH: added downstream stanza 1 (entry 1) yields a downstream key that does not match the header's key commitment",
    ]);
    expect(opened.unlocked.access.downstream.openedBy).toMatchObject({ entry: 2 });
  });
});
