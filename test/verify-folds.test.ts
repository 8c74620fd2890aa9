/**
 * The four accumulators of `verifyTrail`, one at a time: each table row is a sequence of add()
 * calls and the exact verdict it must give. Records come from real sealed trails (signatures and
 * tokens that really verify), changed where a row needs a fault.
 */
import { createHash, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TrailsealError } from "../src/errors.js";
import type { SessionEvent } from "../src/events.js";
import type { SealingPlan } from "../src/policy.js";
import { ChainValidator, checkpointSigner } from "../src/sign.js";
import { LOCAL_POLICY_OID, localStamper } from "../src/timestamp/token.js";
import type { TokenFacts } from "../src/timestamp/verify.js";
import type { TrailHeader } from "../src/trail/format.js";
import type { ChannelAccess } from "../src/trail/open.js";
import { sealEvents } from "../src/trail/session.js";
import {
  TrailReader,
  type CheckpointRecord,
  type FrameRecord,
  type StampRecord,
  type TrailEnd,
  type TrailRecord,
} from "../src/trail/reader.js";
import { verifyTrail, type VerifiedPrefix } from "../src/verify.js";
import { ChannelFold } from "../src/verify/channels.js";
import { IntegrityFold, unreadableHeader } from "../src/verify/integrity.js";
import { SignatureFold } from "../src/verify/signatures.js";
import { StampFold } from "../src/verify/stamps.js";
import { TESTDATA, certDer, chunks, counterRandom } from "./helpers/fixtures.js";

const pki = (n: string) => join(TESTDATA, "pki", n);
const ROOT = certDer("pki/root-ca.pem");
const AT = new Date("2026-11-23T00:00:00Z");
const SIGNER = "C=XX, O=trailseal test, CN=trailseal test signer RSA";
const INTERMEDIATE = "C=XX, O=trailseal test, CN=trailseal test intermediate CA";
const TSA = "C=XX, O=trailseal test, CN=trailseal test TSA";
const SIGNER_FINGERPRINT = createHash("sha256").update(certDer("pki/signer-rsa.pem")).digest("hex");
const EVENTS: SessionEvent[] = [
  { type: "output", time: 1_000_000, data: new TextEncoder().encode("$ ") },
  { type: "output", time: 35_000_000, data: new TextEncoder().encode("bye\r\n") },
];
const PLAN: SealingPlan = {
  name: "t",
  downstream: null,
  upstream: null,
  signing: { x509Identity: "s" },
  timestamping: { selection: "local" },
  interval: 30,
};

/** A clear trail of 35 s, signed by the test signer and locally stamped: checkpoints at 30 and 35 s. */
async function seal(): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  let serial = 1n;
  await sealEvents({}, EVENTS, {
    plan: PLAN,
    sink: (c) => void out.push(c.slice()),
    random: counterRandom(),
    clock: () => AT,
    signer: checkpointSigner({
      chain: [certDer("pki/signer-rsa.pem"), certDer("pki/intermediate-ca.pem")],
      key: createPrivateKey(readFileSync(pki("signer-rsa.key"))),
    }),
    stamper: localStamper(
      { chain: [certDer("pki/tsa.pem")], key: createPrivateKey(readFileSync(pki("tsa.key"))) },
      { clock: () => AT, serial: () => serial++, policyOid: LOCAL_POLICY_OID },
    ),
    awaitStamps: true,
  });
  return new Uint8Array(Buffer.concat(out));
}

async function recordsOf(bytes: Uint8Array) {
  const reader = await TrailReader.open(chunks(bytes, 4096), "t.trail");
  const records: TrailRecord[] = [];
  for await (const r of reader.records()) records.push(r);
  return { records, end: reader.end, header: reader.header };
}

let trail: Uint8Array;
let records: TrailRecord[];
let checkpoints: CheckpointRecord[];
let stamps: StampRecord[];
let frames: FrameRecord[];
let end: TrailEnd;
let header: TrailHeader;

