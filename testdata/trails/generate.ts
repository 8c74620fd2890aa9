/**
 * Generates the conformance vectors testdata/trails/*.vector (docs/TESTKIT.md). Never edit a
 * vector by hand: change this file and rerun it.
 *
 * Run: npm run vectors                 (writes testdata/trails/)
 *      npx tsx testdata/trails/generate.ts --out DIR   (writes DIR; the testkit test compares)
 *
 * Deterministic: fixed keys and certificates from testdata/, a fixed clock, a fixed random stream
 * per vector (./deterministic-crypto.ts also fixes the CMS stanzas' randomness), RSA PKCS#1 v1.5
 * signatures and an RSA TSA (deterministic), and fixed TSA serials. Running it twice gives the
 * same bytes. Each vector's `expect:` and `verdict:` are written down here, from the format's
 * rules (docs/FORMAT.md), not copied from what the verifier says; the generator only warns when
 * the verifier disagrees, and test/testkit.test.ts fails then.
 */
import { fixedBytes, reseed } from "./deterministic-crypto.js";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import type { SessionEvent } from "../../src/events.js";
import type { RecipientEntry } from "../../src/recipients.js";
import type { SealingPlan } from "../../src/policy.js";
import { checkpointSigner } from "../../src/sign.js";
import { LOCAL_POLICY_OID, localStamper } from "../../src/timestamp/token.js";
import { startTsaServer } from "../../src/timestamp/server.js";
import { remoteStamper } from "../../src/timestamp/client.js";
import { sealEvents } from "../../src/trail/session.js";
import type { Stamper } from "../../src/timestamp/token.js";
import {
  decodeCheckpointBody,
  decodeRecordPrefix,
  decodeStampBody,
  encodeCheckpointBody,
  encodeHeader,
  encodeRecordPrefix,
  encodeStampBody,
  type TrailHeader,
} from "../../src/trail/format.js";
import { verifyTrail } from "../../src/verify.js";
import {
  ROOT,
  certificateDer,
  encodeVector,
  stanzaKey,
  summarize,
  type VectorHeader,
} from "./vectors.js";

const NOW = "2026-11-23T00:00:00.000Z";
const CLOCK = () => new Date(NOW);
const STAMP_CLOCK = () => new Date("2026-11-23T00:00:02.000Z");
const REMOTE_POLICY_OID = "1.3.6.1.4.1.32473.3161.7";
const enc = (s: string) => new TextEncoder().encode(s);

const RSA_A = "testdata/certs/rsa2048-a";
const RSA_B = "testdata/certs/rsa2048-b";
const RSA_C = "testdata/certs/rsa2048-c";
const ROOT_CA = "testdata/pki/root-ca.pem";
const FOREIGN_CA = "testdata/pki/foreign-root-ca.pem";

/** A session with every event type on both channels, crossing one 30 s checkpoint. */
const EVENTS: SessionEvent[] = [
  { type: "output", time: 0, data: enc("login: ") },
  { type: "input", time: 1_000_000, data: enc("root\r") },
  { type: "output", time: 1_200_000, data: enc("\r\n# ") },
  { type: "marker", time: 5_000_000, label: "privileged shell" },
  { type: "resize", time: 10_000_000, cols: 100, rows: 30 },
  { type: "output", time: 12_000_000, data: enc("# id\r\nuid=0(root)\r\n# ") },
  { type: "input", time: 35_000_000, data: enc("exit\r") },
  { type: "output", time: 36_000_000, data: enc("logout\r\n") },
  { type: "exit", time: 36_000_000, status: 0 },
];

const entry = (cert: string, fourEyes?: string): RecipientEntry => ({
  certificate: certificateDer(`${cert}.crt`),
  fourEyes: fourEyes === undefined ? null : certificateDer(`${fourEyes}.crt`),
});

