import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { SessionEvent } from "../src/events.js";
import { buildPolicy, type RecipientEntry, type SealingPlan } from "../src/policy.js";
import { sealEvents, sinkFor, bytesOf } from "../src/trail/session.js";
import { TrailReader } from "../src/trail/reader.js";
import { EventDecoder, openTrail, unlockChannels } from "../src/trail/open.js";
import { PassThrough } from "node:stream";
import { certDer, chunks, counterRandom, stanzaKey } from "./helpers/fixtures.js";

const enc = (s: string) => new TextEncoder().encode(s);
const A = { cert: certDer("certs/rsa2048-a.crt"), key: stanzaKey("certs/rsa2048-a.key") };
const B = { cert: certDer("certs/rsa2048-b.crt"), key: stanzaKey("certs/rsa2048-b.key") };
const C = { cert: certDer("certs/rsa2048-c.crt"), key: stanzaKey("certs/rsa2048-c.key") };
const E = { cert: certDer("certs/ec-p256-a.crt"), key: stanzaKey("certs/ec-p256-a.key") };
const E384 = { cert: certDer("certs/ec-p384-a.crt"), key: stanzaKey("certs/ec-p384-a.key") };
const one = (c: Uint8Array, fourEyes: Uint8Array | null = null): RecipientEntry => ({
  certificate: c,
  fourEyes,
});

function plan(downstream: RecipientEntry[] | null, upstream: RecipientEntry[] | null): SealingPlan {
  return { name: "test", downstream, upstream, signing: null, timestamping: null, interval: 30 };
}

const EVENTS: SessionEvent[] = [
  { type: "resize", time: 0, cols: 80, rows: 24 },
  { type: "output", time: 1_000, data: enc("$ ") },
  { type: "input", time: 500_000, data: enc("sudo -i\r") },
  { type: "output", time: 600_000, data: enc("[sudo] password for admin: ") },
  { type: "input", time: 2_000_000, data: enc("s3cret\r") },
  { type: "marker", time: 2_500_000, label: "root shell" },
  { type: "output", time: 31_000_000, data: new Uint8Array(200_000).map((_, i) => i % 251) },
  { type: "output", time: 95_000_000, data: enc("logout\r\n") },
  { type: "exit", time: 95_000_001, status: 0 },
];

async function seal(p: SealingPlan, events = EVENTS): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  await sealEvents({ cols: 80, rows: 24, command: "bash" }, events, {
    plan: p,
    sink: (c) => void out.push(c.slice()),
    random: counterRandom(),
    clock: () => new Date("2026-11-23T00:00:00Z"),
  });
  return new Uint8Array(Buffer.concat(out));
}

async function replay(trail: Uint8Array, keys: ReturnType<typeof stanzaKey>[], chunk = 4096) {
  const opened = await openTrail(chunks(trail, chunk), "t.trail", keys);
  const events: SessionEvent[] = [];
  for await (const e of opened.events()) events.push(e);
  return { events, opened };
}

const downstreamOnly = EVENTS.filter((e) => e.type !== "input");

function PassThroughOf(bytes: Uint8Array): PassThrough {
  const p = new PassThrough();
  p.end(bytes);
  return p;
}

