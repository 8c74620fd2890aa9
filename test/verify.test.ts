/**
 * `trailseal verify` and `trailseal export`: verdicts, the tamper suite (no key), and openssl
 * checking what export writes.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
  readdirSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ChainValidator, checkpointSigner, signatureValue } from "../src/sign.js";
import { formatVerdict } from "../src/cli/verify.js";
import { issueCertificate } from "../src/pkix/certify.js";
import { LOCAL_POLICY_OID, localStamper, serialSource } from "../src/timestamp/token.js";
import { sealEvents } from "../src/trail/session.js";
import { verifyTrail, type Verdict } from "../src/verify.js";
import { TrailReader } from "../src/trail/reader.js";
import { encodeRecordPrefix, decodeRecordPrefix } from "../src/trail/format.js";
import { chainBrokenAt } from "./helpers/chain.js";
import { runCli } from "./helpers/io.js";
import { TESTDATA, certDer, chunks, counterRandom, stanzaKey } from "./helpers/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-verify-"));
const p = (n: string) => join(dir, n);
const pki = (n: string) => join(TESTDATA, "pki", n);
const certs = (n: string) => join(TESTDATA, "certs", n);
const ROOT = certDer("pki/root-ca.pem");

// A 95-second session: checkpoints at 30, 60, 90 and a final one at 95.
const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000, command: "bash" }),
  JSON.stringify([0.5, "o", "$ "]),
  JSON.stringify([1.0, "i", "id\r"]),
  JSON.stringify([1.2, "o", "uid=0(root)\r\n$ "]),
  JSON.stringify([45.0, "o", "tick\r\n"]),
  JSON.stringify([70.0, "i", "exit\r"]),
  JSON.stringify([95.0, "o", "logout\r\n"]),
  "",
].join("\n");

async function ok(argv: string[]) {
  const r = await runCli(argv, { cwd: dir });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

async function verdictOf(
  bytes: Uint8Array,
  options: Parameters<typeof verifyTrail>[2] = { anchors: [ROOT], tsaAnchors: [ROOT] },
): Promise<Verdict> {
  return verifyTrail(chunks(bytes, 8192), "t.trail", options);
}

interface Rec {
  offset: number;
  end: number;
  kind: number;
  seq: number;
}

async function records(bytes: Uint8Array): Promise<{ headerEnd: number; recs: Rec[] }> {
  const reader = await TrailReader.open(chunks(bytes, 1 << 20), "t");
  const recs: Rec[] = [];
  for await (const r of reader.records())
    recs.push({
      offset: r.offset,
      end: r.offset + r.prefix.byteLength + r.body.byteLength,
      kind: r.prefix[0]!,
      seq: r.seq,
    });
  return { headerEnd: reader.parsed.size, recs };
}

/** `openssl cms -verify` of a detached DER signature over `content`, against the test root. */
function cmsVerify(p7s: string, content: string) {
  return spawnSync("openssl", [
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-in",
    p7s,
    "-content",
    content,
    "-CAfile",
    pki("root-ca.pem"),
    "-purpose",
    "any",
    "-out",
    "/dev/null",
  ]);
}

/** The problem a verdict part reports, if it has one. */
const problemOf = (part: Verdict["signature"] | Verdict["timestamp"] | Verdict["integrity"]) =>
  "error" in part ? part.error : null;

const join_ = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const renumber = (rec: Uint8Array, seq: number) =>
  join_(
    encodeRecordPrefix({ ...decodeRecordPrefix(rec.subarray(0, 24), 0), seq }),
    rec.subarray(24),
  );

