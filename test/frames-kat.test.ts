/**
 * Known-answer vectors for src/frames.ts and the frame records around it (docs/FORMAT.md,
 * "Frames" and "Key commitment"). The hex below was computed outside this code base — AES-GCM
 * with python3's `cryptography`, the HMAC with `openssl mac` — from the spec's text:
 *
 *   nonce  = 00 00 00 || counter u64 || (01 on the channel's LAST frame else 00)
 *   aad    = start (32 bytes) || the record's 24-byte prefix
 *   body   = AES-256-GCM(fileKey, nonce, aad, plaintext) || tag
 *   commitment = HMAC-SHA-256(fileKey, "trailseal/1 key commitment " || channel)
 *
 * Each run recomputes them with a second implementation too (WebCrypto's AES-GCM, the openssl
 * CLI's HMAC and SHA-256, python's AESGCM when it is installed), and checks a real trail of the
 * testkit end to end with openssl alone: `openssl cms -decrypt` unwraps the file key from the
 * stanza, `openssl mac` checks the commitment, and the first frame is opened by WebCrypto. So a
 * change in the construction cannot go unnoticed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FrameOpener, FrameSealer, frameNonce, keyCommitment } from "../src/frames.js";
import { frameAad } from "../src/trail/writer.js";
import { encodeRecordPrefix, recordDigest, extendChain } from "../src/trail/format.js";
import { ROOT, decodeVector } from "../testdata/trails/vectors.js";

/** Debian's python3, which .ci/run gives python3-cryptography (a PATH python may lack it). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const KEY = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
/** SHA-256("trailseal frames KAT"), standing in for a trail's header digest. */
const START = hex("51360ffa601e3404f0f72e1a532f65c6bc71f083b522fff6fc4479745a45cb3c");

/** Three downstream frames of one channel: data "hello", a resize to 100x30, the LAST end frame. */
const FRAMES = [
  {
    counter: 0,
    last: false,
    plaintext: "0068656c6c6f",
    record: { flags: 0, seq: 5, time: 1_000_000 },
    nonce: "000000000000000000000000",
    prefix: "01000000000000000000000500000000000f424000000016",
    body: "0ed4d0b2d9438f54a3f6155a83db37881d67ca4b8123",
  },
  {
    counter: 1,
    last: false,
    plaintext: "010064001e",
    record: { flags: 0, seq: 6, time: 2_000_000 },
    nonce: "000000000000000000000100",
    prefix: "01000000000000000000000600000000001e848000000015",
    body: "21ec113b1404c4817abd28bc43a5e55026d42dba83",
  },
  {
    counter: 2,
    last: true,
    plaintext: "04",
    record: { flags: 1, seq: 9, time: 3_000_000 },
    nonce: "000000000000000000000201",
    prefix: "01010000000000000000000900000000002dc6c000000011",
    body: "4c458238616b8ae7693424ff09e3f10f3c",
  },
];

const COMMITMENTS = {
  downstream: "a60afc69277cb471078bd78723b52433baebc7e21dc68c2bc20b8522a695db8b",
  upstream: "85a59502e8f4833d2627bb9fcdfd398ada55201d96c4b16dc13a070e488353c5",
} as const;