beforeAll(async () => {
  trail = await seal();
  ({ records, end, header } = await recordsOf(trail));
  checkpoints = records.filter((r) => r.type === "checkpoint");
  stamps = records.filter((r) => r.type === "stamp");
  frames = records.filter((r) => r.type === "frame");
  expect(checkpoints.map((c) => [c.statement.index, c.time, c.statement.final])).toEqual([
    [1, 30_000_000, false],
    [2, 35_000_000, true],
  ]);
  expect(stamps.map((s) => s.target.seq)).toEqual(checkpoints.map((c) => c.seq));
});

/** `r` with its signature bytes changed: the last byte (inside the signature value) flipped. */
function forged(r: CheckpointRecord): CheckpointRecord {
  const signature = r.signature.slice();
  signature[signature.length - 1]! ^= 0x01;
  return { ...r, signature };
}

const unsigned = (r: CheckpointRecord): CheckpointRecord => ({ ...r, signature: new Uint8Array() });

describe("IntegrityFold", () => {
  const frame = (seq: number): FrameRecord => ({ ...frames[0]!, seq });

  it("counts what verified, and knows the verified prefix after every record", () => {
    const fold = new IntegrityFold();
    const seen: [number, number | null][] = [];
    for (const r of records) {
      fold.add(r);
      seen.push([fold.records, fold.lastCheckpoint?.index ?? null]);
    }
    const cp1 = checkpoints[0]!.seq;
    expect(seen.slice(0, cp1 + 2)).toEqual([
      ...Array.from({ length: cp1 }, (_, i) => [i + 1, null]),
      [cp1 + 1, 1],
      [cp1 + 2, 1], // its stamp
    ]);
    expect(fold.lastCheckpoint).toEqual({
      index: 2,
      timeUs: 35_000_000,
      records: checkpoints[1]!.statement.records,
    });
  });

  const table: {
    name: string;
    adds: () => TrailRecord[];
    then: (f: IntegrityFold) => unknown;
    verdict: () => unknown;
  }[] = [
    {
      name: "every record, then a complete end",
      adds: () => records,
      then: (f) => f.verdict(end),
      verdict: () => ({
        state: "complete",
        records: records.length,
        checkpoints: 2,
        final: { index: 2, timeUs: 35_000_000 },
      }),
    },
    {
      name: "up to checkpoint 1's stamp, then a truncated end",
      adds: () => records.slice(0, stamps[0]!.seq + 1),
      then: (f) =>
        f.verdict({
          state: "truncated",
          records: stamps[0]!.seq + 1,
          lastCheckpoint: checkpoints[0]!,
          uncoveredFrames: 0,
          reason: "the trail has no final checkpoint",
        }),
      verdict: () => ({
        state: "truncated",
        records: stamps[0]!.seq + 1,
        checkpoints: 1,
        lastCheckpoint: {
          index: 1,
          timeUs: 30_000_000,
          records: checkpoints[0]!.statement.records,
        },
        uncoveredFrames: 0,
        reason: "the trail has no final checkpoint",
      }),
    },
    {
      name: "two frames and no checkpoint, cut",
      adds: () => [frame(0), frame(1)],
      then: (f) =>
        f.verdict({
          state: "truncated",
          records: 2,
          lastCheckpoint: null,
          uncoveredFrames: 2,
          reason: "record 2 is cut short at byte 900",
        }),
      verdict: () => ({
        state: "truncated",
        records: 2,
        checkpoints: 0,
        lastCheckpoint: null,
        uncoveredFrames: 2,
        reason: "record 2 is cut short at byte 900",
      }),
    },
    {
      name: "up to checkpoint 1's stamp, then a fault in the next record",
      adds: () => records.slice(0, stamps[0]!.seq + 1),
      then: (f) =>
        f.tampered(f.records, new TrailsealError("CHAIN_BROKEN", "record 9: the chain breaks")),
      verdict: () => ({
        state: "tampered",
        records: stamps[0]!.seq + 1,
        checkpoints: 1,
        lastCheckpoint: {
          index: 1,
          timeUs: 30_000_000,
          records: checkpoints[0]!.statement.records,
        },
        firstBadRecord: stamps[0]!.seq + 1,
        error: { code: "CHAIN_BROKEN", message: "record 9: the chain breaks" },
      }),
    },
    {
      name: "a bad stanza: the header is at fault before any record",
      adds: () => [],
      then: (f) => f.tampered(-1, new TrailsealError("KEY_COMMITMENT_MISMATCH", "stanza 0")),
      verdict: () => ({
        state: "tampered",
        records: 0,
        checkpoints: 0,
        lastCheckpoint: null,
        firstBadRecord: -1,
        error: { code: "KEY_COMMITMENT_MISMATCH", message: "stanza 0" },
      }),
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const fold = new IntegrityFold();
      for (const r of row.adds()) fold.add(r);
      expect(row.then(fold)).toEqual(row.verdict());
    });
  }

  it("an unreadable header: cut inside it is truncated, anything else a tampered header", () => {
    expect(unreadableHeader(new TrailsealError("TRUNCATED", "t: header cut short"))).toEqual({
      state: "truncated",
      records: 0,
      checkpoints: 0,
      lastCheckpoint: null,
      uncoveredFrames: 0,
      reason: "t: header cut short",
    });
    expect(unreadableHeader(new TrailsealError("TRAIL_INVALID", "t: bad magic"))).toEqual({
      state: "tampered",
      records: 0,
      checkpoints: 0,
      lastCheckpoint: null,
      firstBadRecord: -1,
      error: { code: "TRAIL_INVALID", message: "t: bad magic" },
    });
  });
});

