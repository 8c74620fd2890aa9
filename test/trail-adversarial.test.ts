/**
 * Crafted trails against the reader: malformed headers, out-of-range fields and structures that
 * would make a reader crash or hold unbounded memory. Each fails with its exact code.
 */
import { describe, expect, it } from "vitest";
import { TrailsealError } from "../src/errors.js";
import {
  CHANNEL_CODE,
  FLAG_CONTINUED,
  FLAG_LAST,
  FORMAT_NAME,
  FrameType,
  MAGIC,
  NO_CHANNEL,
  RecordKind,
  checkpointContent,
  encodeCheckpointBody,
  encodeHeader,
  encodeRecordPrefix,
  encodeStampBody,
  extendChain,
  headerDigest,
  recordDigest,
  type TrailHeader,
} from "../src/trail/format.js";
import { MAX_AWAITING_STAMPS } from "../src/trail/reader.js";
import { openTrail } from "../src/trail/open.js";
import { toHex } from "../src/bytes.js";
import { chunks } from "./helpers/fixtures.js";

const HEADER: TrailHeader = {
  format: FORMAT_NAME,
  trail: "0".repeat(32),
  created: "2026-11-23T00:00:00.000Z",
  policy: { name: "t", signing: false, timestamping: null, policyOid: null, interval: 10 },
  session: {},
  channels: { downstream: { encrypted: false }, upstream: { encrypted: false } },
};

interface Rec {
  kind: number;
  flags?: number;
  channel?: number;
  time: number;
  body: Uint8Array;
}

/** A trail from a header (object or raw JSON text) and records, chained as a writer would. */
function build(header: TrailHeader | string, records: Rec[] = []): Uint8Array {
  let sealed: Uint8Array;
  let annex: Uint8Array;
  if (typeof header === "string") {
    const json = new TextEncoder().encode(header);
    sealed = new Uint8Array(14 + json.byteLength);
    sealed.set(MAGIC, 0);
    new DataView(sealed.buffer).setUint16(8, 1);
    new DataView(sealed.buffer).setUint32(10, json.byteLength);
    sealed.set(json, 14);
    annex = new Uint8Array(4);
  } else ({ sealed, annex } = encodeHeader(header, { stanzas: [] }));
  const parts: Uint8Array[] = [sealed, annex];
  let head = headerDigest(sealed);
  let seq = 0;
  let checkpoints = 0;
  let previous: number | null = null;
  for (const r of records) {
    let body = r.body;
    if (r.kind === RecordKind.checkpoint && body.byteLength === 0) {
      checkpoints++;
      const content = checkpointContent({
        trail: HEADER.trail,
        index: checkpoints,
        time: r.time,
        records: seq,
        head: toHex(head),
        previous,
        final: ((r.flags ?? 0) & 1) !== 0,
      });
      body = encodeCheckpointBody({ content, signature: new Uint8Array(0) });
      previous = seq;
    }
    const prefix = encodeRecordPrefix({
      kind: r.kind,
      flags: r.flags ?? 0,
      channel: r.channel ?? (r.kind === RecordKind.frame ? 0 : NO_CHANNEL),
      seq,
      time: r.time,
      length: body.byteLength,
    });
    head = extendChain(head, recordDigest(prefix, body));
    parts.push(prefix, body);
    seq++;
  }
  return new Uint8Array(Buffer.concat(parts));
}

const data = (s: string) => new Uint8Array([FrameType.data, ...new TextEncoder().encode(s)]);

async function outcome(
  trail: Uint8Array,
): Promise<{ code: string; message: string } | { ok: string }> {
  try {
    const opened = await openTrail(chunks(trail, 1000), "x.trail", []);
    for await (const _ of opened.events()) void _;
    return { ok: opened.end.state };
  } catch (e) {
    if (e instanceof TrailsealError) return { code: e.code, message: e.message };
    throw e;
  }
}

describe("crafted headers", () => {
  const cases: [string, string, string][] = [
    [
      "policy null",
      JSON.stringify({ ...HEADER, policy: null }),
      "x.trail: header has a malformed policy summary",
    ],
    [
      "channels null",
      JSON.stringify({ ...HEADER, channels: null }),
      "x.trail: header has no channels",
    ],
    [
      "a channel null",
      JSON.stringify({ ...HEADER, channels: { downstream: null, upstream: { encrypted: false } } }),
      "x.trail: header has no downstream channel",
    ],
    [
      "session null",
      JSON.stringify({ ...HEADER, session: null }),
      "x.trail: header has no session block",
    ],
    [
      "session an array",
      JSON.stringify({ ...HEADER, session: [] }),
      "x.trail: header has no session block",
    ],
    [
      "interval 1",
      JSON.stringify({ ...HEADER, policy: { ...HEADER.policy, interval: 1 } }),
      "x.trail: header has a malformed policy summary",
    ],
    [
      "interval 1e300",
      JSON.stringify({ ...HEADER, policy: { ...HEADER.policy, interval: 1e300 } }),
      "x.trail: header has a malformed policy summary",
    ],
    [
      "created not a time",
      JSON.stringify({ ...HEADER, created: "yesterday" }),
      "x.trail: header has no creation time",
    ],
    [
      "policy OID not dotted",
      JSON.stringify({ ...HEADER, policy: { ...HEADER.policy, policyOid: "x" } }),
      "x.trail: header has a malformed policy summary",
    ],
    [
      "a layer null",
      JSON.stringify({
        ...HEADER,
        channels: {
          downstream: {
            encrypted: true,
            commitment: "0".repeat(64),
            stanzas: [{ entry: 0, der: "", layers: [null] }],
          },
          upstream: { encrypted: false },
        },
      }),
      "x.trail: downstream stanza 0 is malformed",
    ],
    ["not an object", "[]", "x.trail: header is not an object"],
    ["not JSON", "{", "x.trail: header is not valid JSON"],
  ];
  for (const [name, json, message] of cases) {
    it(`${name}: HEADER_INVALID`, async () => {
      expect(await outcome(build(json))).toEqual({ code: "HEADER_INVALID", message });
    });
  }

  it("more than 256 stanzas on a channel: HEADER_INVALID", async () => {
    const stanza = {
      entry: 0,
      der: "",
      layers: [{ spkiFingerprint: "0".repeat(64), subject: "x", keyType: "RSA" }],
    };
    const json = JSON.stringify({
      ...HEADER,
      channels: {
        downstream: {
          encrypted: true,
          commitment: "0".repeat(64),
          stanzas: Array(257).fill(stanza),
        },
        upstream: { encrypted: false },
      },
    });
    expect(await outcome(build(json))).toEqual({
      code: "HEADER_INVALID",
      message: "x.trail: header has more than 256 downstream stanzas",
    });
  });

  it("an empty file or the start of the magic is truncated; anything else is no trail", async () => {
    const cut = { code: "TRUNCATED", message: "x.trail: header is cut short" };
    expect(await outcome(new Uint8Array(0))).toEqual(cut);
    expect(await outcome(MAGIC.subarray(0, 5))).toEqual(cut);
    expect(await outcome(new TextEncoder().encode("hello"))).toEqual({
      code: "TRAIL_INVALID",
      message: "x.trail is not a trailseal trail (bad magic)",
    });
  });
});

