/**
 * The fuzz targets: every parser that takes bytes from outside. Each `run` must return or throw
 * a TrailsealError; anything else (a TypeError, a RangeError, an asn1js or forge exception, a
 * hang, a big allocation) is a finding. Targets call the public functions (src/index.ts or the
 * module's exported entry point), so the harness survives rewrites behind them.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import fc from "fast-check";
import { TrailsealError } from "../../src/errors.js";
import { readCertificates } from "../../src/pem.js";
import {
  parsePolicy,
  readAuditPolicy,
  sealingPlan,
  type ParsedAuditPolicy,
} from "../../src/policy.js";
import { openLayer, parseStanzaDer } from "../../src/recipients.js";
import { readAsciicast } from "../../src/formats/asciicast.js";
import { readScript } from "../../src/formats/script.js";
import { parseResponse } from "../../src/timestamp/client.js";
import { makeRequest } from "../../src/timestamp/request.js";
import { startTsaServer, type TsaServer } from "../../src/timestamp/server.js";
import { LOCAL_POLICY_OID } from "../../src/timestamp/token.js";
import { openTrail } from "../../src/trail/open.js";
import { verifyTrail } from "../../src/verify.js";
import {
  FORMAT_NAME,
  encodeHeader,
  encodeRecordPrefix,
  type TrailHeader,
} from "../../src/trail/format.js";
import { decodeVector } from "../../testdata/trails/vectors.js";
import { Rng, mutate as mutateBytes } from "./mutate.js";

export const TESTDATA = join(import.meta.dirname, "..", "..", "testdata");

export interface Target {
  readonly name: string;
  /** Inputs to mutate: real files from testdata/ and the testkit. */
  seeds(): Promise<Uint8Array[]>;
  /** Whole inputs made from scratch (fast-check), structured to get past the first checks. */
  readonly arbitrary: fc.Arbitrary<Uint8Array>;
  /** A target-specific mutation (default: byte-level, ./mutate.ts). */
  mutate?(rng: Rng, seed: Uint8Array, seeds: readonly Uint8Array[]): Uint8Array;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  run(input: Uint8Array): Promise<void>;
}

const files = (dir: string, keep: (name: string) => boolean = () => true): Uint8Array[] =>
  readdirSync(join(TESTDATA, dir))
    .filter((f) => keep(f) && statSync(join(TESTDATA, dir, f)).isFile())
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(TESTDATA, dir, f))));

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

const key = (path: string) => {
  const k = createPrivateKey(readFileSync(join(TESTDATA, path)));
  const spki = createPublicKey(k).export({ type: "spki", format: "der" });
  return { key: k, spkiFingerprint: createHash("sha256").update(spki).digest("hex") };
};

// ---- DER from scratch: TLV trees whose lengths sometimes lie (X.690 §8.1)

function tlv(tag: number, body: Uint8Array, lie: number | null): Uint8Array {
  const n = lie ?? body.byteLength;
  let len: number[];
  if (lie === -1)
    len = [0x80]; // indefinite: not DER
  else if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return new Uint8Array([tag, ...len, ...body]);
}

const lie = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-1, 0, 1, 0x7f, 0x80, 0xffff, 0xffffff, 0x7fffffff, 0xffffffff),
  },
);