describe("ChannelFold", () => {
  const layer = { spkiFingerprint: "ab".repeat(32), subject: "CN=alice", keyType: "RSA" as const };
  const inner = { spkiFingerprint: "cd".repeat(32), subject: "CN=bob", keyType: "RSA" as const };
  const alt = { entry: 0, layers: [layer], added: null };
  const fourEyes = { entry: 1, layers: [layer, inner], added: "2026-11-23T00:00:00.000Z" };
  const access = (over: Partial<ChannelAccess>): ChannelAccess => ({
    channel: "downstream",
    encrypted: true,
    openedBy: null,
    alternatives: [alt, fourEyes],
    ...over,
  });
  const recipients = [{ spkiFingerprint: layer.spkiFingerprint, subject: "CN=alice" }];
  const both = [...recipients, { spkiFingerprint: inner.spkiFingerprint, subject: "CN=bob" }];

  const table: [string, ChannelAccess, unknown][] = [
    ["clear", access({ encrypted: false, alternatives: [] }), { state: "clear", frames: 2 }],
    [
      "locked: every alternative, a four-eyes one with both recipients, an added one marked",
      access({}),
      {
        state: "locked",
        frames: 2,
        alternatives: [
          { entry: 0, added: false, recipients },
          { entry: 1, added: true, recipients: both },
        ],
      },
    ],
    [
      "opened, but without a decoder no frame was decrypted",
      access({ openedBy: alt }),
      {
        state: "opened",
        frames: 2,
        openedBy: { entry: 0, added: false, recipients },
        alternatives: [
          { entry: 0, added: false, recipients },
          { entry: 1, added: true, recipients: both },
        ],
        decrypted: 0,
      },
    ],
    [
      "upstream: its own frames only",
      access({ channel: "upstream", alternatives: [alt] }),
      { state: "locked", frames: 0, alternatives: [{ entry: 0, added: false, recipients }] },
    ],
  ];
  for (const [name, a, verdict] of table) {
    it(name, () => {
      // Two downstream frames, and records of other kinds that count for no channel.
      const fold = new ChannelFold(header, null);
      for (const r of frames.filter((x) => x.channel === "downstream").slice(0, 2)) fold.add(r);
      for (const r of [...checkpoints, ...stamps]) fold.add(r);
      expect(fold.verdict(a)).toEqual(verdict);
    });
  }
});