describe("trail round trips", () => {
  const layouts: [string, SealingPlan, ReturnType<typeof stanzaKey>[][]][] = [
    ["one RSA", plan([one(A.cert)], [one(A.cert)]), [[A.key]]],
    ["one EC", plan([one(E.cert)], [one(E.cert)]), [[E.key]]],
    [
      "a list of three",
      plan([one(A.cert), one(B.cert), one(E.cert)], [one(A.cert), one(B.cert), one(E.cert)]),
      [[A.key], [B.key], [E.key]],
    ],
    [
      "four-eyes RSA+EC",
      plan([one(A.cert, E.cert)], [one(A.cert, E.cert)]),
      [
        [A.key, E.key],
        [E.key, A.key],
      ],
    ],
    ["separate upstream", plan([one(A.cert)], [one(C.cert)]), [[A.key, C.key]]],
    ["upstream-only", plan(null, [one(C.cert)]), [[C.key]]],
    ["no encryption", plan(null, null), [[]]],
  ];
  for (const [name, p, keySets] of layouts) {
    it(`${name}: replay returns exactly the input events`, async () => {
      const trail = await seal(p);
      for (const keys of keySets) {
        const { events, opened } = await replay(trail, keys);
        expect(events).toEqual(EVENTS);
        expect(opened.end.state).toBe("complete");
      }
    });
  }

  it("a 95-second session at interval 30 has checkpoints at 30, 60, 90 and a final one", async () => {
    const trail = await seal(plan(null, null));
    const { opened } = await replay(trail, []);
    const times: [number, boolean][] = [];
    const reader = (await openTrail(chunks(trail, 1 << 20), "t", [])).reader;
    for await (const r of reader.records())
      if (r.type === "checkpoint") times.push([r.time, r.statement.final]);
    expect(times).toEqual([
      [30_000_000, false],
      [60_000_000, false],
      [90_000_000, false],
      [95_000_001, true],
    ]);
    expect(opened.end.state).toBe("complete");
  });

  it("a 10-minute silence still has a checkpoint in every interval", async () => {
    const events: SessionEvent[] = [
      { type: "output", time: 0, data: enc("a") },
      { type: "output", time: 600_000_000, data: enc("b") },
    ];
    const trail = await seal(plan(null, null), events);
    const reader = (await openTrail(chunks(trail, 1 << 20), "t", [])).reader;
    const times: number[] = [];
    for await (const r of reader.records()) if (r.type === "checkpoint") times.push(r.time / 1e6);
    expect(times).toEqual([...Array.from({ length: 20 }, (_, i) => (i + 1) * 30), 600]);
  });

  it("without the upstream key the keystrokes stay hidden and the screen replays", async () => {
    const trail = await seal(plan([one(A.cert)], [one(C.cert)]));
    const { events, opened } = await replay(trail, [A.key]);
    expect(events).toEqual(downstreamOnly);
    expect(opened.decoder.hidden.upstream).toBe(3); // two inputs and the end frame
    expect(opened.unlocked.access.upstream.openedBy).toBeNull();
    expect(opened.unlocked.access.upstream.alternatives[0]!.layers[0]!.spkiFingerprint).toBe(
      C.key.spkiFingerprint,
    );
  });

  it("four-eyes: each key alone opens nothing", async () => {
    const trail = await seal(plan([one(A.cert, E.cert)], [one(A.cert, E.cert)]));
    for (const key of [A.key, E.key]) {
      const { events, opened } = await replay(trail, [key]);
      expect(events).toEqual([]);
      expect(opened.unlocked.access.downstream.openedBy).toBeNull();
    }
  });

  it("the output does not depend on how the trail bytes are chunked", async () => {
    const trail = await seal(plan([one(E384.cert)], [one(B.cert)]));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70_000 }), async (size) => {
        const { events } = await replay(trail, [E384.key, B.key], size);
        expect(events).toEqual(EVENTS);
      }),
      { numRuns: 15 },
    );
  });

  it("the trail does not depend on how the input events were chunked", async () => {
    // Splitting output into arbitrary pieces and joining them back gives the same downstream bytes.
    const data = new Uint8Array(150_000).map((_, i) => (i * 7) % 256);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 150_000 }), { maxLength: 6 }),
        async (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const pieces: SessionEvent[] = [];
          let start = 0;
          for (const p of [...points, data.byteLength]) {
            if (p > start) pieces.push({ type: "output", time: 1, data: data.subarray(start, p) });
            start = p;
          }
          const trail = await seal(plan([one(A.cert)], null), pieces);
          const { events } = await replay(trail, [A.key]);
          expect(events).toEqual(pieces);
          const joined = Buffer.concat(
            events.map((e) => (e.type === "output" ? e.data : new Uint8Array())),
          );
          expect(new Uint8Array(joined)).toEqual(data);
        },
      ),
      { numRuns: 10 },
    );
  });

  it("seals into web and Node streams and opens from both", async () => {
    const chunksOut: Uint8Array[] = [];
    const web = new WritableStream<Uint8Array>({ write: (c) => void chunksOut.push(c.slice()) });
    await sealEvents({}, EVENTS, {
      plan: plan([one(A.cert)], null),
      sink: sinkFor(web),
      random: counterRandom(),
      clock: () => new Date(0),
    });
    const bytes = new Uint8Array(Buffer.concat(chunksOut));
    const readable = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.subarray(0, 100));
        c.enqueue(bytes.subarray(100));
        c.close();
      },
    });
    const fromWeb = await openTrail(bytesOf(readable), "web", [A.key]);
    const events: SessionEvent[] = [];
    for await (const e of fromWeb.events()) events.push(e);
    expect(events).toEqual(EVENTS);

    const node = new PassThrough();
    const collected: Buffer[] = [];
    node.on("data", (c: Buffer) => collected.push(c));
    await sealEvents({}, EVENTS, {
      plan: plan([one(A.cert)], null),
      sink: sinkFor(node),
      random: counterRandom(),
      clock: () => new Date(0),
    });
    node.end();
    const fromNode = await openTrail(PassThroughOf(Buffer.concat(collected)), "node", [A.key]);
    const again: SessionEvent[] = [];
    for await (const e of fromNode.events()) again.push(e);
    expect(again).toEqual(EVENTS);
  });

  it("a long continued event is passed on in bounded pieces (the reader never holds more)", async () => {
    const data = new Uint8Array(300_000).map((_, i) => (i * 13) % 256);
    const trail = await seal(plan([one(A.cert)], null), [{ type: "output", time: 5, data }]);
    const reader = await TrailReader.open(chunks(trail, 1 << 20), "t");
    const unlocked = await unlockChannels(reader.parsed, [A.key]);
    const decoder = new EventDecoder(reader.parsed, unlocked.keys, 100_000);
    const pieces: Uint8Array[] = [];
    for await (const r of reader.records()) {
      for (const e of decoder.decode(r)) if (e.type === "output") pieces.push(e.data);
    }
    // Frames carry 65535 bytes: two make 131070 >= 100000, passed on; then again; then the rest.
    expect(pieces.map((p) => p.byteLength)).toEqual([131_070, 131_070, 37_860]);
    expect(new Uint8Array(Buffer.concat(pieces))).toEqual(data);
  });

  it("takes the policy object itself as its configuration (as policy create writes it)", async () => {
    const policy = buildPolicy({
      name: "audit",
      encrypt: [{ certificate: A.cert, fourEyes: null }],
      upstream: [{ certificate: C.cert, fourEyes: null }],
    });
    const out: Uint8Array[] = [];
    await sealEvents({}, EVENTS, {
      plan: policy,
      sink: (c) => void out.push(c.slice()),
      random: counterRandom(),
      clock: () => new Date(0),
    });
    const { events, opened } = await replay(new Uint8Array(Buffer.concat(out)), [A.key, C.key]);
    expect(events).toEqual(EVENTS);
    expect(opened.reader.header.policy).toEqual({
      name: "audit",
      signing: false,
      timestamping: null,
      policyOid: null,
      interval: 30,
    });
    await expect(
      sealEvents({}, EVENTS, {
        plan: { ...policy, name: "has space" },
        sink: () => undefined,
        random: counterRandom(),
        clock: () => new Date(0),
      }),
    ).rejects.toMatchObject({
      code: "POLICY_INVALID",
      message: `name: the name "has space" contains whitespace, which SPS refuses; use '_' or '-'`,
    });
  });
});