const { node: derNode } = fc.letrec<{ node: Uint8Array; prim: Uint8Array; cons: Uint8Array }>(
  (tie) => ({
    node: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("prim"), tie("cons")),
    prim: fc
      .tuple(
        fc.constantFrom(
          0x01,
          0x02,
          0x03,
          0x04,
          0x05,
          0x06,
          0x0c,
          0x13,
          0x16,
          0x17,
          0x18,
          0x80,
          0x81,
          0x82,
          0x1f,
        ),
        fc.oneof(
          fc.uint8Array({ maxLength: 48 }),
          // well-known OIDs' bodies: sha256, signedData, envelopedData, id-ct-TSTInfo, rsaEncryption
          fc
            .constantFrom(
              "608648016503040201",
              "2a864886f70d010702",
              "2a864886f70d010703",
              "2a864886f70d0109100104",
              "2a864886f70d010101",
            )
            .map((h) => new Uint8Array(Buffer.from(h, "hex"))),
        ),
        lie,
      )
      .map(([t, b, l]) => tlv(t, b, l)),
    cons: fc
      .tuple(
        fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa2, 0xa3, 0x24),
        fc.array(tie("node"), { maxLength: 6 }),
        lie,
      )
      .map(([t, kids, l]) => tlv(t, new Uint8Array(Buffer.concat(kids)), l)),
  }),
);
export const derArbitrary: fc.Arbitrary<Uint8Array> = derNode;

// ---- the targets

const KEY_A = key("certs/rsa2048-a.key");
const anchors = () =>
  readCertificates(readFileSync(join(TESTDATA, "pki/root-ca.pem")), { source: "root-ca.pem" });

const vectorTrails = () =>
  readdirSync(join(TESTDATA, "trails"))
    .filter((f) => f.endsWith(".vector"))
    .sort()
    .map((f) => decodeVector(readFileSync(join(TESTDATA, "trails", f))).trail)
    .filter((t) => t.byteLength > 0);

/** Clear trails from scratch: a valid header and records with valid-looking prefixes. */
const trailArbitrary: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.integer({ min: 5, max: 100_010 }),
    fc.boolean(),
    fc.constantFrom<TrailHeader["policy"]["timestamping"]>(null, "local", "remote"),
    fc.array(
      fc.record({
        kind: fc.oneof(fc.constantFrom(1, 2, 3), fc.nat(255)),
        flags: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.nat(255)),
        channel: fc.oneof(fc.constantFrom(0, 1, 0xff), fc.nat(255)),
        seqDelta: fc.oneof(
          { weight: 8, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) },
        ),
        time: fc.oneof(fc.nat(100_000_000), fc.constant(Number.MAX_SAFE_INTEGER)),
        body: fc.uint8Array({ maxLength: 200 }),
        lengthLie: fc.oneof(
          { weight: 10, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.constantFrom(0, 0xffffffff, 0x100001, 0x10011) },
        ),
      }),
      { maxLength: 12 },
    ),
  )
  .map(([interval, signing, timestamping, records]) => {
    const header: TrailHeader = {
      format: FORMAT_NAME,
      trail: "0".repeat(32),
      created: "2026-11-23T00:00:00.000Z",
      policy: { name: "fuzz", signing, timestamping, policyOid: null, interval },
      session: {},
      channels: { downstream: { encrypted: false }, upstream: { encrypted: false } },
    };
    const { sealed, annex } = encodeHeader(header, { stanzas: [] });
    const parts = [sealed, annex];
    let seq = 0;
    for (const r of records) {
      seq = Math.max(0, seq + r.seqDelta);
      const prefix = encodeRecordPrefix({
        kind: r.kind,
        flags: r.flags,
        channel: r.channel,
        seq,
        time: r.time,
        length: r.lengthLie ?? r.body.byteLength,
      });
      parts.push(prefix, r.body);
      seq++;
    }
    return new Uint8Array(Buffer.concat(parts));
  });

const trail: Target = {
  name: "trail",
  seeds: () => Promise.resolve(vectorTrails()),
  arbitrary: trailArbitrary,
  async run(input) {
    const opened = await openTrail(once(input), "fuzz.trail", [KEY_A]);
    for await (const e of opened.events()) void e;
    void opened.end;
  },
};

let verifyAnchors: Uint8Array[] = [];
const verify: Target = {
  name: "verify",
  seeds: () => Promise.resolve(vectorTrails()),
  arbitrary: trailArbitrary,
  async start() {
    verifyAnchors = await anchors();
  },
  async run(input) {
    // verifyTrail returns a verdict for any bad trail: it must not throw at all.
    const v = await verifyTrail(once(input), "fuzz.trail", {
      anchors: verifyAnchors,
      tsaAnchors: verifyAnchors,
      keys: [KEY_A],
    });
    if (typeof v.valid !== "boolean") throw new Error("verdict without valid");
  },
};

function stanzaSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const t of vectorTrails().slice(0, 12)) {
    const m = /"der":"([A-Za-z0-9+/=]+)"/.exec(
      Buffer.from(t.subarray(0, 20_000)).toString("latin1"),
    );
    if (m !== null) out.push(new Uint8Array(Buffer.from(m[1]!, "base64")));
  }
  for (const f of files("recipients/vectors")) {
    const text = Buffer.from(f).toString("utf8");
    const body = text.slice(text.indexOf("\n\n") + 2);
    out.push(new Uint8Array(Buffer.from(body.replace(/\s+/g, ""), "base64")));
  }
  return out;
}

const stanza: Target = {
  name: "stanza",
  seeds: () => Promise.resolve(stanzaSeeds()),
  arbitrary: derArbitrary,
  async run(input) {
    await parseStanzaDer(input);
    await openLayer(input, KEY_A);
  },
};

const certificateSeeds = (): Uint8Array[] => [
  ...files("certs", (f) => f.endsWith(".crt")),
  ...files("certs/variants"),
  ...files("certs/bad"),
  ...files("pki", (f) => /\.(pem|der|p12)$/.test(f)),
];

const pem: Target = {
  name: "pem",
  seeds: () => Promise.resolve(certificateSeeds()),
  arbitrary: fc.oneof(
    derArbitrary,
    derArbitrary.map((d) =>
      new TextEncoder().encode(
        `-----BEGIN CERTIFICATE-----\n${Buffer.from(d).toString("base64")}\n-----END CERTIFICATE-----\n`,
      ),
    ),
    derArbitrary.map((d) =>
      new TextEncoder().encode(
        `-----BEGIN PKCS7-----\n${Buffer.from(d).toString("base64")}\n-----END PKCS7-----\n`,
      ),
    ),
  ),
  async run(input) {
    await readCertificates(input, { source: "fuzz.pem", passphrase: "trailseal-test" });
  },
};

// ---- policy JSON: structural mutations of the SPS examples

const INTERESTING_JSON: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  9,
  10,
  100000,
  100001,
  1e308,
  -0,
  "",
  " ",
  "local",
  "remote",
  "1.2.3",
  "x".repeat(300),
  [],
  {},
  [null],
  [{}],
  { enabled: true },
  { enabled: false },
  "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
];

function mutateJson(rng: Rng, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || rng.below(5) === 0 || depth > 12) {
    return rng.below(3) === 0 ? value : rng.pick(INTERESTING_JSON);
  }
  if (Array.isArray(value)) {
    const a = [...value];
    const i = rng.below(a.length + 1);
    switch (rng.below(3)) {
      case 0:
        a.splice(i, 1);
        break;
      case 1:
        a.splice(i, 0, rng.pick(INTERESTING_JSON));
        break;
      default:
        if (a.length > 0) a[i % a.length] = mutateJson(rng, a[i % a.length], depth + 1);
    }
    return a;
  }
  const o = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(o);
  const k = keys.length > 0 ? rng.pick(keys) : "enabled";
  switch (rng.below(4)) {
    case 0:
      delete o[k];
      break;
    case 1:
      o[rng.pick(["enabled", "certificates", "selection", "__proto__", "constructor", "x"])] =
        rng.pick(INTERESTING_JSON);
      break;
    default:
      o[k] = mutateJson(rng, o[k], depth + 1);
  }
  return o;
}