describe("StampFold", () => {
  const fold = (anchors: Uint8Array[], expected = true) =>
    new StampFold({
      anchors,
      validator: new ChainValidator(),
      expected,
      policyOid: LOCAL_POLICY_OID,
    });
  const at = AT.toISOString();
  const valid = { state: "valid", genTime: at, tsaName: TSA, source: "local" };
  /** Stamp `i` (0-based) with its nonce changed: the token no longer answers its request. */
  const wrongNonce = (i: number): StampRecord => {
    const s = stamps[i]!;
    return { ...s, stamp: { ...s.stamp, nonce: s.stamp.nonce + 1n } };
  };
  const failed = (i: number, note: string): StampRecord => {
    const s = stamps[i]!;
    return { ...s, stamp: { ...s.stamp, status: "failed", token: new Uint8Array(), note } };
  };
  const untrusted = (i: number) => ({
    code: "CHAIN_UNTRUSTED",
    message: `checkpoint ${i + 1} (record ${stamps[i]!.seq}): certificate "${TSA}" (sha256:f61de6f21b9b8ff22d083ad3c2a943b903e85f63fa687bae897cce517e32dc85) is not trusted at 2026-11-23T00:00:00Z: no trust anchors were given`,
    missing: "tsa-trust-anchor",
    checkpoint: i + 1,
    record: stamps[i]!.seq,
  });
  const badNonce = (i: number) => ({
    code: "TIMESTAMP_INVALID",
    message: `checkpoint ${i + 1} (record ${stamps[i]!.seq}): token nonce ${stamps[i]!.stamp.nonce.toString(16)} does not match the request nonce ${(stamps[i]!.stamp.nonce + 1n).toString(16)}`,
    checkpoint: i + 1,
    record: stamps[i]!.seq,
  });

  const table: {
    name: string;
    anchors: () => Uint8Array[];
    expected?: boolean;
    adds: () => TrailRecord[];
    verdict: () => unknown;
    columns: () => unknown[];
  }[] = [
    {
      name: "every checkpoint stamped, TSA trusted: valid, with the TSA and the genTime span",
      anchors: () => [ROOT],
      adds: () => records,
      verdict: () => ({
        state: "valid",
        source: "local",
        tsaName: TSA,
        policy: LOCAL_POLICY_OID,
        firstGenTime: at,
        lastGenTime: at,
        stamped: 2,
        unstamped: [],
      }),
      columns: () => [valid, valid],
    },
    {
      name: "no TSA trust anchor: untrusted, and the verdict says none was given",
      anchors: () => [],
      adds: () => records,
      verdict: () => ({ state: "untrusted", stamped: 0, unstamped: [], error: untrusted(0) }),
      columns: () => [
        { state: "untrusted", source: "local", error: untrusted(0) },
        { state: "untrusted", source: "local", error: untrusted(1) },
      ],
    },
    {
      name: "the final stamp missing: partial, the final checkpoint listed",
      anchors: () => [ROOT],
      adds: () => records.filter((r) => r !== stamps[1]),
      verdict: () => ({
        state: "partial",
        source: "local",
        tsaName: TSA,
        policy: LOCAL_POLICY_OID,
        firstGenTime: at,
        lastGenTime: at,
        stamped: 1,
        unstamped: [{ index: 2, timeUs: 35_000_000, reason: "no timestamp was recorded for it" }],
        error: { code: "TIMESTAMP_INVALID", message: "1 of 2 checkpoints are unstamped" },
      }),
      columns: () => [valid, { state: "unstamped", reason: "no timestamp was recorded for it" }],
    },
    {
      name: "a stamp that failed at sealing time: unstamped, with the sealer's reason",
      anchors: () => [ROOT],
      adds: () => records.map((r) => (r === stamps[0] ? failed(0, "TSA down") : r)),
      verdict: () => ({
        state: "partial",
        source: "local",
        tsaName: TSA,
        policy: LOCAL_POLICY_OID,
        firstGenTime: at,
        lastGenTime: at,
        stamped: 1,
        unstamped: [{ index: 1, timeUs: 30_000_000, reason: "TSA down" }],
        error: { code: "TIMESTAMP_INVALID", message: "1 of 2 checkpoints are unstamped" },
      }),
      columns: () => [{ state: "unstamped", reason: "TSA down" }, valid],
    },
    {
      name: "no stamp at all on a timestamped trail: not timestamped, and that is a problem",
      anchors: () => [ROOT],
      adds: () => records.filter((r) => r.type !== "stamp"),
      verdict: () => ({
        state: "not-timestamped",
        stamped: 0,
        unstamped: [
          { index: 1, timeUs: 30_000_000, reason: "no timestamp was recorded for it" },
          { index: 2, timeUs: 35_000_000, reason: "no timestamp was recorded for it" },
        ],
        error: { code: "TIMESTAMP_INVALID", message: "no checkpoint carries a timestamp" },
      }),
      columns: () => [
        { state: "unstamped", reason: "no timestamp was recorded for it" },
        { state: "unstamped", reason: "no timestamp was recorded for it" },
      ],
    },
    {
      name: "a trail that is not timestamped: not timestamped, no problem, no column",
      anchors: () => [ROOT],
      expected: false,
      adds: () => records.filter((r) => r.type !== "stamp"),
      verdict: () => ({ state: "not-timestamped", stamped: 0, unstamped: [], error: null }),
      columns: () => [null, null],
    },
    {
      name: "ranking: an untrusted token, then an invalid one: the invalid one leads",
      anchors: () => [],
      adds: () => records.map((r) => (r === stamps[1] ? wrongNonce(1) : r)),
      verdict: () => ({ state: "invalid", stamped: 0, unstamped: [], error: badNonce(1) }),
      columns: () => [
        { state: "untrusted", source: "local", error: untrusted(0) },
        { state: "invalid", source: "local", error: badNonce(1) },
      ],
    },
    {
      name: "ranking: an invalid token, then an untrusted one: the invalid one leads",
      anchors: () => [],
      adds: () => records.map((r) => (r === stamps[0] ? wrongNonce(0) : r)),
      verdict: () => ({ state: "invalid", stamped: 0, unstamped: [], error: badNonce(0) }),
      columns: () => [
        { state: "invalid", source: "local", error: badNonce(0) },
        { state: "untrusted", source: "local", error: untrusted(1) },
      ],
    },
  ];
  for (const row of table) {
    it(row.name, async () => {
      const f = fold(row.anchors(), row.expected);
      for (const r of row.adds()) await f.add(r);
      expect(f.verdict()).toEqual(row.verdict());
      expect(f.checkpoints()).toEqual(row.columns());
    });
  }

  it("returns the facts of a token that verified (for the genTime check), else null", async () => {
    const f = fold([ROOT]);
    const got: (string | null)[] = [];
    for (const r of records.map((x) => (x === stamps[1] ? wrongNonce(1) : x))) {
      const token = await f.add(r);
      got.push(token === null ? null : `${r.type} ${token.genTime.toISOString()}`);
    }
    expect(got.filter((g) => g !== null)).toEqual([`stamp ${at}`]);
  });

  it("a stamp for a checkpoint that awaits none is a fault of the trail", async () => {
    const f = fold([ROOT]);
    await expect(f.add(stamps[0]!)).rejects.toMatchObject({
      code: "RECORD_INVALID",
      message: `record ${stamps[0]!.seq}: a stamp for record ${checkpoints[0]!.seq}, which awaits none`,
    });
  });
});