interface SealOptions {
  downstream: RecipientEntry[] | null;
  upstream: RecipientEntry[] | null;
  /** A signer of testdata/pki (its chain file is used when there is one). */
  signer?: "signer-rsa" | "foreign-signer" | "signer-expired";
  stamps?: "local" | "remote" | "local-first-fails";
}

const SIGNER_CHAINS: Record<NonNullable<SealOptions["signer"]>, string[]> = {
  "signer-rsa": ["signer-rsa.pem", "intermediate-ca.pem"],
  "foreign-signer": ["foreign-signer.pem"],
  "signer-expired": ["signer-expired.pem", "intermediate-ca.pem"],
};

const pkiKey = (name: string) => createPrivateKey(readFileSync(join(ROOT, "testdata/pki", name)));
const TSA = { chain: [certificateDer("testdata/pki/tsa.pem")], key: pkiKey("tsa.key") };

function signerOf(name: NonNullable<SealOptions["signer"]>) {
  return checkpointSigner({
    chain: SIGNER_CHAINS[name].map((f) => certificateDer(`testdata/pki/${f}`)),
    key: pkiKey(`${name}.key`),
  });
}

/** Seals EVENTS under `o`; `label` seeds every random byte of it. */
async function seal(label: string, o: SealOptions): Promise<Uint8Array> {
  reseed(label);
  const plan: SealingPlan = {
    name: "testkit-audit",
    downstream: o.downstream,
    upstream: o.upstream,
    signing: o.signer === undefined ? null : { x509Identity: "testkit-signer" },
    timestamping:
      o.stamps === undefined
        ? null
        : o.stamps === "remote"
          ? { selection: "remote", url: "http://127.0.0.1/", policyOid: REMOTE_POLICY_OID }
          : { selection: "local" },
    interval: 30,
  };
  let serial = 0x7e570000n;
  const nextSerial = () => serial++;
  const server =
    o.stamps === "remote"
      ? await startTsaServer({
          tsa: TSA,
          policyOid: REMOTE_POLICY_OID,
          port: 0,
          clock: STAMP_CLOCK,
          serial: nextSerial,
        })
      : null;
  let stamper: Stamper | null = null;
  if (server !== null) stamper = remoteStamper([server.url], { policyOid: REMOTE_POLICY_OID });
  else if (o.stamps !== undefined) {
    const local = localStamper(TSA, {
      clock: STAMP_CLOCK,
      serial: nextSerial,
      policyOid: LOCAL_POLICY_OID,
    });
    let calls = 0;
    stamper =
      o.stamps === "local"
        ? local
        : {
            kind: "local",
            stamp: (imprint, nonce) =>
              calls++ === 0
                ? Promise.reject(new Error("the TSA did not answer (testkit)"))
                : local.stamp(imprint, nonce),
          };
  }
  const out: Uint8Array[] = [];
  try {
    await sealEvents({ cols: 80, rows: 24, command: "bash", title: "testkit" }, EVENTS, {
      plan,
      sink: (c) => void out.push(c.slice()),
      random: (n) => new Uint8Array(fixedBytes(n)),
      clock: CLOCK,
      signer: o.signer === undefined ? null : signerOf(o.signer),
      stamper,
      awaitStamps: true,
    });
  } finally {
    await server?.close();
  }
  return new Uint8Array(Buffer.concat(out));
}

// ---- taking a trail apart and putting it back together (docs/FORMAT.md, "Records")

interface Parts {
  /** Sealed header and annex. */
  head: Uint8Array;
  records: Uint8Array[];
}

function split(trail: Uint8Array): Parts {
  const view = new DataView(trail.buffer, trail.byteOffset, trail.byteLength);
  const sealedEnd = 14 + view.getUint32(10);
  let at = sealedEnd + 4 + view.getUint32(sealedEnd);
  const head = trail.subarray(0, at);
  const records: Uint8Array[] = [];
  while (at < trail.byteLength) {
    const end = at + 24 + view.getUint32(at + 20);
    records.push(trail.subarray(at, end));
    at = end;
  }
  return { head, records };
}