const policy: Target = {
  name: "policy",
  seeds: () => Promise.resolve(files("policies", (f) => f.endsWith(".json"))),
  arbitrary: fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
  mutate(rng, seed, seeds) {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(seed).toString("utf8"));
    } catch {
      return mutateBytes(rng, seed, seeds);
    }
    for (let i = 1 + rng.below(3); i > 0; i--) value = mutateJson(rng, value);
    return new TextEncoder().encode(JSON.stringify(value) ?? "null");
  },
  async run(input) {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(input).toString("utf8"));
    } catch {
      return; // not JSON: the CLI reports that before the policy code sees it
    }
    // checkPolicy is parsePolicy's problem list, so one parsePolicy call fuzzes both.
    const { policy: parsed, problems } = parsePolicy(value);
    for (const p of problems) {
      if (typeof p.code !== "string" || typeof p.message !== "string" || typeof p.path !== "string")
        throw new Error(`malformed problem ${JSON.stringify(p)}`);
    }
    if ((parsed === null) !== problems.some((p) => p.severity === "error"))
      throw new Error(
        `parsePolicy gave ${parsed === null ? "no policy" : "a policy"} with problems ${JSON.stringify(problems)}`,
      );
    // readAuditPolicy reads the same document again: it must give an audit policy exactly when
    // parsePolicy found one, and refuse everything else with POLICY_INVALID.
    let audit: ParsedAuditPolicy;
    try {
      audit = readAuditPolicy(value);
    } catch (e) {
      if (!(e instanceof TrailsealError)) throw e;
      if (e.code !== "POLICY_INVALID" || parsed?.kind === "audit")
        throw new Error(
          `readAuditPolicy threw ${e.code} on a document parsePolicy read as ${parsed?.kind ?? "refused"}`,
          { cause: e },
        );
      return;
    }
    if (parsed?.kind !== "audit")
      throw new Error(
        `readAuditPolicy read a ${parsed?.kind ?? "refused"} document as an audit policy`,
      );
    sealingPlan(audit);
    await Promise.resolve();
  },
};

// ---- recordings

const asciicastArbitrary = fc
  .tuple(
    fc.record({
      version: fc.constantFrom(2, 3, 1, 4, "2"),
      width: fc.integer({ min: -1, max: 100000 }),
      height: fc.nat(1000),
    }),
    fc.array(
      fc.tuple(
        fc.oneof(fc.double({ noNaN: false }), fc.nat()),
        fc.constantFrom("o", "i", "r", "m", "x", "?"),
        fc.string(),
      ),
      { maxLength: 20 },
    ),
  )
  .map(([h, events]) =>
    new TextEncoder().encode(
      [
        JSON.stringify(
          h.version === 3 ? { version: 3, term: { cols: h.width, rows: h.height } } : h,
        ),
        ...events.map((e) => JSON.stringify(e)),
      ].join("\n"),
    ),
  );

async function drain(events: AsyncIterable<unknown>): Promise<void> {
  for await (const e of events) void e;
}

const asciicast: Target = {
  name: "asciicast",
  seeds: () => Promise.resolve(files("recordings", (f) => f.endsWith(".cast"))),
  arbitrary: asciicastArbitrary,
  async run(input) {
    const rec = await readAsciicast(once(input), { source: "fuzz.cast" });
    await drain(rec.events);
  },
};

/** A script input is two files: u32 length of the log, the log, then the timing file. */
export function packScript(log: Uint8Array, timing: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + log.byteLength + timing.byteLength);
  new DataView(out.buffer).setUint32(0, log.byteLength);
  out.set(log, 4);
  out.set(timing, 4 + log.byteLength);
  return out;
}

function unpackScript(input: Uint8Array): [Uint8Array, Uint8Array] {
  if (input.byteLength < 4) return [input, new Uint8Array(0)];
  const n = Math.min(
    new DataView(input.buffer, input.byteOffset).getUint32(0),
    input.byteLength - 4,
  );
  return [input.subarray(4, 4 + n), input.subarray(4 + n)];
}