describe("SignatureFold", () => {
  const signer = (checkpoints: number[]) => ({
    subject: SIGNER,
    issuer: INTERMEDIATE,
    fingerprint: SIGNER_FINGERPRINT,
    codeSigning: true,
    checkpoints,
  });
  const valid = { state: "valid", signer: SIGNER, signingTime: AT.toISOString() };
  const token = (genTime: Date): TokenFacts => ({
    genTime,
    serial: "01",
    policy: LOCAL_POLICY_OID,
    tsaName: TSA,
    nonce: null,
    imprintAlgorithm: "SHA-256",
    signer: { subject: TSA, fingerprint: "00".repeat(32) },
    chain: [],
  });
  const untrusted = (i: number) => ({
    code: "CHAIN_UNTRUSTED",
    message: `checkpoint ${i + 1} (record ${checkpoints[i]!.seq}): certificate "${SIGNER}" (sha256:${SIGNER_FINGERPRINT}) is not trusted at 2026-11-23T00:00:00Z: no trust anchors were given`,
    missing: "trust-anchor",
    checkpoint: i + 1,
    record: checkpoints[i]!.seq,
  });
  const forgedError = (i: number) => ({
    code: "SIGNATURE_INVALID",
    message: `checkpoint ${i + 1} (record ${checkpoints[i]!.seq}): signature invalid: the signature over the signed attributes does not verify with the key of "${SIGNER}"`,
    checkpoint: i + 1,
    record: checkpoints[i]!.seq,
  });
  /** The checkpoints (changed by `change`), each followed by its stamp with `tokenOf`'s token. */
  const run = async (
    options: { anchors: Uint8Array[]; expected?: boolean },
    change: (c: CheckpointRecord, i: number) => CheckpointRecord = (c) => c,
    tokenOf: (i: number) => TokenFacts | null = () => null,
  ) => {
    const fold = new SignatureFold({
      anchors: options.anchors,
      validator: new ChainValidator(),
      expected: options.expected ?? true,
      timestamped: true,
    });
    for (const [i, c] of checkpoints.entries()) {
      await fold.add(change(c, i));
      expect(fold.latest()).toBe(fold.checkpoints()[i]!.state);
      await fold.add(stamps[i]!, tokenOf(i));
    }
    return { verdict: fold.verdict(), columns: fold.checkpoints() };
  };

  it("every checkpoint validly signed: valid, one signer with the checkpoints it signed", async () => {
    expect(await run({ anchors: [ROOT] })).toEqual({
      verdict: { state: "valid", signed: 2, signers: [signer([1, 2])] },
      columns: [valid, valid],
    });
  });

  it("no trust anchor: untrusted, and the verdict says none was given", async () => {
    expect(await run({ anchors: [] })).toEqual({
      // Untrusted is not validly signed: no signer is listed.
      verdict: { state: "untrusted", signed: 2, signers: [], error: untrusted(0) },
      columns: [
        { state: "untrusted", error: untrusted(0) },
        { state: "untrusted", error: untrusted(1) },
      ],
    });
  });

  it("ranking: untrusted, then forged: the forged (invalid) one leads", async () => {
    const r = await run({ anchors: [] }, (c, i) => (i === 1 ? forged(c) : c));
    expect(r).toEqual({
      verdict: { state: "invalid", signed: 2, signers: [], error: forgedError(1) },
      columns: [
        { state: "untrusted", error: untrusted(0) },
        { state: "invalid", error: forgedError(1) },
      ],
    });
  });

  it("ranking: forged, then untrusted: the forged one, the first, leads", async () => {
    const r = await run({ anchors: [] }, (c, i) => (i === 0 ? forged(c) : c));
    expect(r.verdict).toEqual({
      state: "invalid",
      signed: 2,
      signers: [],
      error: forgedError(0),
    });
  });

  it("no checkpoint signed: not signed; a problem only when the header says signing was on", async () => {
    expect(await run({ anchors: [ROOT], expected: false }, unsigned)).toEqual({
      verdict: { state: "not-signed", signed: 0, signers: [], error: null },
      columns: [{ state: "not-signed" }, { state: "not-signed" }],
    });
    expect((await run({ anchors: [ROOT] }, unsigned)).verdict).toEqual({
      state: "not-signed",
      signed: 0,
      signers: [],
      error: {
        code: "CHECKPOINT_INVALID",
        message: "the header says signing was enabled, but no checkpoint is signed",
      },
    });
  });

  it("an unsigned checkpoint among signed ones: invalid, naming it", async () => {
    const r = await run({ anchors: [ROOT] }, (c, i) => (i === 1 ? unsigned(c) : c));
    expect(r).toEqual({
      verdict: {
        state: "invalid",
        signed: 1,
        signers: [signer([1])],
        error: {
          code: "CHECKPOINT_INVALID",
          message: "checkpoint 2 is not signed",
          checkpoint: 2,
          record: checkpoints[1]!.seq,
        },
      },
      columns: [valid, { state: "not-signed" }],
    });
  });

  it("a signing time after the token's genTime (beyond skew) is invalid; within it, valid", async () => {
    const hourBefore = new Date(AT.getTime() - 3_600_000);
    const r = await run({ anchors: [ROOT] }, undefined, (i) =>
      i === 0 ? token(hourBefore) : null,
    );
    const error = {
      code: "SIGNATURE_INVALID",
      message: `checkpoint 1 (stamp record ${stamps[0]!.seq}): the signature claims signing time 2026-11-23T00:00:00.000Z, after its timestamp's genTime 2026-11-22T23:00:00.000Z`,
      checkpoint: 1,
      record: stamps[0]!.seq,
    };
    expect(r).toEqual({
      verdict: { state: "invalid", signed: 2, signers: [signer([1, 2])], error },
      columns: [{ state: "invalid", error }, valid],
    });
    // 100 s is within the skew allowed (120 s): the claim stands.
    const near = new Date(AT.getTime() - 100_000);
    expect((await run({ anchors: [ROOT] }, undefined, () => token(near))).verdict.state).toBe(
      "valid",
    );
  });

  it("a token whose genTime is after the signer expired: untrusted at genTime", async () => {
    const later = new Date("2200-01-01T00:00:00Z");
    const r = await run({ anchors: [ROOT] }, undefined, (i) => (i === 1 ? token(later) : null));
    expect(r.verdict).toMatchObject({
      state: "untrusted",
      error: { code: "CHAIN_UNTRUSTED", checkpoint: 2, record: stamps[1]!.seq },
    });
    expect(r.verdict.state === "untrusted" && r.verdict.error.message).toMatch(
      new RegExp(
        `^checkpoint 2 \\(stamp record ${stamps[1]!.seq}\\): at the timestamp's genTime 2200-01-01T00:00:00\\.000Z: certificate "${SIGNER}" \\(sha256:${SIGNER_FINGERPRINT}\\) is not trusted at 2200-01-01T00:00:00Z: `,
      ),
    );
    expect(r.columns.map((c) => c.state)).toEqual(["valid", "untrusted"]);
  });
});