describe("sealing bulk input", () => {
  const bulk = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
  const seal = async (input: AsyncIterable<Uint8Array>): Promise<Uint8Array> => {
    const out: Uint8Array[] = [];
    const { readRaw } = await import("../src/formats/raw.js");
    const rec = readRaw(input);
    // Clear channels: RSA-OAEP stanzas are randomized by node:crypto, so only a clear trail
    // can be compared byte for byte; the frames are cut the same either way.
    await sealEvents(rec.metadata, rec.events, {
      plan: plan(null, null),
      sink: (c) => void out.push(c.slice()),
      random: counterRandom(),
      clock: () => new Date(0),
    });
    return new Uint8Array(Buffer.concat(out));
  };

  it("raw input becomes full frames whatever its chunking: the same bytes, the same trail", async () => {
    const { readRaw } = await import("../src/formats/raw.js");
    for (const size of [1000, 65535, 65536, 262144]) {
      const pieces = (await collectEvents(readRaw(chunks(bulk, size)).events)).map((e) =>
        e.type === "output" ? e.data.byteLength : -1,
      );
      // One event per frame (65535 data bytes), the rest last: 300000 = 4 x 65535 + 37860.
      expect(pieces).toEqual([65535, 65535, 65535, 65535, 37860]);
    }
    const whole = await seal(chunks(bulk, bulk.byteLength));
    for (const size of [1, 4096, 65536, 262144])
      expect(await seal(chunks(bulk, size))).toEqual(whole);
    const reader = await TrailReader.open(PassThroughOf(whole), "bulk");
    const frames: number[] = [];
    for await (const r of reader.records()) if (r.type === "frame") frames.push(r.body.byteLength);
    // Five data frames (four full, one of 37860 bytes), then two ends; each with its type byte.
    expect(frames).toEqual([65536, 65536, 65536, 65536, 37861, 1, 1]);
  });

  it("a sink's failure is thrown as it is at the writer's next step, and nothing more is written", async () => {
    const failure = new Error("disk full");
    let calls = 0;
    const sealing = sealEvents({}, [{ type: "output", time: 0, data: bulk }], {
      plan: plan([one(A.cert)], null),
      sink: (c) => {
        calls++;
        if (c.byteLength > 1000) throw failure;
      },
      random: counterRandom(),
      clock: () => new Date(0),
    });
    await expect(sealing).rejects.toBe(failure);
    const failedAt = calls;
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(failedAt);
  });
});

async function collectEvents(events: AsyncIterable<SessionEvent>): Promise<SessionEvent[]> {
  const all: SessionEvent[] = [];
  for await (const e of events) all.push(e);
  return all;
}