const script: Target = {
  name: "script",
  seeds: () => {
    const r = (f: string) => new Uint8Array(readFileSync(join(TESTDATA, "recordings", f)));
    return Promise.resolve([
      packScript(r("script-io.log"), r("script-io.tm")),
      packScript(r("script-classic.ts"), r("script-classic.tm")),
    ]);
  },
  arbitrary: fc
    .tuple(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(
        fc.tuple(
          fc.constantFrom("O", "I", "S", "H", "0", "1"),
          fc.oneof(fc.double(), fc.nat()),
          fc.oneof(fc.nat(), fc.constant(4294967296), fc.string()),
        ),
        { maxLength: 20 },
      ),
      fc.boolean(),
    )
    .map(([log, lines, classic]) =>
      packScript(
        classic
          ? new Uint8Array(
              Buffer.concat([Buffer.from("Script started on 2026-11-23 00:00:00+00:00\n"), log]),
            )
          : log,
        new TextEncoder().encode(
          lines.map(([t, d, n]) => (classic ? `${d} ${n}` : `${t} ${d} ${n}`)).join("\n"),
        ),
      ),
    ),
  async run(input) {
    const [log, timing] = unpackScript(input);
    const rec = await readScript(once(log), once(timing), {
      source: "fuzz.log",
      timingSource: "fuzz.tm",
    });
    await drain(rec.events);
  },
};

// ---- RFC 3161, both sides

const pkiFile = (f: string) => readFileSync(join(TESTDATA, "pki", f));
let server: TsaServer | null = null;

async function startServer(): Promise<TsaServer> {
  const chain = await readCertificates(pkiFile("tsa.pem"), { source: "tsa.pem" });
  let serial = 1n;
  return startTsaServer({
    tsa: { chain, key: createPrivateKey(pkiFile("tsa.key")) },
    policyOid: LOCAL_POLICY_OID,
    port: 0,
    clock: () => new Date("2026-11-23T00:00:00Z"),
    serial: () => serial++,
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: Uint8Array): Promise<{ status: number; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/timestamp-query",
          "content-length": body.byteLength,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function requestSeeds(): Uint8Array[] {
  const imprint = new Uint8Array(32).fill(7);
  return [
    makeRequest(imprint, { nonce: 1n, certReq: true, policyOid: null }),
    makeRequest(imprint, {
      nonce: 0xffffffffffffffffn,
      certReq: false,
      policyOid: LOCAL_POLICY_OID,
    }),
    makeRequest(imprint, { nonce: 5n, certReq: true, policyOid: "1.2.3.4.5" }),
  ];
}

const tsaRequest: Target = {
  name: "tsa-request",
  seeds: () => Promise.resolve(requestSeeds()),
  arbitrary: derArbitrary,
  async start() {
    server = await startServer();
  },
  async stop() {
    await server?.close();
    server = null;
  },
  async run(input) {
    // Through the server, the request parser's one public caller: every body gets a 200 with a
    // TimeStampResp; a systemFailure rejection means the parser threw something unexpected.
    const r = await post(server!.url, input);
    if (r.status !== 200) throw new Error(`HTTP ${r.status} for a ${input.byteLength}-byte body`);
    const parsed = parseResponse(r.body);
    if (parsed.failInfo?.includes("systemFailure"))
      throw new Error(`the server failed on the request: ${parsed.statusText ?? ""}`);
  },
};

const tsaResponse: Target = {
  name: "tsa-response",
  async seeds() {
    const s = await startServer();
    try {
      const out: Uint8Array[] = [];
      for (const req of [...requestSeeds(), new Uint8Array([0x30, 0x00])])
        out.push((await post(s.url, req)).body);
      return out;
    } finally {
      await s.close();
    }
  },
  arbitrary: derArbitrary,
  async run(input) {
    parseResponse(input);
    await Promise.resolve();
  },
};

export const TARGETS: readonly Target[] = [
  trail,
  verify,
  stanza,
  pem,
  policy,
  asciicast,
  script,
  tsaRequest,
  tsaResponse,
];