describe("verifyTrail: the fold as a whole", () => {
  const verify = (
    bytes: Uint8Array,
    anchors: Uint8Array[],
    onVerified?: (p: VerifiedPrefix) => void,
  ) =>
    verifyTrail(chunks(bytes, 4096), "t.trail", {
      anchors,
      tsaAnchors: anchors,
      ...(onVerified === undefined ? {} : { onVerified }),
    });

  it("reports each checkpoint as it is verified", async () => {
    const seen: VerifiedPrefix[] = [];
    await verify(trail, [ROOT], (p) => seen.push(p));
    expect(seen).toEqual(
      checkpoints.map((c) => ({
        checkpoint: { index: c.statement.index, timeUs: c.time, records: c.statement.records },
        signature: "valid",
      })),
    );
  });

  it("one outcome per trail, and verdicts are plain data (JSON and structured clone)", async () => {
    const flipped = trail.slice();
    flipped[frames[0]!.offset + 30]! ^= 0x01;
    const cases: [string, Uint8Array, Uint8Array[], unknown][] = [
      ["valid", trail, [ROOT], []],
      ["invalid", trail, [], ["signature", "timestamp"]],
      ["truncated", trail.subarray(0, checkpoints[1]!.offset), [ROOT], ["complete"]],
      ["tampered", flipped, [ROOT], ["signature", "timestamp", "complete"]],
    ];
    for (const [outcome, bytes, anchors, failed] of cases) {
      const v = await verify(bytes, anchors);
      expect([v.outcome, v.failed], outcome).toEqual([outcome, failed]);
      expect(JSON.parse(JSON.stringify(v))).toEqual(v);
      expect(structuredClone(v)).toEqual(v);
    }
  });
});