describe("crafted records", () => {
  it("a frame over 64 KiB: RECORD_INVALID", async () => {
    const big = new Uint8Array(70_000);
    big[0] = FrameType.data;
    expect(await outcome(build(HEADER, [{ kind: RecordKind.frame, time: 0, body: big }]))).toEqual({
      code: "RECORD_INVALID",
      message: "record 0: downstream frame of 70000 bytes exceeds the 65536-byte limit",
    });
  });

  it("a last frame marked continued: RECORD_INVALID", async () => {
    const t = build(HEADER, [
      {
        kind: RecordKind.frame,
        flags: FLAG_LAST | FLAG_CONTINUED,
        time: 0,
        body: new Uint8Array([FrameType.end]),
      },
    ]);
    expect(await outcome(t)).toMatchObject({
      code: "RECORD_INVALID",
      message: "record 0: a last frame cannot be continued",
    });
  });

  it("a continued resize: RECORD_INVALID", async () => {
    const t = build(HEADER, [
      {
        kind: RecordKind.frame,
        flags: FLAG_CONTINUED,
        time: 0,
        body: new Uint8Array([FrameType.resize, 0, 80, 0, 24]),
      },
    ]);
    expect(await outcome(t)).toMatchObject({
      code: "RECORD_INVALID",
      message: "record 0: only data frames may be continued",
    });
  });

  it("a resize on the upstream channel: RECORD_INVALID", async () => {
    const t = build(HEADER, [
      {
        kind: RecordKind.frame,
        channel: CHANNEL_CODE.upstream,
        time: 0,
        body: new Uint8Array([FrameType.resize, 0, 80, 0, 24]),
      },
    ]);
    expect(await outcome(t)).toMatchObject({
      code: "RECORD_INVALID",
      message: "record 0: a resize event on the upstream channel (it belongs downstream)",
    });
  });

  it("a final checkpoint where an interval checkpoint is due: CHECKPOINT_MISSING", async () => {
    const t = build(HEADER, [
      { kind: RecordKind.frame, time: 0, body: data("a") },
      { kind: RecordKind.frame, flags: FLAG_LAST, time: 1, body: new Uint8Array([FrameType.end]) },
      {
        kind: RecordKind.frame,
        flags: FLAG_LAST,
        channel: 1,
        time: 1,
        body: new Uint8Array([FrameType.end]),
      },
      { kind: RecordKind.checkpoint, flags: 1, time: 15_000_000, body: new Uint8Array(0) },
    ]);
    expect(await outcome(t)).toMatchObject({
      code: "CHECKPOINT_MISSING",
      message: "record 3 (final checkpoint) at 15s: no checkpoint 1 at 10s before it",
    });
  });

  it("a failed stamp carrying a token: RECORD_INVALID", async () => {
    const h: TrailHeader = { ...HEADER, policy: { ...HEADER.policy, timestamping: "local" } };
    const stamp = encodeStampBody({
      checkpoint: 0,
      status: "failed",
      source: "local",
      nonce: 1n,
      token: new Uint8Array([1]),
      note: "down",
    });
    const t = build(h, [
      { kind: RecordKind.checkpoint, time: 10_000_000, body: new Uint8Array(0) },
      { kind: RecordKind.stamp, time: 10_000_000, body: stamp },
    ]);
    expect(await outcome(t)).toMatchObject({
      code: "RECORD_INVALID",
      message: "record 1 (stamp): a failed stamp with a token",
    });
  });

  it(`more than ${MAX_AWAITING_STAMPS} checkpoints awaiting a stamp: RECORD_INVALID (bounded memory)`, async () => {
    const h: TrailHeader = { ...HEADER, policy: { ...HEADER.policy, timestamping: "local" } };
    const records: Rec[] = Array.from({ length: MAX_AWAITING_STAMPS + 1 }, (_, i) => ({
      kind: RecordKind.checkpoint,
      time: (i + 1) * 10_000_000,
      body: new Uint8Array(0),
    }));
    expect(await outcome(build(h, records))).toMatchObject({
      code: "RECORD_INVALID",
      message: `record ${MAX_AWAITING_STAMPS}: more than ${MAX_AWAITING_STAMPS} checkpoints await a stamp`,
    });
  });
});