const join2 = (p: Parts) => new Uint8Array(Buffer.concat([p.head, ...p.records]));
const kindOf = (r: Uint8Array) => r[0]!;
const indexOf = (p: Parts, pred: (r: Uint8Array, i: number) => boolean, nth = 0): number => {
  const found = p.records.map((r, i) => (pred(r, i) ? i : -1)).filter((i) => i >= 0);
  if (found[nth] === undefined) throw new Error("no such record");
  return found[nth]!;
};
const CHECKPOINT = (r: Uint8Array) => kindOf(r) === 2;
const STAMP = (r: Uint8Array) => kindOf(r) === 3;
const FRAME = (channel: number) => (r: Uint8Array) => kindOf(r) === 1 && r[2] === channel;

/** Gives every record the seq of its position (what a forger does after removing records). */
function renumber(p: Parts): Parts {
  return {
    head: p.head,
    records: p.records.map((r, seq) =>
      concat(
        encodeRecordPrefix({ ...decodeRecordPrefix(r.subarray(0, 24), 0), seq }),
        r.subarray(24),
      ),
    ),
  };
}

/** A record with a new body (its length field follows). */
function withBody(record: Uint8Array, body: Uint8Array): Uint8Array {
  const p = decodeRecordPrefix(record.subarray(0, 24), 0);
  return concat(encodeRecordPrefix({ ...p, length: body.byteLength }), body);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function flip(trail: Uint8Array, at: number, bit = 0x01): Uint8Array {
  const out = trail.slice();
  out[at]! ^= bit;
  return out;
}

/** A trail with its sealed header JSON rewritten by `edit` (same annex, same records). */
function editHeader(trail: Uint8Array, edit: (h: TrailHeader) => TrailHeader): Uint8Array {
  const p = split(trail);
  const length = new DataView(p.head.buffer, p.head.byteOffset).getUint32(10);
  const header = JSON.parse(Buffer.from(p.head.subarray(14, 14 + length)).toString("utf8"));
  const { sealed } = encodeHeader(edit(header as TrailHeader), { stanzas: [] });
  return join2({ head: concat(sealed, p.head.subarray(14 + length)), records: p.records });
}

/** Offset of the first occurrence of `needle` in `trail` at or after `from`. */
function find(trail: Uint8Array, needle: string, from = 0): number {
  const at = Buffer.from(trail).indexOf(needle, from);
  if (at < 0) throw new Error(`"${needle}" not found`);
  return at;
}

/** Byte offset of record `i`. */
const offsetOf = (p: Parts, i: number) =>
  p.head.byteLength + p.records.slice(0, i).reduce((n, r) => n + r.byteLength, 0);

// ---- the vectors

interface Vector extends Omit<VectorHeader, "keys" | "ca" | "tsaCa" | "now"> {
  name: string;
  keys?: string[];
  ca?: string[];
  tsaCa?: string[];
  trail: () => Promise<Uint8Array>;
}

const A = [entry(RSA_A)];
const KEY_A = [`${RSA_A}.key`];
const ANCHORS = { ca: [ROOT_CA], tsaCa: [ROOT_CA] };
/** The reference trail: one recipient on both channels, signed, stamped by the local TSA. */
const base = () =>
  seal("base", { downstream: A, upstream: A, signer: "signer-rsa", stamps: "local" });
/** Different certificates for upstream: downstream to a, upstream to c. */
const separate = () =>
  seal("valid-upstream-separate", {
    downstream: A,
    upstream: [entry(RSA_C)],
    signer: "signer-rsa",
    stamps: "local",
  });
/** Four-eyes on both channels: inner a, outer b. */
const fourEyes = () =>
  seal("valid-four-eyes", {
    downstream: [entry(RSA_A, RSA_B)],
    upstream: [entry(RSA_A, RSA_B)],
    signer: "signer-rsa",
    stamps: "local",
  });
const V = (s: string) => `integrity=${s}`;
const OPENED = "downstream=opened upstream=opened";
const SIGNED_STAMPED = "signature=valid timestamp=valid";

const VECTORS: Vector[] = [
  // -- valid trails, one per recipient layout and per signing/timestamping mode
  {
    name: "valid-clear",
    comment: "encryption off: clear frames, still chained; no signing, no timestamping",
    expect: "valid",
    verdict: `${V("complete")} signature=not-signed timestamp=not-timestamped downstream=clear upstream=clear`,
    trail: () => seal("valid-clear", { downstream: null, upstream: null }),
  },
  {
    name: "valid-single",
    comment: "one recipient for both channels, signed, timestamped by the local TSA",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} ${OPENED}`,
    keys: KEY_A,
    ...ANCHORS,
    trail: base,
  },
  {
    name: "valid-single-no-keys",
    comment: "the reference trail verified without any key: complete and signed, channels locked",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} downstream=locked upstream=locked`,
    ...ANCHORS,
    trail: base,
  },
  {
    name: "valid-any-of",
    comment: "two alternative recipients (any one opens); opened with the second one's key",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} ${OPENED}`,
    keys: [`${RSA_B}.key`],
    ...ANCHORS,
    trail: () =>
      seal("valid-any-of", {
        downstream: [entry(RSA_A), entry(RSA_B)],
        upstream: [entry(RSA_A), entry(RSA_B)],
        signer: "signer-rsa",
        stamps: "local",
      }),
  },
  {
    name: "valid-four-eyes",
    comment:
      "four-eyes: the file key enveloped to a, that envelope enveloped to b; both keys given",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} ${OPENED}`,
    keys: [`${RSA_A}.key`, `${RSA_B}.key`],
    ...ANCHORS,
    trail: () => fourEyes(),
  },
  {
    name: "four-eyes-one-key",
    comment: "four-eyes with only the inner key: complete and signed, but the channels stay locked",
    expect: "failed:decrypt",
    verdict: `${V("complete")} ${SIGNED_STAMPED} downstream=locked upstream=locked`,
    keys: KEY_A,
    ...ANCHORS,
    trail: () => fourEyes(),
  },
  {
    name: "valid-upstream-separate",
    comment: "different certificates for upstream: downstream to a, upstream to c",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} ${OPENED}`,
    keys: [`${RSA_A}.key`, `${RSA_C}.key`],
    ...ANCHORS,
    trail: () => separate(),
  },
  {
    name: "valid-upstream-only",
    comment: "SPS's upstream-only form: downstream clear, upstream (keystrokes) encrypted to c",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} downstream=clear upstream=opened`,
    keys: [`${RSA_C}.key`],
    ...ANCHORS,
    trail: () =>
      seal("valid-upstream-only", {
        downstream: null,
        upstream: [entry(RSA_C)],
        signer: "signer-rsa",
        stamps: "local",
      }),
  },
  {
    name: "valid-signed-only",
    comment: "signed checkpoints, no timestamping",
    expect: "valid",
    verdict: `${V("complete")} signature=valid timestamp=not-timestamped ${OPENED}`,
    keys: KEY_A,
    ca: [ROOT_CA],
    trail: () => seal("valid-signed-only", { downstream: A, upstream: A, signer: "signer-rsa" }),
  },
  {
    name: "valid-timestamp-only",
    comment: "timestamped by the local TSA without signing: the tokens stamp the checkpoint text",
    expect: "valid",
    verdict: `${V("complete")} signature=not-signed timestamp=valid ${OPENED}`,
    keys: KEY_A,
    tsaCa: [ROOT_CA],
    trail: () => seal("valid-timestamp-only", { downstream: A, upstream: A, stamps: "local" }),
  },
  {
    name: "valid-remote-tsa",
    comment: "signed, timestamped by a remote RFC 3161 TSA over HTTP with a reqPolicy",
    expect: "valid",
    verdict: `${V("complete")} ${SIGNED_STAMPED} ${OPENED}`,
    keys: KEY_A,
    ...ANCHORS,
    trail: () =>
      seal("valid-remote-tsa", {
        downstream: A,
        upstream: A,
        signer: "signer-rsa",
        stamps: "remote",
      }),
  },
  // -- truncation
  {
    name: "truncated-empty",
    comment: "an empty file: a recorder killed before its header was out",
    expect: "TRUNCATED",
    verdict: `${V("truncated")} signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown`,
    keys: KEY_A,
    ...ANCHORS,
    trail: () => Promise.resolve(new Uint8Array(0)),
  },
  {
    name: "truncated-in-header",
    comment: "cut inside the sealed header JSON",
    expect: "TRUNCATED",
    verdict: `${V("truncated")} signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown`,
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => (await base()).subarray(0, 200),
  },
  {
    name: "truncated-inside-record",
    comment: "cut in the middle of the body of the first frame after checkpoint 1",
    expect: "TRUNCATED",
    verdict:
      "integrity=truncated signature=valid timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const p = split(t);
      const i = indexOf(p, STAMP) + 1;
      return t.subarray(0, offsetOf(p, i) + 30);
    },
  },
  {
    name: "truncated-at-record-boundary",
    comment: "cut exactly after the first frame that follows checkpoint 1",
    expect: "TRUNCATED",
    verdict:
      "integrity=truncated signature=valid timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const p = split(t);
      return t.subarray(0, offsetOf(p, indexOf(p, STAMP) + 2));
    },
  },
  {
    name: "truncated-before-final-checkpoint",
    comment: "both channels ended, but the file stops before the final checkpoint",
    expect: "TRUNCATED",
    verdict:
      "integrity=truncated signature=valid timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const p = split(t);
      return t.subarray(0, offsetOf(p, indexOf(p, CHECKPOINT, 1)));
    },
  },
  // -- one flipped bit in each part
  {
    name: "flip-header",
    comment: "one bit flipped in the policy name of the sealed header (the JSON still parses)",
    expect: "FRAME_CORRUPT",
    verdict:
      "integrity=tampered@0 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      return flip(t, find(t, "testkit-audit") + 1, 0x20);
    },
  },
  {
    name: "flip-header-no-keys",
    comment: "the same flipped header bit, verified without keys: the chain start differs",
    expect: "CHAIN_BROKEN",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=locked upstream=locked",
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      return flip(t, find(t, "testkit-audit") + 1, 0x20);
    },
  },
  {
    name: "flip-stanza",
    comment:
      "one bit flipped (letter case) in the base64 of the downstream stanza's encrypted content",
    expect: "STANZA_DECRYPT_FAILED",
    verdict:
      "integrity=tampered@-1 signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const end = find(t, '"}', find(t, '"der":"'));
      let at = end - 8;
      while (!/[a-zA-Z]/.test(String.fromCharCode(t[at]!))) at--;
      return flip(t, at, 0x20);
    },
  },
  {
    name: "flip-frame",
    comment: "one bit flipped in the ciphertext of the third frame",
    expect: "FRAME_CORRUPT",
    verdict:
      "integrity=tampered@2 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      return flip(t, offsetOf(split(t), 2) + 26);
    },
  },
  {
    name: "flip-frame-no-keys",
    comment: "the same flipped frame bit without keys: the next checkpoint's chain head differs",
    expect: "CHAIN_BROKEN",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=locked upstream=locked",
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      return flip(t, offsetOf(split(t), 2) + 26);
    },
  },
  {
    name: "flip-checkpoint",
    comment: "one bit flipped in the text of checkpoint 1 ('trailseal checkpoint')",
    expect: "CHECKPOINT_INVALID",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      return flip(t, find(t, "trailseal checkpoint"), 0x20);
    },
  },
  {
    name: "flip-signature",
    comment:
      "one bit flipped in the last byte (the signature value) of the final checkpoint's signature",
    expect: "SIGNATURE_INVALID",
    verdict:
      "integrity=complete signature=invalid timestamp=invalid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const p = split(t);
      const i = indexOf(p, CHECKPOINT, 1);
      return flip(t, offsetOf(p, i) + p.records[i]!.byteLength - 1);
    },
  },
  {
    name: "flip-token",
    comment:
      "one bit flipped in the last byte (the TSA's signature) of the final checkpoint's token",
    expect: "TIMESTAMP_INVALID",
    verdict:
      "integrity=complete signature=valid timestamp=invalid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const t = await base();
      const p = split(t);
      const i = indexOf(p, STAMP, 1);
      const body = p.records[i]!.subarray(24);
      const stamp = decodeStampBody(body, i);
      // the token ends 2 bytes (the empty note's length) before the body does
      return flip(t, offsetOf(p, i) + 24 + body.byteLength - 2 - 1 - stamp.note.length);
    },
  },
  {
    name: "version-future",
    comment: "a trail of format version 2 (bytes 8-9 = 00 02)",
    expect: "TRAIL_INVALID",
    verdict:
      "integrity=tampered@-1 signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => flip(await base(), 9, 0x03),
  },
  {
    name: "magic-bad",
    comment: "the magic's CRLF turned into LF-LF, as text-mode copying would",
    expect: "TRAIL_INVALID",
    verdict:
      "integrity=tampered@-1 signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => flip(await base(), 6, 0x07),
  },
  // -- records removed, duplicated, reordered, foreign
  {
    name: "record-dropped",
    comment: "the third record removed, the rest left as they are",
    expect: "SEQUENCE_INVALID",
    verdict:
      "integrity=tampered@2 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      return join2({ head: p.head, records: p.records.filter((_, i) => i !== 2) });
    },
  },
  {
    name: "record-dropped-renumbered",
    comment: "the third record removed and the later ones renumbered to close the gap",
    expect: "FRAME_CORRUPT",
    verdict:
      "integrity=tampered@2 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      return join2(renumber({ head: p.head, records: p.records.filter((_, i) => i !== 2) }));
    },
  },
  {
    name: "record-duplicated",
    comment: "the third record written twice",
    expect: "SEQUENCE_INVALID",
    verdict:
      "integrity=tampered@3 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      return join2({
        head: p.head,
        records: p.records.flatMap((r, i) => (i === 2 ? [r, r] : [r])),
      });
    },
  },
  {
    name: "records-reordered",
    comment: "the first and third records (both downstream frames) swapped and renumbered",
    expect: "FRAME_CORRUPT",
    verdict:
      "integrity=tampered@0 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const r = [...p.records];
      [r[0], r[2]] = [r[2]!, r[0]!];
      return join2(renumber({ head: p.head, records: r }));
    },
  },
  {
    name: "record-foreign",
    comment: "the third record replaced by the third record of another trail under the same policy",
    expect: "FRAME_CORRUPT",
    verdict:
      "integrity=tampered@2 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const other = split(
        await seal("foreign", {
          downstream: A,
          upstream: A,
          signer: "signer-rsa",
          stamps: "local",
        }),
      );
      const p = split(await base());
      return join2({
        head: p.head,
        records: p.records.map((r, i) => (i === 2 ? other.records[2]! : r)),
      });
    },
  },
  {
    name: "record-after-final",
    comment:
      "a copy of the last data frame (at the final checkpoint's time) appended after the final stamp",
    expect: "RECORD_INVALID",
    verdict:
      "integrity=tampered@15 signature=valid timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const last = indexOf(p, FRAME(0), 5);
      return join2(renumber({ head: p.head, records: [...p.records, p.records[last]!] }));
    },
  },
  {
    name: "upstream-removed",
    comment: "every upstream frame removed and the rest renumbered; verified without keys",
    expect: "CHAIN_BROKEN",
    verdict:
      "integrity=tampered@5 signature=not-signed timestamp=not-timestamped downstream=locked upstream=locked",
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      return join2(renumber({ head: p.head, records: p.records.filter((r) => !FRAME(1)(r)) }));
    },
  },
  {
    name: "checkpoint-removed",
    comment: "checkpoint 1 and its stamp removed, the rest renumbered",
    expect: "CHECKPOINT_MISSING",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const c = indexOf(p, CHECKPOINT);
      return join2(
        renumber({ head: p.head, records: p.records.filter((_, i) => i !== c && i !== c + 1) }),
      );
    },
  },
  // -- checkpoints, stanzas, commitments
  {
    name: "checkpoint-head-mismatch",
    comment: "checkpoint 1 states another chain head, and is validly signed over that statement",
    expect: "CHAIN_BROKEN",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const i = indexOf(p, CHECKPOINT);
      const { content } = decodeCheckpointBody(p.records[i]!.subarray(24), i);
      const text = Buffer.from(content)
        .toString("utf8")
        .replace(/^head: .*$/m, `head: ${"ab".repeat(32)}`);
      const forged = enc(text);
      const signature = await signerOf("signer-rsa").sign(forged, CLOCK());
      const records = [...p.records];
      records[i] = withBody(p.records[i]!, encodeCheckpointBody({ content: forged, signature }));
      return join2({ head: p.head, records });
    },
  },
  {
    name: "checkpoint-unsigned",
    comment: "checkpoint 1's signature removed in a trail whose header says it is signed",
    expect: "CHECKPOINT_INVALID",
    verdict:
      "integrity=tampered@6 signature=not-signed timestamp=not-timestamped downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const i = indexOf(p, CHECKPOINT);
      const { content } = decodeCheckpointBody(p.records[i]!.subarray(24), i);
      const records = [...p.records];
      records[i] = withBody(
        p.records[i]!,
        encodeCheckpointBody({ content, signature: new Uint8Array(0) }),
      );
      return join2({ head: p.head, records });
    },
  },
  {
    name: "commitment-wrong",
    comment: "the header's downstream key commitment replaced by the upstream one",
    expect: "KEY_COMMITMENT_MISMATCH",
    verdict:
      "integrity=tampered@-1 signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown",
    keys: [`${RSA_A}.key`, `${RSA_C}.key`],
    ...ANCHORS,
    trail: async () =>
      editHeader(await separate(), (h) => {
        const d = h.channels.downstream;
        const u = h.channels.upstream;
        if (d.stanzas === undefined || u.stanzas === undefined || u.commitment === undefined)
          throw new Error("expected encrypted channels");
        return { ...h, channels: { downstream: { ...d, commitment: u.commitment }, upstream: u } };
      }),
  },
  {
    name: "stanzas-swapped",
    comment:
      "the downstream and upstream stanzas swapped in the header (commitments left in place)",
    expect: "KEY_COMMITMENT_MISMATCH",
    verdict:
      "integrity=tampered@-1 signature=not-signed timestamp=not-timestamped downstream=unknown upstream=unknown",
    keys: [`${RSA_A}.key`, `${RSA_C}.key`],
    ...ANCHORS,
    trail: async () =>
      editHeader(await separate(), (h) => {
        const d = h.channels.downstream;
        const u = h.channels.upstream;
        if (d.stanzas === undefined || u.stanzas === undefined || u.commitment === undefined)
          throw new Error("expected encrypted channels");
        return {
          ...h,
          channels: {
            downstream: { ...d, stanzas: u.stanzas },
            upstream: { ...u, stanzas: d.stanzas },
          },
        };
      }),
  },
  // -- signers and tokens
  {
    name: "signer-outside-anchors",
    comment: "checkpoints signed by a certificate of another root than the given anchor",
    expect: "CHAIN_UNTRUSTED",
    verdict:
      "integrity=complete signature=untrusted timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: () =>
      seal("signer-outside-anchors", {
        downstream: A,
        upstream: A,
        signer: "foreign-signer",
        stamps: "local",
      }),
  },
  {
    name: "signer-expired",
    comment: "checkpoints signed in 2026 by a certificate valid only in 2020",
    expect: "CHAIN_UNTRUSTED",
    verdict:
      "integrity=complete signature=untrusted timestamp=valid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: () =>
      seal("signer-expired", {
        downstream: A,
        upstream: A,
        signer: "signer-expired",
        stamps: "local",
      }),
  },
  {
    name: "tsa-outside-anchors",
    comment: "tokens from a TSA that does not chain to the given TSA anchor",
    expect: "CHAIN_UNTRUSTED",
    verdict:
      "integrity=complete signature=valid timestamp=untrusted downstream=opened upstream=opened",
    keys: KEY_A,
    ca: [ROOT_CA],
    tsaCa: [FOREIGN_CA],
    trail: base,
  },
  {
    name: "token-other-data",
    comment:
      "the final checkpoint's token replaced by a genuine token of the same TSA over other data",
    expect: "TIMESTAMP_INVALID",
    verdict:
      "integrity=complete signature=valid timestamp=invalid downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: async () => {
      const p = split(await base());
      const i = indexOf(p, STAMP, 1);
      const stamp = decodeStampBody(p.records[i]!.subarray(24), i);
      const other = await localStamper(TSA, {
        clock: STAMP_CLOCK,
        serial: () => 0x7e57ffffn,
        policyOid: LOCAL_POLICY_OID,
      }).stamp(new Uint8Array(32).fill(0x5a), stamp.nonce);
      const records = [...p.records];
      records[i] = withBody(p.records[i]!, encodeStampBody({ ...stamp, token: other }));
      return join2({ head: p.head, records });
    },
  },
  {
    name: "checkpoint-unstamped",
    comment: "the TSA did not answer for checkpoint 1: its stamp record says failed",
    expect: "TIMESTAMP_INVALID",
    verdict:
      "integrity=complete signature=valid timestamp=partial downstream=opened upstream=opened",
    keys: KEY_A,
    ...ANCHORS,
    trail: () =>
      seal("checkpoint-unstamped", {
        downstream: A,
        upstream: A,
        signer: "signer-rsa",
        stamps: "local-first-fails",
      }),
  },
];