async function webGcm(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  data: Uint8Array,
  decrypt = false,
) {
  // WebCrypto wants ArrayBuffer-backed views: copy.
  const own = (b: Uint8Array) => Uint8Array.from(b);
  const k = await crypto.subtle.importKey("raw", own(key), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const params = { name: "AES-GCM", iv: own(nonce), additionalData: own(aad), tagLength: 128 };
  const out = decrypt
    ? await crypto.subtle.decrypt(params, k, own(data))
    : await crypto.subtle.encrypt(params, k, own(data));
  return new Uint8Array(out);
}

function opensslHmac(key: Uint8Array, message: string): string {
  return execFileSync(
    "openssl",
    ["mac", "-digest", "SHA256", "-macopt", `hexkey:${toHex(key)}`, "HMAC"],
    {
      input: message,
      encoding: "utf8",
    },
  )
    .trim()
    .toLowerCase();
}

const hasPythonCryptography =
  spawnSync(PYTHON, ["-c", "import cryptography.hazmat.primitives.ciphers.aead"]).status === 0;

describe("frame known-answer vectors", () => {
  it("nonces: 3 zero bytes, the counter as u64, the last-frame flag", () => {
    for (const f of FRAMES) expect(toHex(frameNonce(f.counter, f.last))).toBe(f.nonce);
    expect(toHex(frameNonce(Number.MAX_SAFE_INTEGER, true))).toBe("000000001fffffffffffff01");
    expect(toHex(frameNonce(1, true))).not.toBe(toHex(frameNonce(1, false)));
    expect(() => frameNonce(-1, false)).toThrow(RangeError);
  });

  it("record prefixes: kind, flags, channel, reserved, seq u64, time u64, length u32", () => {
    for (const f of FRAMES) {
      const length = hex(f.plaintext).byteLength + 16;
      expect(toHex(encodeRecordPrefix({ kind: 1, channel: 0, length, ...f.record }))).toBe(
        f.prefix,
      );
    }
  });

  it("the sealer gives exactly the vectors' bodies, in order, and the opener opens them", () => {
    const sealer = new FrameSealer(KEY);
    const opener = new FrameOpener(KEY, "downstream");
    for (const f of FRAMES) {
      const aad = frameAad(START, hex(f.prefix));
      expect(toHex(aad)).toBe(toHex(START) + f.prefix);
      const body = sealer.seal(hex(f.plaintext), aad, f.last);
      expect(toHex(body)).toBe(f.body);
      expect(toHex(opener.open(body, aad, f.last, f.record.seq))).toBe(f.plaintext);
    }
  });

  it("a second AES-GCM implementation (WebCrypto) agrees with every vector", async () => {
    for (const f of FRAMES) {
      const aad = hex(toHex(START) + f.prefix);
      expect(toHex(await webGcm(KEY, hex(f.nonce), aad, hex(f.plaintext)))).toBe(f.body);
    }
  });

  it.skipIf(!hasPythonCryptography)("python's AESGCM agrees with every vector", () => {
    const script = [
      "import sys, json",
      "from cryptography.hazmat.primitives.ciphers.aead import AESGCM",
      "v = json.load(sys.stdin)",
      "g = AESGCM(bytes.fromhex(v['key']))",
      "print(json.dumps([g.encrypt(bytes.fromhex(f['nonce']), bytes.fromhex(f['plaintext']), bytes.fromhex(v['start'] + f['prefix'])).hex() for f in v['frames']]))",
    ].join("\n");
    const out = execFileSync(PYTHON, ["-c", script], {
      input: JSON.stringify({ key: toHex(KEY), start: toHex(START), frames: FRAMES }),
      encoding: "utf8",
    });
    expect(JSON.parse(out)).toEqual(FRAMES.map((f) => f.body));
  });

  it("the opener refuses a frame under the wrong counter, flag, aad or channel order", () => {
    const f = FRAMES[1]!;
    const aad = frameAad(START, hex(f.prefix));
    // as frame 0 (counter mismatch)
    expect(() => new FrameOpener(KEY, "downstream").open(hex(f.body), aad, false, 6)).toThrow(
      "record 6: downstream frame 0 fails authentication",
    );
    const skip = new FrameOpener(KEY, "downstream");
    skip.open(hex(FRAMES[0]!.body), frameAad(START, hex(FRAMES[0]!.prefix)), false, 5);
    // the right counter, but claimed LAST
    expect(() => skip.open(hex(f.body), aad, true, 6)).toThrow("fails authentication");
    // the right counter, the aad of another seq
    const other = hex(f.prefix);
    other[11] = 7;
    expect(() => skip.open(hex(f.body), frameAad(START, other), false, 7)).toThrow(
      "fails authentication",
    );
  });

  it("key commitments: HMAC-SHA-256 of the label and channel name, as openssl mac computes it", () => {
    for (const channel of ["downstream", "upstream"] as const) {
      expect(toHex(keyCommitment(KEY, channel))).toBe(COMMITMENTS[channel]);
      expect(opensslHmac(KEY, `trailseal/1 key commitment ${channel}`)).toBe(COMMITMENTS[channel]);
    }
  });

  it("the chain: digest = SHA-256(prefix || body), head' = SHA-256(head || digest), as openssl dgst says", () => {
    const f = FRAMES[0]!;
    const sha = (b: Uint8Array) =>
      execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: b, encoding: "utf8" }).split(
        " ",
      )[0]!;
    const digest = recordDigest(hex(f.prefix), hex(f.body));
    expect(toHex(digest)).toBe(sha(hex(f.prefix + f.body)));
    expect(toHex(extendChain(START, digest))).toBe(sha(hex(toHex(START) + toHex(digest))));
  });
});

describe("a testkit trail opened by openssl and WebCrypto alone", () => {
  it("valid-single: the stanza, the commitment, the chain start and the first frame", async () => {
    const { header, trail } = decodeVector(
      readFileSync(join(ROOT, "testdata/trails/valid-single.vector")),
    );
    const view = new DataView(trail.buffer, trail.byteOffset, trail.byteLength);
    const sealedLength = view.getUint32(10);
    const sealed = trail.subarray(0, 14 + sealedLength);
    const json = JSON.parse(Buffer.from(sealed.subarray(14)).toString("utf8"));
    const down = json.channels.downstream;
    const dir = mkdtempSync(join(tmpdir(), "trailseal-kat-"));
    writeFileSync(join(dir, "stanza.der"), Buffer.from(down.stanzas[0].der, "base64"));
    const fileKey = new Uint8Array(
      execFileSync("openssl", [
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        join(dir, "stanza.der"),
        "-inkey",
        join(ROOT, header.keys[0]!),
      ]),
    );
    expect(fileKey.byteLength).toBe(32);
    expect(opensslHmac(fileKey, "trailseal/1 key commitment downstream")).toBe(down.commitment);
    const start = createHash("sha256").update(sealed).digest();
    const annexEnd = sealed.byteLength + 4 + view.getUint32(sealed.byteLength);
    const prefix = trail.subarray(annexEnd, annexEnd + 24);
    const length = view.getUint32(annexEnd + 20);
    expect(toHex(prefix.subarray(0, 20))).toBe("01000000" + "0".repeat(32)); // frame 0 at t=0, seq 0
    const body = trail.subarray(annexEnd + 24, annexEnd + 24 + length);
    const plain = await webGcm(
      fileKey,
      hex("000000000000000000000000"),
      new Uint8Array(Buffer.concat([start, prefix])),
      body,
      true,
    );
    expect(Buffer.from(plain).toString("latin1")).toBe("\x00login: ");
  });
});