describe("verify", () => {
  let trail: Uint8Array;
  let L: { headerEnd: number; recs: Rec[] };

  beforeAll(async () => {
    writeFileSync(p("s.cast"), CAST);
    await ok([
      "policy",
      "create",
      "--name",
      "audit",
      "--encrypt",
      certs("rsa2048-a.crt"),
      "--upstream",
      certs("rsa2048-c.crt"),
      "--sign-identity",
      "signer",
      "--timestamp",
      "local",
      "-o",
      p("policy.json"),
    ]);
    const sealArgs = [
      "seal",
      "--policy",
      p("policy.json"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
      "--sign-key",
      pki("signer-rsa.key"),
      "--tsa-cert",
      pki("tsa.pem"),
      "--tsa-key",
      pki("tsa.key"),
    ];
    await ok([...sealArgs, p("s.cast"), "-o", p("s.trail")]);
    await ok([
      ...sealArgs.slice(0, 3),
      "--sign-cert",
      pki("foreign-signer.pem"),
      "--sign-key",
      pki("foreign-signer.key"),
      "--tsa-cert",
      pki("tsa.pem"),
      "--tsa-key",
      pki("tsa.key"),
      p("s.cast"),
      "-o",
      p("foreign.trail"),
    ]);
    trail = new Uint8Array(readFileSync(p("s.trail")));
    L = await records(trail);
  });

  it("a sealed, signed, locally stamped trail is VALID, with every state in the verdict", async () => {
    const r = await runCli(
      ["verify", p("s.trail"), "--ca", pki("root-ca.pem"), "--tsa-ca", pki("root-ca.pem")],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`${p("s.trail")}: VALID`);
    expect(lines[1]).toMatch(
      /^ {2}DOWNSTREAM {2}encrypted, \d+ frames; needs sha256:[0-9a-f]{64} \(.*\)$/,
    );
    expect(lines[3]).toMatch(
      /^ {2}SIGNATURE {3}valid: C=XX, O=trailseal test, CN=trailseal test signer RSA \(code signing\), 4 checkpoints signed$/,
    );
    expect(lines[4]).toMatch(/^ {2}TIMESTAMP {3}valid: 4 tokens, local TSA .*, genTime \d{4}-.*Z/);
    expect(lines[5]).toMatch(
      /^ {2}INTEGRITY {3}complete: \d+ records, 4 checkpoints, final checkpoint 4 at 95s$/,
    );

    const j = JSON.parse(
      (
        await ok([
          "verify",
          "--json",
          p("s.trail"),
          "--ca",
          pki("root-ca.pem"),
          "--tsa-ca",
          pki("root-ca.pem"),
        ])
      ).stdout,
    ) as Verdict[];
    expect(j[0]!.required).toEqual(["signature", "timestamp", "complete"]);
    expect(
      j[0]!.checkpoints.map((c) => [
        c.index,
        c.timeUs,
        c.final,
        c.signature.state,
        c.timestamp?.state,
      ]),
    ).toEqual([
      [1, 30_000_000, false, "valid", "valid"],
      [2, 60_000_000, false, "valid", "valid"],
      [3, 90_000_000, false, "valid", "valid"],
      [4, 95_000_000, true, "valid", "valid"],
    ]);
  });

  it("with --key it also decrypts every frame and checks the key commitments", async () => {
    const j = JSON.parse(
      (
        await ok([
          "verify",
          "--json",
          p("s.trail"),
          "--ca",
          pki("root-ca.pem"),
          "--tsa-ca",
          pki("root-ca.pem"),
          "--key",
          certs("rsa2048-a.key"),
        ])
      ).stdout,
    ) as Verdict[];
    const v = j[0]!;
    expect(v.required).toEqual(["signature", "timestamp", "complete", "decrypt"]);
    expect(v.valid).toBe(true);
    expect(v.downstream).toMatchObject({ state: "opened", decrypted: v.downstream?.frames });
    expect(v.upstream).toMatchObject({ state: "locked" });
    expect(v.upstream).not.toHaveProperty("decrypted");
  });

  it("without trust anchors the signature is untrusted and the trail invalid (exit 1)", async () => {
    const r = await runCli(["verify", p("s.trail")], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    // The whole verdict; only the clock's time ("is not trusted at …") is left open.
    const now = / is not trusted at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z: /g;
    expect(r.stdout.replace(now, " is not trusted at NOW: ")).toBe(
      `${p("s.trail")}: INVALID (failed: signature, timestamp)\n` +
        "  DOWNSTREAM  encrypted, 5 frames; needs sha256:dd06f9ad05fe1415fb839ec0dee2eb015212fb139d7e5edcea0778870c70e82c (O=trailseal tests, CN=trailseal test recipient rsa2048-a)\n" +
        "  UPSTREAM    encrypted, 3 frames; needs sha256:f18cbbad8757c967e71ac42d3ec38ec0ff0a7d7bcd26ac11ebe761050b3828f5 (O=trailseal tests, CN=trailseal test recipient rsa2048-c)\n" +
        '  SIGNATURE   untrusted: checkpoint 1 (record 3): certificate "C=XX, O=trailseal test, CN=trailseal test signer RSA" (sha256:e44ccca93c6c7a11f3d5461287bc9e3fdeaeb47a6761089d1792a9effab08c43) is not trusted at NOW: no trust anchors were given (no --ca trust anchor was given)\n' +
        '  TIMESTAMP   untrusted: checkpoint 1 (record 4): certificate "C=XX, O=trailseal test, CN=trailseal test TSA" (sha256:f61de6f21b9b8ff22d083ad3c2a943b903e85f63fa687bae897cce517e32dc85) is not trusted at NOW: no trust anchors were given (no --tsa-ca trust anchor was given)\n' +
        "  INTEGRITY   complete: 16 records, 4 checkpoints, final checkpoint 4 at 95s\n",
    );
  });

  it("a signer outside the trust anchors is untrusted (CHAIN_UNTRUSTED)", async () => {
    const v = await verdictOf(new Uint8Array(readFileSync(p("foreign.trail"))));
    expect(v.valid).toBe(false);
    expect(v.failed).toEqual(["signature"]);
    // Trust anchors were given: nothing is missing, the chain just does not reach them.
    expect(v.signature).toMatchObject({
      state: "untrusted",
      error: { code: "CHAIN_UNTRUSTED", checkpoint: 1, record: 3 },
    });
    expect(problemOf(v.signature)).not.toHaveProperty("missing");
    // Checked now (no timestamp on this trail): only the time is the clock's.
    const foreign = '"C=XX, O=trailseal test, CN=trailseal test foreign signer"';
    expect(
      problemOf(v.signature)?.message.replace(/ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: /, " at NOW: "),
    ).toBe(
      `checkpoint 1 (record 3): certificate ${foreign} (sha256:5d2cb52c0ad7bcea186b94487710f9af58fd6a4e2a2c5213aa144d0c3eb46176) is not trusted at NOW: ` +
        `no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test foreign root CA" of ${foreign} is neither a trust anchor nor among the 0 included certificate(s)`,
    );
    expect(v.integrity.state).toBe("complete");
  });

  it("--require chooses what must hold", async () => {
    const r = await runCli(
      [
        "verify",
        p("foreign.trail"),
        "--ca",
        pki("root-ca.pem"),
        "--tsa-ca",
        pki("root-ca.pem"),
        "--require",
        "complete,timestamp",
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const bad = await runCli(["verify", p("s.trail"), "--require", "complete,bogus"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "trailseal: error: --require takes signature, timestamp, complete, decrypt; not bogus\n",
    );
  });

  it("many trails in one call: one verdict each, exit 1 if any failed", async () => {
    const r = await runCli(
      [
        "verify",
        p("s.trail"),
        p("foreign.trail"),
        "--ca",
        pki("root-ca.pem"),
        "--tsa-ca",
        pki("root-ca.pem"),
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${p("s.trail")}: VALID\n`);
    expect(r.stdout).toContain(`${p("foreign.trail")}: INVALID (failed: signature)\n`);
  });

  it("a chain validation per signer, not per checkpoint", async () => {
    const validator = new ChainValidator();
    const v = await verdictOf(trail, { anchors: [ROOT], tsaAnchors: [ROOT], validator });
    expect(v.valid).toBe(true);
    expect(validator.validations).toBe(2); // the signer's chain once, the TSA's once
  });

  describe("tamper suite (no key)", () => {
    const tampered = (v: Verdict) =>
      v.integrity.state === "tampered"
        ? {
            state: v.integrity.state,
            record: v.integrity.firstBadRecord,
            code: v.integrity.error.code,
            valid: v.valid,
          }
        : { state: v.integrity.state, valid: v.valid };

    it("a flipped bit in each part of each record is caught, with its code", async () => {
      const seen: Record<string, Set<string>> = {};
      for (const r of L.recs) {
        const kind = r.kind === 1 ? "frame" : r.kind === 2 ? "checkpoint" : "stamp";
        const spots: [string, number][] = [
          ["kind", 0],
          ["flags", 1],
          ["channel", 2],
          ["seq", 11],
          ["time", 19],
          ["length", 23],
          ["body start", 24],
          ["body middle", 24 + Math.floor((r.end - r.offset - 24) / 2)],
          ["body end", r.end - r.offset - 1],
        ];
        for (const [part, at] of spots) {
          const bad = trail.slice();
          bad[r.offset + at]! ^= 0x01;
          const v = await verdictOf(bad);
          expect(v.valid, `${kind} ${r.seq} ${part}`).toBe(false);
          const key = `${kind} ${part}`;
          (seen[key] ??= new Set()).add(
            v.integrity.state === "tampered"
              ? v.integrity.error.code
              : `${v.integrity.state}/${v.signature.state}/${v.timestamp.state}`,
          );
        }
      }
      const codes = Object.fromEntries(Object.entries(seen).map(([k, s]) => [k, [...s].sort()]));
      // Frames are covered by the chain: any change surfaces at the next checkpoint.
      expect(codes["frame body start"]).toEqual(["CHAIN_BROKEN"]);
      expect(codes["frame body end"]).toEqual(["CHAIN_BROKEN"]);
      expect(codes["frame seq"]).toEqual(["SEQUENCE_INVALID"]);
      expect(codes["frame kind"]).toEqual(["RECORD_INVALID"]);
      // The body end of a checkpoint is its signature: it no longer verifies (nor its stamp, over
      // the signature value); for all but the final one the next checkpoint's head catches it too.
      expect(codes["checkpoint body end"]).toEqual(["CHAIN_BROKEN", "complete/invalid/invalid"]);
      expect(codes["checkpoint seq"]).toEqual(["SEQUENCE_INVALID"]);
      // A stamp's token end is inside the token's signature: the token fails.
      // Stamps inside the chain are caught by the next checkpoint; the final checkpoint's stamp,
      // which no checkpoint covers, by its token (body middle) or its pinned time.
      expect(codes["stamp body middle"]).toEqual(["CHAIN_BROKEN", "complete/valid/invalid"]);
      expect(codes["stamp time"]).toEqual(["CHAIN_BROKEN", "RECORD_INVALID"]);
      expect(codes["stamp body start"]).toEqual(["RECORD_INVALID"]); // names a record that is no checkpoint
      expect(codes["stamp body end"]).toEqual(["RECORD_INVALID"]); // note length runs past the body
      // The record prefixes: each field's own code. (Lengths of frames and stamps are left out:
      // what a shifted boundary reads next depends on random ciphertext and token bytes.)
      expect(codes["frame flags"]).toEqual(["CHAIN_BROKEN", "RECORD_INVALID"]); // the last flag
      expect(codes["frame channel"]).toEqual(["CHAIN_BROKEN", "RECORD_INVALID"]); // after its end
      expect(codes["frame time"]).toEqual(["CHAIN_BROKEN", "SEQUENCE_INVALID"]);
      expect(codes["frame body middle"]).toEqual(["CHAIN_BROKEN"]);
      expect(codes["checkpoint kind"]).toEqual(["RECORD_INVALID"]);
      expect(codes["checkpoint flags"]).toEqual(["CHECKPOINT_INVALID", "CHECKPOINT_MISSING"]);
      expect(codes["checkpoint channel"]).toEqual(["RECORD_INVALID"]);
      expect(codes["checkpoint time"]).toEqual(["CHECKPOINT_INVALID"]);
      expect(codes["checkpoint length"]).toEqual(["RECORD_INVALID"]);
      expect(codes["checkpoint body start"]).toEqual(["RECORD_INVALID"]);
      expect(codes["checkpoint body middle"]).toEqual(["CHAIN_BROKEN", "complete/invalid/valid"]);
      expect(codes["stamp kind"]).toEqual(["RECORD_INVALID"]);
      expect(codes["stamp flags"]).toEqual(["RECORD_INVALID"]);
      expect(codes["stamp channel"]).toEqual(["RECORD_INVALID"]);
      expect(codes["stamp seq"]).toEqual(["SEQUENCE_INVALID"]);
    }, 120_000);

    it("with the key, a flipped bit in a frame's ciphertext is caught at that frame", async () => {
      const reader = await TrailReader.open(chunks(trail, 1 << 20), "t");
      let seq = -1;
      for await (const r of reader.records())
        if (seq < 0 && r.type === "frame" && r.channel === "downstream" && r.seq > 0) seq = r.seq;
      const r = L.recs[seq]!;
      const bad = trail.slice();
      bad[r.offset + 30]! ^= 0x01;
      const keys = [stanzaKey("certs/rsa2048-a.key")];
      const v = await verdictOf(bad, { anchors: [ROOT], tsaAnchors: [ROOT], keys });
      expect(tampered(v)).toEqual({
        state: "tampered",
        record: seq,
        code: "FRAME_CORRUPT",
        valid: false,
      });
      // Records before it verified; it did not.
      expect(v.integrity.records).toBe(seq);
    });

    it("a flipped bit in a header value that keeps the JSON valid: the chain start moves", async () => {
      const text = Buffer.from(trail.subarray(0, L.headerEnd)).toString("latin1");
      const firstCheckpoint = L.recs.find((r) => r.kind === 2)!.seq;
      const cases: [string, number, string, number][] = [
        ['"command":"bash"', 11, "CHAIN_BROKEN", firstCheckpoint], // bash -> cash
        ['"startTime":1764000000', 13, "CHAIN_BROKEN", firstCheckpoint],
        ['"rows":24', 7, "CHAIN_BROKEN", firstCheckpoint], // 24 -> 34
        ['"interval":30', 11, "CHECKPOINT_INVALID", firstCheckpoint], // 30 s -> 20 s
      ];
      for (const [needle, offset, code, record] of cases) {
        const at = text.indexOf(needle) + offset;
        expect(at, needle).toBeGreaterThan(offset);
        const bad = trail.slice();
        bad[at]! ^= 0x01;
        const v = await verdictOf(bad);
        expect(tampered(v), needle).toEqual({ state: "tampered", record, code, valid: false });
      }
    });

    it("a flipped bit in the header is caught", async () => {
      const spots: [number, string, RegExp][] = [
        [0, "TRAIL_INVALID", /bad magic/],
        [9, "TRAIL_INVALID", /unsupported trail format version 0$/],
        [12, "HEADER_INVALID", /header is not valid JSON$/], // the header length
        [40, "HEADER_INVALID", /header has no trail id$/], // the "trail" key
        [L.headerEnd - 10, "HEADER_INVALID", /not valid JSON$/], // the annex
      ];
      for (const [at, code, message] of spots) {
        const bad = trail.slice();
        bad[at]! ^= 0x01;
        const v = await verdictOf(bad);
        expect(tampered(v), String(at)).toEqual({
          state: "tampered",
          record: -1,
          code,
          valid: false,
        });
        expect(problemOf(v.integrity)?.message).toMatch(message);
      }
    });

    it("a dropped record", async () => {
      const r = L.recs[2]!;
      const v = await verdictOf(join_(trail.subarray(0, r.offset), trail.subarray(r.end)));
      expect(tampered(v)).toEqual({
        state: "tampered",
        record: 2,
        code: "SEQUENCE_INVALID",
        valid: false,
      });
    });

    it("a dropped record, the rest renumbered", async () => {
      const parts = L.recs.map((r) => trail.subarray(r.offset, r.end));
      const kept = [...parts.slice(0, 2), ...parts.slice(3).map((x, i) => renumber(x, i + 2))];
      const v = await verdictOf(join_(trail.subarray(0, L.headerEnd), ...kept));
      expect(tampered(v)).toMatchObject({ state: "tampered", code: "CHAIN_BROKEN", valid: false });
    });

    it("a duplicated record", async () => {
      const r = L.recs[1]!;
      const v = await verdictOf(join_(trail.subarray(0, r.end), trail.subarray(r.offset)));
      expect(tampered(v)).toEqual({
        state: "tampered",
        record: 2,
        code: "SEQUENCE_INVALID",
        valid: false,
      });
    });

    it("reordered records", async () => {
      const [a, b] = [L.recs[1]!, L.recs[2]!];
      const v = await verdictOf(
        join_(
          trail.subarray(0, a.offset),
          trail.subarray(b.offset, b.end),
          trail.subarray(a.offset, a.end),
          trail.subarray(b.end),
        ),
      );
      expect(tampered(v)).toEqual({
        state: "tampered",
        record: 1,
        code: "SEQUENCE_INVALID",
        valid: false,
      });
    });

    it("a foreign record (another trail's, same position)", async () => {
      const other = new Uint8Array(readFileSync(p("foreign.trail")));
      const LO = await records(other);
      const r = L.recs[1]!;
      const o = LO.recs[1]!;
      const mixed = join_(
        trail.subarray(0, r.offset),
        other.subarray(o.offset, o.end),
        trail.subarray(r.end),
      );
      const v = await verdictOf(mixed);
      expect(tampered(v)).toMatchObject({ state: "tampered", code: "CHAIN_BROKEN", valid: false });
      const broken = chainBrokenAt(mixed, 1);
      expect(broken).toMatch(/^record 3: checkpoint 1 covers .* records 0-2 hash to /);
      expect(problemOf(v.integrity)?.message).toBe(broken);
    });

    it("a removed checkpoint (renumbered) leaves its interval without one", async () => {
      const cp = L.recs.find((r) => r.kind === 2)!;
      const stamp = L.recs.find((r) => r.kind === 3 && r.offset > cp.offset)!;
      const parts = L.recs
        .filter((r) => r !== cp && r !== stamp)
        .map((r, i) => renumber(trail.subarray(r.offset, r.end), i));
      const v = await verdictOf(join_(trail.subarray(0, L.headerEnd), ...parts));
      expect(tampered(v)).toMatchObject({
        state: "tampered",
        code: "CHECKPOINT_MISSING",
        valid: false,
      });
      expect(problemOf(v.integrity)?.message).toBe(
        "record 3 at 45s: no checkpoint 1 at 30s before it",
      );
    });

    it("a removed final checkpoint: truncated after checkpoint 3 at 90 s", async () => {
      const final = L.recs.filter((r) => r.kind === 2).at(-1)!;
      const v = await verdictOf(trail.subarray(0, final.offset));
      expect(v.valid).toBe(false);
      expect(v.integrity).toMatchObject({
        state: "truncated",
        lastCheckpoint: { index: 3, timeUs: 90_000_000 },
        reason: "the trail has no final checkpoint",
      });
      // Unsigned: the frames after checkpoint 3 (its own stamp is evidence, not session data).
      const cp3 = L.recs.filter((r) => r.kind === 2).at(-2)!;
      const frames = L.recs.filter((r) => r.kind === 1 && r.seq > cp3.seq && r.seq < final.seq);
      expect(frames.length).toBeGreaterThan(0);
      expect(v.integrity).toMatchObject({ uncoveredFrames: frames.length });
    });

    it("a cut at every record boundary and inside every record reads as truncated, never as valid", async () => {
      const final = L.recs.filter((r) => r.kind === 2).at(-1)!;
      for (const r of L.recs) {
        for (const cut of [r.offset, r.offset + 10, r.end - 1]) {
          const v = await verdictOf(trail.subarray(0, cut));
          expect(v.valid).toBe(false);
          if (r.seq > final.seq && cut === r.offset) {
            // Cut before the final checkpoint's stamp: complete, but the final checkpoint is unstamped.
            expect(v.integrity.state).toBe("complete");
            expect(v.timestamp.state).toBe("partial");
            expect(v.timestamp.unstamped).toEqual([
              { index: 4, timeUs: 95_000_000, reason: "no timestamp was recorded for it" },
            ]);
          } else {
            expect(v.integrity.state).toBe("truncated");
            expect(v.outcome).toBe("truncated");
          }
        }
      }
      // …but a cut right after the final checkpoint's stamp is the whole trail.
      expect((await verdictOf(trail)).valid).toBe(true);
    }, 120_000);

    it("the whole upstream channel removed", async () => {
      const reader = await TrailReader.open(chunks(trail, 1 << 20), "t");
      const upstream = new Set<number>();
      for await (const r of reader.records())
        if (r.type === "frame" && r.channel === "upstream") upstream.add(r.seq);
      const kept = L.recs
        .filter((r) => !upstream.has(r.seq))
        .map((r, i) => renumber(trail.subarray(r.offset, r.end), i));
      const v = await verdictOf(join_(trail.subarray(0, L.headerEnd), ...kept));
      expect(tampered(v)).toMatchObject({ state: "tampered", code: "CHAIN_BROKEN", valid: false });
    });
  });

  describe("export: openssl checks what it writes", () => {
    const out = p("evidence");
    beforeAll(async () => {
      await ok(["export", p("s.trail"), out]);
    });

    it("openssl cms -verify accepts every checkpoint signature, and rejects a changed byte", () => {
      const files = readdirSync(out)
        .filter((f) => f.endsWith(".p7s"))
        .sort();
      expect(files).toEqual([
        "checkpoint-001.p7s",
        "checkpoint-002.p7s",
        "checkpoint-003.p7s",
        "checkpoint-004.p7s",
      ]);
      for (const f of files) {
        const base = join(out, f.replace(/\.p7s$/, ""));
        const good = cmsVerify(`${base}.p7s`, `${base}.txt`);
        expect(good.status, good.stderr.toString()).toBe(0);
        expect(good.stderr.toString()).toContain("Verification successful");
        const content = readFileSync(`${base}.txt`);
        content[content.length - 2]! ^= 0x01;
        writeFileSync(`${base}.bad`, content);
        const bad = cmsVerify(`${base}.p7s`, `${base}.bad`);
        expect(bad.status).toBe(4);
        expect(bad.stderr.toString()).toContain("content verify error");
      }
    });

    it("openssl ts -verify accepts every local token over the signature value", () => {
      for (const k of ["001", "002", "003", "004"]) {
        const r = spawnSync("openssl", [
          "ts",
          "-verify",
          "-token_in",
          "-in",
          join(out, `checkpoint-${k}.tst`),
          "-data",
          join(out, `checkpoint-${k}.sig`),
          "-CAfile",
          pki("root-ca.pem"),
        ]);
        expect(r.stdout.toString(), r.stderr.toString()).toContain("Verification: OK");
      }
    });

    it("VERIFY.txt's commands run as written and pass", () => {
      const text = readFileSync(join(out, "VERIFY.txt"), "utf8");
      const commands = text
        .split("\n")
        .filter((l) => l.startsWith("openssl cms -verify") || l.startsWith("openssl ts -verify"));
      expect(commands).toHaveLength(8);
      for (const c of commands) {
        execFileSync("sh", ["-c", c], {
          cwd: out,
          env: { ...process.env, CA: pki("root-ca.pem"), TSA_CA: pki("root-ca.pem") },
          stdio: "pipe",
        });
      }
    });

    it("openssl cms -decrypt opens each stanza, and the key matches the header's commitment", () => {
      const header = JSON.parse(readFileSync(join(out, "header.json"), "utf8"));
      for (const [channel, key] of [
        ["downstream", certs("rsa2048-a.key")],
        ["upstream", certs("rsa2048-c.key")],
      ] as const) {
        const file = join(out, `stanza-${channel}-0.der`);
        execFileSync("openssl", [
          "cms",
          "-decrypt",
          "-binary",
          "-inform",
          "DER",
          "-in",
          file,
          "-inkey",
          key,
          "-out",
          `${file}.key`,
        ]);
        expect(readFileSync(`${file}.key`).length).toBe(32);
        const mac = execFileSync(
          "sh",
          [
            "-c",
            `openssl dgst -sha256 -mac HMAC -macopt hexkey:$(od -An -tx1 -v stanza-${channel}-0.der.key | tr -d ' \\n') commitment-label-${channel}.txt`,
          ],
          { cwd: out },
        ).toString();
        expect(mac.trim().split(" ").at(-1)).toBe(header.channels[channel].commitment);
      }
    });
  });
});

describe("a trail signed before its signer certificate expired", () => {
  // Signed and stamped on 2025-12-01 by a leaf valid 2025-06-01 .. 2026-01-01: valid then, expired
  // now. An auditor checks it years later; both trailseal and the exported openssl commands must
  // judge it at the time of signing, not at the time of checking.
  const at = new Date("2025-12-01T00:00:00Z");
  let trailBytes: Uint8Array;
  const out = p("expired-since");

  beforeAll(async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const leaf = await issueCertificate({
      subject: "C=XX, O=trailseal test, CN=signer expired since",
      publicKey,
      issuer: {
        certificate: certDer("pki/intermediate-ca.pem"),
        key: createPrivateKey(readFileSync(pki("intermediate-ca.key"))),
      },
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2026-01-01T00:00:00Z"),
      keyUsage: { usages: ["digitalSignature"] },
      extendedKeyUsage: { oids: ["1.3.6.1.5.5.7.3.3"], critical: false },
      basicConstraints: { ca: false },
    });
    const identity = { chain: [leaf, certDer("pki/intermediate-ca.pem")], key: privateKey };
    const tsa = {
      chain: [certDer("pki/tsa.pem")],
      key: createPrivateKey(readFileSync(pki("tsa.key"))),
    };
    const parts: Uint8Array[] = [];
    await sealEvents(
      { cols: 80, rows: 24, command: "bash" },
      [
        { type: "output", time: 500_000, data: new TextEncoder().encode("$ ") },
        { type: "output", time: 40_000_000, data: new TextEncoder().encode("exit\r\n") },
      ],
      {
        plan: {
          name: "t",
          downstream: null,
          upstream: null,
          signing: { x509Identity: "signer" },
          timestamping: { selection: "local" },
          interval: 30,
        },
        sink: (c) => void parts.push(c.slice()),
        random: counterRandom(),
        clock: () => at,
        signer: checkpointSigner(identity),
        stamper: localStamper(tsa, {
          clock: () => at,
          serial: serialSource(counterRandom(7)),
          policyOid: LOCAL_POLICY_OID,
          accuracyMillis: 1000,
        }),
        awaitStamps: true,
      },
    );
    trailBytes = new Uint8Array(Buffer.concat(parts));
    writeFileSync(p("expired-since.trail"), trailBytes);
  });

  it("trailseal verify: VALID (the chain is checked at the signing time)", async () => {
    const v = await verdictOf(trailBytes);
    expect(v.valid).toBe(true);
    expect(v.signature.state).toBe("valid");
  });

  it("export: every openssl command of VERIFY.txt passes (they check at the signing time / genTime)", async () => {
    await ok(["export", p("expired-since.trail"), out]);
    const text = readFileSync(join(out, "VERIFY.txt"), "utf8");
    const commands = text
      .split("\n")
      .filter((l) => l.startsWith("openssl cms -verify") || l.startsWith("openssl ts -verify"));
    expect(commands).toHaveLength(4);
    const epoch = String(at.getTime() / 1000);
    for (const c of commands) {
      expect(c).toContain(` -attime ${epoch} `);
      const r = spawnSync("sh", ["-c", c], {
        cwd: out,
        env: { ...process.env, CA: pki("root-ca.pem"), TSA_CA: pki("root-ca.pem") },
      });
      expect(r.status, `${c}\n${r.stderr.toString()}`).toBe(0);
    }
    // …and a changed byte of the content still fails.
    writeFileSync(join(out, "checkpoint-001.txt"), "changed\n");
    const bad = spawnSync("sh", ["-c", commands[0]!], {
      cwd: out,
      env: { ...process.env, CA: pki("root-ca.pem"), TSA_CA: pki("root-ca.pem") },
    });
    expect(bad.status).toBe(4);
    expect(bad.stderr.toString()).toContain("content verify error");
  });

  it("export of it with its final signature malformed: every file and VERIFY.txt written; openssl refuses that one signature only", async () => {
    const good = new Uint8Array(readFileSync(p("expired-since.trail")));
    const L = await records(good);
    const final = L.recs.filter((r) => r.kind === 2).at(-1)!;
    const bad = good.slice();
    const at = Buffer.from(bad).indexOf(Buffer.from([0x30, 0x82]), final.offset + 24);
    expect(at).toBeGreaterThan(final.offset);
    expect(at).toBeLessThan(final.end);
    bad[at] = 0x31; // the ContentInfo's SEQUENCE tag: the signature no longer parses
    writeFileSync(p("malformed-sig.trail"), bad);
    const out = p("malformed-sig");
    const r = await runCli(["export", p("malformed-sig.trail"), out], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `trailseal: warning: checkpoint 2 of ${p("malformed-sig.trail")}: signature is malformed: ContentInfo: expected tag 0x30, found 0x31\n`,
    );
    expect(
      readdirSync(out)
        .filter((f) => f.startsWith("checkpoint-002"))
        .sort(),
    ).toEqual(["checkpoint-002.p7s", "checkpoint-002.tst", "checkpoint-002.txt"]);
    const text = readFileSync(join(out, "VERIFY.txt"), "utf8");
    expect(text).toContain(
      "# the signature of checkpoint 2 is malformed (signature is malformed: ContentInfo: expected tag 0x30, found 0x31): openssl must refuse it\n",
    );
    const env = { ...process.env, CA: pki("root-ca.pem"), TSA_CA: pki("root-ca.pem") };
    const results = text
      .split("\n")
      .filter((l) => l.startsWith("openssl cms -verify") || l.startsWith("openssl ts -verify"))
      .map((c) => [/ -in (\S+)/.exec(c)![1], spawnSync("sh", ["-c", c], { cwd: out, env }).status]);
    expect(results).toEqual([
      ["checkpoint-001.p7s", 0],
      ["checkpoint-001.tst", 0],
      ["checkpoint-002.p7s", 2], // openssl cannot read it
    ]);
  });

  it("export: a DIR that is a file is an I/O error naming it; a missing trail leaves no directory behind", async () => {
    writeFileSync(p("a-file"), "x");
    const r = await runCli(["export", p("expired-since.trail"), p("a-file")], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`trailseal: error: ${p("a-file")} exists and is not a directory\n`);
    const m = await runCli(["export", p("no-such.trail"), p("never-made")], { cwd: dir });
    expect(m.code).toBe(2);
    expect(m.stderr).toBe(`trailseal: error: no such file: ${p("no-such.trail")}\n`);
    expect(existsSync(p("never-made"))).toBe(false);
    // A file that cannot be written is named (here a directory is in the way of header.json).
    mkdirSync(p("in-the-way/header.json"), { recursive: true });
    const w = await runCli(["export", p("expired-since.trail"), p("in-the-way"), "--force"], {
      cwd: dir,
    });
    expect(w.code).toBe(2);
    const inTheWay = `${p("in-the-way")}/header.json`;
    expect(w.stderr).toBe(
      `trailseal: error: cannot write ${inTheWay}: EISDIR: illegal operation on a directory, open '${inTheWay}'\n`,
    );
  });
});

describe("verify: what the human verdict tells an auditor", () => {
  const R = pki("root-ca.pem");

  async function sealWith(signers: { chain: Uint8Array[]; key: KeyObject }[]): Promise<string> {
    const parts: Uint8Array[] = [];
    let n = 0;
    await sealEvents(
      { cols: 80, rows: 24, command: "bash" },
      [
        { type: "output", time: 500_000, data: new TextEncoder().encode("$ ") },
        { type: "output", time: 95_000_000, data: new TextEncoder().encode("exit\r\n") },
      ],
      {
        plan: {
          name: "t",
          downstream: null,
          upstream: null,
          signing: { x509Identity: "signer" },
          timestamping: null,
          interval: 30,
        },
        sink: (c) => void parts.push(c.slice()),
        random: counterRandom(),
        clock: () => new Date(),
        signer: {
          sign: (content, at) =>
            checkpointSigner(signers[Math.min(n++, signers.length - 1)]!).sign(content, at),
          signatureValue,
        },
      },
    );
    const file = p(`signers-${signers.length}-${Math.random().toString(16).slice(2)}.trail`);
    writeFileSync(file, Buffer.concat(parts));
    return file;
  }
  const id = (cert: string, key: string) => ({
    chain: [certDer(`pki/${cert}`), certDer("pki/intermediate-ca.pem")],
    key: createPrivateKey(readFileSync(pki(key))),
  });

  it("names every signer when the checkpoints were signed by different certificates", async () => {
    const file = await sealWith([
      id("signer-rsa.pem", "signer-rsa.key"),
      id("signer-ec.pem", "signer-ec.key"),
      id("signer-ec.pem", "signer-ec.key"),
      id("signer-rsa.pem", "signer-rsa.key"),
    ]);
    const r = await runCli(["verify", file, "--ca", R], { cwd: dir });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[3]).toBe(
      "  SIGNATURE   valid: C=XX, O=trailseal test, CN=trailseal test signer RSA (code signing), 4 checkpoints signed, by 2 different signers:",
    );
    expect(lines[4]).toBe(
      "              checkpoints 1, 4: C=XX, O=trailseal test, CN=trailseal test signer RSA",
    );
    expect(lines[5]).toBe(
      "              checkpoints 2, 3: C=XX, O=trailseal test, CN=trailseal test signer ECDSA P-256",
    );
    // One signer: one line, as before.
    const single = await sealWith([id("signer-ec.pem", "signer-ec.key")]);
    const one = await runCli(["verify", single, "--ca", R], { cwd: dir });
    expect(one.stdout.split("\n")[3]).toMatch(/, 4 checkpoints signed$/);
    expect(one.stdout.split("\n")[4]).toMatch(/^ {2}TIMESTAMP/);
  });

  it("lists the checkpoints by signature state when they differ (a forged one among untrusted ones)", async () => {
    const foreign = {
      chain: [certDer("pki/foreign-signer.pem")],
      key: createPrivateKey(readFileSync(pki("foreign-signer.key"))),
    };
    const good = new Uint8Array(readFileSync(await sealWith([foreign])));
    const final = (await records(good)).recs.filter((r) => r.kind === 2).at(-1)!;
    const bad = good.slice();
    bad[final.end - 1]! ^= 0x01; // inside the final checkpoint's signature value
    writeFileSync(p("forged-final.trail"), bad);
    const r = await runCli(["verify", p("forged-final.trail"), "--ca", R], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n");
    // The worst state leads: a forged (invalid) signature outranks untrusted ones.
    expect(lines[3]).toMatch(/^ {2}SIGNATURE {3}invalid: checkpoint 4 \(record \d+\): /);
    expect(lines.slice(4, 6)).toEqual([
      "              checkpoints 1-3: untrusted",
      "              checkpoint 4: invalid",
    ]);
    expect(lines[6]).toMatch(/^ {2}TIMESTAMP/);
  });

  it("says signature and timestamp are unknown when the header cannot be read", async () => {
    writeFileSync(p("not-a-trail.txt"), "hello\n");
    const r = await runCli(["verify", p("not-a-trail.txt"), "--ca", R], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").slice(3, 5)).toEqual([
      "  SIGNATURE   unknown (the header could not be read)",
      "  TIMESTAMP   unknown (the header could not be read)",
    ]);
  });

  it("does not call a truncated trail's last checkpoint good when its signature fails", async () => {
    const s = new Uint8Array(
      readFileSync(await sealWith([id("signer-rsa.pem", "signer-rsa.key")])),
    );
    const L = await records(s);
    const cps = L.recs.filter((r) => r.kind === 2);
    const bad = s.slice(0, cps[2]!.offset); // cut before checkpoint 3
    bad[cps[1]!.end - 1]! ^= 0x01; // checkpoint 2's signature
    const v = await verdictOf(bad);
    expect(v.integrity).toMatchObject({ state: "truncated", lastCheckpoint: { index: 2 } });
    expect(v.signature.state).toBe("invalid");
    const integrity = formatVerdict(v)
      .split("\n")
      .find((l) => l.startsWith("  INTEGRITY"));
    expect(integrity).toMatch(
      /^ {2}INTEGRITY {3}truncated: last checkpoint 2 at 60s \(its signature is invalid; the last validly signed one is checkpoint 1 at 30s\), \d+ frames after it unsigned \(/,
    );
    // Intact signatures: the plain wording.
    const cut = await verdictOf(s.slice(0, cps[2]!.offset));
    expect(
      formatVerdict(cut)
        .split("\n")
        .find((l) => l.startsWith("  INTEGRITY")),
    ).toMatch(/^ {2}INTEGRITY {3}truncated: last good checkpoint 2 at 60s, \d+ frames after it/);
  });

  it("many trails, one unreadable: the others still get their verdicts, then exit 2", async () => {
    const file = await sealWith([id("signer-rsa.pem", "signer-rsa.key")]);
    const r = await runCli(["verify", "--json", file, p("missing.trail"), file, "--ca", R], {
      cwd: dir,
    });
    expect(r.code).toBe(2);
    // The error, then the summary of the run (with more than one trail, always on stderr).
    const [error, summary, end] = r.stderr.split("\n");
    expect(error).toBe(`trailseal: error: no such file: ${p("missing.trail")}`);
    expect(summary).toMatch(
      /^trailseal: summary: 3 trails: 2 valid, 0 invalid, 0 truncated, 0 tampered, 1 unreadable; \d+(\.\d)? KiB in \d+\.\d s, [\d.]+ trails\/s$/,
    );
    expect(end).toBe("");
    const j = JSON.parse(r.stdout) as Verdict[];
    expect(j.map((v) => [v.file, v.valid])).toEqual([
      [file, true],
      [file, true],
    ]);
    const human = await runCli(["verify", p("missing.trail"), file, "--ca", R], { cwd: dir });
    expect(human.code).toBe(2);
    expect(human.stdout.split("\n")[0]).toBe(`${file}: VALID`);
  });

  it("--require: repeatable (the lists add up), and an empty list is a usage error", async () => {
    const file = await sealWith([id("signer-rsa.pem", "signer-rsa.key")]);
    const j = JSON.parse(
      (
        await runCli(
          ["verify", file, "--json", "--require", "complete", "--require", "signature"],
          { cwd: dir },
        )
      ).stdout,
    ) as Verdict[];
    expect(j[0]!.required).toEqual(["complete", "signature"]);
    expect(j[0]!.failed).toEqual(["signature"]);
    for (const empty of ["", ",", " , "]) {
      const r = await runCli(["verify", file, "--require", empty], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "trailseal: error: --require needs at least one of signature, timestamp, complete, decrypt\n",
      );
      expect(r.stdout).toBe("");
    }
  });
});

describe("verify speed", () => {
  it("a one-hour trail with 120 signed checkpoints: one chain validation", async () => {
    const events = Array.from({ length: 3600 }, (_, t) => ({
      type: "output" as const,
      time: t * 1_000_000 + 1,
      data: new TextEncoder().encode(`line ${t}\r\n`),
    }));
    const parts: Uint8Array[] = [];
    await sealEvents({ cols: 80, rows: 24, command: "bash" }, events, {
      plan: {
        name: "t",
        downstream: null,
        upstream: null,
        signing: { x509Identity: "signer" },
        timestamping: null,
        interval: 30,
      },
      sink: (c) => void parts.push(c.slice()),
      random: counterRandom(),
      clock: () => new Date(),
      signer: checkpointSigner({
        chain: [certDer("pki/signer-ec.pem"), certDer("pki/intermediate-ca.pem")],
        key: createPrivateKey(readFileSync(pki("signer-ec.key"))),
      }),
    });
    const bytes = new Uint8Array(Buffer.concat(parts));
    const validator = new ChainValidator();
    const v = await verifyTrail(chunks(bytes, 64 * 1024), "hour.trail", {
      anchors: [ROOT],
      validator,
    });
    expect(v.valid).toBe(true);
    expect(v.checkpoints).toHaveLength(120); // 119 at 30 s .. 3570 s, and the final one at 3599 s
    expect(v.signature).toMatchObject({ state: "valid", signed: 120 });
    // One chain validation for 120 checkpoints; the time is measured in the bench (`--only verify`).
    expect(validator.validations).toBe(1);
  }, 30_000);
});