/** Every vector: its file name and bytes. */
export async function generate(): Promise<
  { name: string; bytes: Uint8Array; warning: string | null }[]
> {
  const out: { name: string; bytes: Uint8Array; warning: string | null }[] = [];
  for (const v of VECTORS) {
    const trail = await v.trail();
    const header: VectorHeader = {
      expect: v.expect,
      verdict: v.verdict,
      keys: v.keys ?? [],
      ca: v.ca ?? [],
      tsaCa: v.tsaCa ?? [],
      now: NOW,
      comment: v.comment,
    };
    const verdict = await verifyTrail(
      (async function* () {
        yield trail;
      })(),
      `${v.name}.vector`,
      {
        keys: header.keys.map(stanzaKey),
        anchors: header.ca.map(certificateDer),
        tsaAnchors: header.tsaCa.map(certificateDer),
      },
    );
    const got = summarize(verdict);
    const warning =
      got.expect === v.expect && got.verdict === v.verdict
        ? null
        : `${v.name}: declared ${v.expect} / ${v.verdict}; the verifier says ${got.expect} / ${got.verdict}`;
    out.push({ name: `${v.name}.vector`, bytes: encodeVector(header, trail), warning });
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const o = args.indexOf("--out");
  const dir = o >= 0 && args[o + 1] !== undefined ? args[o + 1]! : join(ROOT, "testdata", "trails");
  mkdirSync(dir, { recursive: true });
  const vectors = await generate();
  // Stale vectors (renamed or removed here) must not linger.
  for (const f of readdirSync(dir)) if (f.endsWith(".vector")) rmSync(join(dir, f));
  for (const v of vectors) {
    writeFileSync(join(dir, v.name), v.bytes);
    if (v.warning !== null) console.warn(`warning: ${v.warning}`);
  }
  console.log(`${vectors.length} vectors written to ${dir}`);
}

await main();
