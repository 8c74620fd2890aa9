import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toHex } from "../src/bytes.js";
import { encodeTstInfo, hashAlgorithm, OID, signTstInfo } from "../src/pkix/tsp.js";
import { certificate } from "../src/pkix/cert.js";
import { offThreadSigner } from "../src/pkix/algorithms.js";
import { makeRequest, nonceFromRandom } from "../src/timestamp/request.js";
import {
  issueToken,
  LOCAL_POLICY_OID,
  localStamper,
  serialSource,
} from "../src/timestamp/token.js";
import { verifyToken } from "../src/timestamp/verify.js";
import { verifyDetached } from "../src/sign.js";
import { ChainValidator } from "../src/pkix/chain.js";
import { FOREIGN_ROOT_CA, pkiPath, ROOT_CA, sha256, tsaFixture } from "./helpers/tsa.js";

const POLICY = "1.3.6.1.4.1.32473.3161.1";
const NOW = new Date("2026-06-01T12:00:00.250Z");
const IMPRINT = sha256("checkpoint 7");
const NONCE = 0x0123456789abcdefn;

const dir = mkdtempSync(join(tmpdir(), "trailseal-ts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stamper(name: string, clock: Date = NOW) {
  let n = 0n;
  return localStamper(tsaFixture(name), {
    clock: () => clock,
    serial: () => ++n,
    policyOid: POLICY,
    accuracyMillis: 1000,
  });
}

/** What `openssl ts -verify` says of `token` (over IMPRINT, anchored at the test root CA). */
function opensslVerifies(token: Uint8Array, name: string): string {
  const path = join(dir, `${name}.tst`);
  writeFileSync(path, token);
  const args = ["ts", "-verify", "-digest", toHex(IMPRINT), "-sha256", "-in", path, "-token_in"];
  return execFileSync("openssl", [...args, "-CAfile", pkiPath("root-ca.pem")], {
    encoding: "utf8",
    stdio: "pipe",
  });
}

/** A token made without the local stamper's own identity checks (for negative cases). */
function rawToken(name: string, over: Partial<Parameters<typeof issueToken>[1]> = {}): Uint8Array {
  return issueToken(tsaFixture(name), {
    hashAlgorithmDer: hashAlgorithm(OID.sha256),
    digest: IMPRINT,
    nonce: NONCE,
    policyOid: POLICY,
    serial: 42n,
    genTime: NOW,
    ...over,
  });
}

/** A TSTInfo for IMPRINT whose tsaName is the root CA's subject (not the TSA that signs it). */
function tstInfoNamingTheRoot(): Uint8Array {
  return encodeTstInfo({
    policy: POLICY,
    hashAlgorithmDer: hashAlgorithm(OID.sha256),
    digest: IMPRINT,
    serial: 42n,
    genTime: NOW,
    nonce: NONCE,
    tsaName: certificate(ROOT_CA()).subjectDer,
  });
}

describe("makeRequest", () => {
  it("encodes a TimeStampReq that openssl reads back (SHA-256, nonce, policy, certReq)", () => {
    const req = makeRequest(IMPRINT, { nonce: NONCE, policyOid: "1.2.3.4.5" });
    const path = join(dir, "q.tsq");
    writeFileSync(path, req);
    const text = execFileSync("openssl", ["ts", "-query", "-in", path, "-text"], {
      stdio: "pipe",
    }).toString();
    expect(text).toContain("Hash Algorithm: sha256");
    expect(text).toContain("Policy OID: 1.2.3.4.5");
    expect(text).toContain("Nonce: 0x0123456789ABCDEF");
    expect(text).toContain("Certificate required: yes");
  });

  it("refuses a non-SHA-256 imprint and a malformed policy OID with USAGE", () => {
    expect(() => makeRequest(new Uint8Array(20), { nonce: 1n })).toThrow(
      expect.objectContaining({ code: "USAGE" }),
    );
    expect(() => makeRequest(IMPRINT, { nonce: 1n, policyOid: "not.an.oid" })).toThrow(
      expect.objectContaining({ code: "USAGE" }),
    );
  });

  it("makes positive nonces from random bytes", () => {
    expect(nonceFromRandom(new Uint8Array(8).fill(0xff))).toBe((1n << 63n) - 1n);
    expect(nonceFromRandom(new Uint8Array(8))).toBe(1n);
  });
});

describe("local TSA tokens", () => {
  for (const name of ["tsa", "tsa-ec"]) {
    it(`${name}: verifyToken returns the facts; openssl ts -verify -digest says OK`, async () => {
      const token = await stamper(name).stamp(IMPRINT, NONCE);
      const facts = await verifyToken(token, {
        imprint: IMPRINT,
        nonce: NONCE,
        policyOid: POLICY,
        anchors: [ROOT_CA()],
      });
      expect(facts.genTime.toISOString()).toBe(NOW.toISOString());
      expect(facts.serial).toBe("1");
      expect(facts.policy).toBe(POLICY);
      expect(facts.nonce).toBe(NONCE);
      expect(facts.imprintAlgorithm).toBe("SHA-256");
      expect(facts.accuracy).toEqual({ seconds: 1, millis: 0, micros: 0 });
      expect(facts.tsaName).toMatch(/^C=XX, O=trailseal test, CN=trailseal test TSA/);
      expect(facts.signer.subject).toBe(facts.tsaName);
      expect(facts.signer.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(facts.chain).toHaveLength(2);

      expect(opensslVerifies(token, name)).toBe("Verification: OK\n");
    });
  }

  it("by default stamps under LOCAL_POLICY_OID with serialSource serials", async () => {
    const tsa = localStamper(tsaFixture("tsa"), { clock: () => NOW });
    const check = (token: Uint8Array) =>
      verifyToken(token, { imprint: IMPRINT, nonce: NONCE, policyOid: null, anchors: [ROOT_CA()] });
    const [a, b] = [
      await check(await tsa.stamp(IMPRINT, NONCE)),
      await check(await tsa.stamp(IMPRINT, NONCE)),
    ];
    expect([a.policy, b.policy]).toEqual([LOCAL_POLICY_OID, LOCAL_POLICY_OID]);
    expect(LOCAL_POLICY_OID).toBe(POLICY);
    expect(a.serial).not.toBe(b.serial);
    expect(a.accuracy).toBeUndefined();
  });

  it("gives every token its own serial (time, salt, counter)", () => {
    const next = serialSource(
      () => Uint8Array.of(1, 2, 3, 4),
      () => 1_700_000_000_000,
    );
    const a = next();
    const b = next();
    expect(b).toBe(a + 1n);
    expect(a >> 64n).toBe(1_700_000_000_000n);
  });

  it("refuses a TSA certificate without the timeStamping EKU", () => {
    expect(() => stamper("tsa-wrong-eku")).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it("refuses a TSA certificate whose timeStamping EKU is not critical (its tokens would not verify)", () => {
    // openssl ts -reply refuses this signer too ("invalid signer certificate purpose").
    expect(() => stamper("tsa-noncritical")).toThrow(
      expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/not critical/) }),
    );
  });

  it("refuses a TSA certificate that is not valid at the clock's time (its tokens would not verify)", () => {
    expect(() => stamper("tsa-not-yet-valid")).toThrow(
      expect.objectContaining({
        code: "USAGE",
        message: expect.stringMatching(/is not valid at 2026-06-01T12:00:00\.250Z \(valid 2100-/),
      }),
    );
  });

  it("refuses a key that does not match the certificate", () => {
    expect(() =>
      localStamper(
        { chain: tsaFixture("tsa").chain, key: tsaFixture("tsa-ec").key },
        { clock: () => NOW, serial: () => 1n, policyOid: POLICY },
      ),
    ).toThrow(expect.objectContaining({ code: "KEY_INVALID" }));
  });
});

// `tsa serve` signs with a key in memory on libuv's thread pool (offThreadSigner): the same
// token, byte for byte, as the in-thread signature (PKCS#1 v1.5 is deterministic), and an
// ECDSA token that openssl accepts.
describe("tokens signed off the thread (offThreadSigner, as tsa serve signs)", () => {
  const fields = {
    hashAlgorithmDer: hashAlgorithm(OID.sha256),
    digest: IMPRINT,
    nonce: NONCE,
    policyOid: POLICY,
    serial: 7n,
    genTime: NOW,
  };

  it("RSA: the same bytes as signing in this thread", async () => {
    const tsa = tsaFixture("tsa");
    const pooled = offThreadSigner(tsa.key as KeyObject)!;
    expect([pooled.keyType, pooled.curve, pooled.bits]).toEqual(["RSA", null, 2048]);
    const offThread = await issueToken({ ...tsa, key: pooled }, fields);
    expect(toHex(offThread)).toBe(toHex(issueToken(tsa, fields)));
  });

  it("ECDSA P-256: a token that verifies here and in openssl ts -verify", async () => {
    const tsa = tsaFixture("tsa-ec");
    const pooled = offThreadSigner(tsa.key as KeyObject)!;
    expect([pooled.keyType, pooled.curve, pooled.bits]).toEqual(["EC", "P-256", 256]);
    const token = await issueToken({ ...tsa, key: pooled }, fields);
    const facts = await verifyToken(token, {
      imprint: IMPRINT,
      nonce: NONCE,
      policyOid: POLICY,
      anchors: [ROOT_CA()],
    });
    expect(facts.serial).toBe("7");
    expect(opensslVerifies(token, "off-thread-ec")).toBe("Verification: OK\n");
  });

  it("is null for a key it does not sign with (Ed25519, a public key)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    expect(offThreadSigner(privateKey)).toBeNull();
    expect(offThreadSigner(publicKey)).toBeNull();
  });
});

describe("verifyToken refuses", () => {
  const anchors = () => [ROOT_CA()];
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    [
      "imprint mismatch",
      async () => verifyToken(rawToken("tsa"), { imprint: sha256("other"), anchors: anchors() }),
      "TIMESTAMP_INVALID",
      /imprint .* does not match/,
    ],
    [
      "nonce mismatch",
      async () =>
        verifyToken(rawToken("tsa"), { imprint: IMPRINT, nonce: NONCE + 1n, anchors: anchors() }),
      "TIMESTAMP_INVALID",
      /nonce .* does not match/,
    ],
    [
      "missing nonce",
      async () =>
        verifyToken(rawToken("tsa", { nonce: null }), {
          imprint: IMPRINT,
          nonce: NONCE,
          anchors: anchors(),
        }),
      "TIMESTAMP_INVALID",
      /has no nonce/,
    ],
    [
      "policy mismatch",
      async () =>
        verifyToken(rawToken("tsa"), {
          imprint: IMPRINT,
          policyOid: "1.2.3.4",
          anchors: anchors(),
        }),
      "TIMESTAMP_INVALID",
      /policy .* is not the requested policy 1\.2\.3\.4/,
    ],
    [
      "SHA-1 imprint",
      async () =>
        verifyToken(
          rawToken("tsa", {
            hashAlgorithmDer: hashAlgorithm(OID.sha1),
            digest: new Uint8Array(20).fill(7),
          }),
          { imprint: new Uint8Array(20).fill(7), anchors: anchors() },
        ),
      "TIMESTAMP_INVALID",
      /SHA1, which is refused/,
    ],
    [
      "wrong EKU",
      async () => verifyToken(rawToken("tsa-wrong-eku"), { imprint: IMPRINT, anchors: anchors() }),
      "TIMESTAMP_INVALID",
      /lacks the timeStamping extended key usage/,
    ],
    [
      "non-critical EKU",
      async () =>
        verifyToken(rawToken("tsa-noncritical"), { imprint: IMPRINT, anchors: anchors() }),
      "TIMESTAMP_INVALID",
      /not critical/,
    ],
    [
      "TSA cert not yet valid at genTime",
      async () =>
        verifyToken(rawToken("tsa-not-yet-valid"), { imprint: IMPRINT, anchors: anchors() }),
      "TIMESTAMP_INVALID",
      /not valid at genTime/,
    ],
    [
      "a TSA name other than the signer's",
      async () =>
        verifyToken(signTstInfo(tstInfoNamingTheRoot(), tsaFixture("tsa")), {
          imprint: IMPRINT,
          anchors: anchors(),
        }),
      "TIMESTAMP_INVALID",
      /names its TSA .* but it is signed by/,
    ],
    [
      "TSA outside the anchors",
      async () => verifyToken(rawToken("foreign-tsa"), { imprint: IMPRINT, anchors: anchors() }),
      "CHAIN_UNTRUSTED",
      /./,
    ],
    [
      "anchors of another hierarchy",
      async () => verifyToken(rawToken("tsa"), { imprint: IMPRINT, anchors: [FOREIGN_ROOT_CA()] }),
      "CHAIN_UNTRUSTED",
      /./,
    ],
    [
      "garbage",
      async () =>
        verifyToken(new Uint8Array([0x30, 0x03, 1, 2, 3]), {
          imprint: IMPRINT,
          anchors: anchors(),
        }),
      "TIMESTAMP_INVALID",
      /malformed|not valid DER/,
    ],
  ];
  for (const [what, run, code, message] of cases) {
    it(`${what} with ${code}`, async () => {
      await expect(run()).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    });
  }

  it("a token whose TSTInfo was altered (messageDigest)", async () => {
    const token = rawToken("tsa-ec");
    const at = Buffer.from(token).indexOf(Buffer.from(IMPRINT));
    const altered = Uint8Array.from(token);
    altered[at] = altered[at]! ^ 1;
    const imprint = altered.slice(at, at + 32);
    await expect(verifyToken(altered, { imprint, anchors: anchors() })).rejects.toMatchObject({
      code: "TIMESTAMP_INVALID",
      message: expect.stringMatching(/^the content does not match the signed message digest$/),
    });
  });

  it("a token whose signature was altered", async () => {
    const token = rawToken("tsa");
    const altered = Uint8Array.from(token);
    // The RSA signature is the last 256 bytes of the SignerInfo, at the very end of the token.
    altered[altered.length - 10] = altered[altered.length - 10]! ^ 0xff;
    await expect(
      verifyToken(altered, { imprint: IMPRINT, anchors: anchors() }),
    ).rejects.toMatchObject({
      code: "TIMESTAMP_INVALID",
      message: expect.stringMatching(
        /^the signature over the signed attributes does not verify with the key of .*TSA/,
      ),
    });
  });

  it("accepts the not-yet-valid TSA once genTime is inside its validity, and caches chains", async () => {
    const validator = new ChainValidator();
    const later = new Date("2101-01-01T00:00:00Z");
    const token = rawToken("tsa-not-yet-valid", { genTime: later });
    const facts = await verifyToken(token, { imprint: IMPRINT, anchors: anchors(), validator });
    expect(facts.genTime.toISOString()).toBe(later.toISOString());
    await verifyToken(token, { imprint: IMPRINT, anchors: anchors(), validator });
    expect(validator.validations).toBe(1);
  });
});

describe("adversarial tokens and requests", () => {
  it("every single-byte corruption of a token is refused with TIMESTAMP_INVALID or CHAIN_UNTRUSTED, or verifies unchanged facts", async () => {
    const token = rawToken("tsa-ec");
    const good = await verifyToken(token, { imprint: IMPRINT, nonce: NONCE, anchors: [ROOT_CA()] });
    const codes = new Map<string, number>();
    // Every 13th byte (two bit patterns) keeps this fast while touching every structure.
    for (let at = 0; at < token.length; at += 13) {
      for (const flip of [0x01, 0x80]) {
        const bad = Uint8Array.from(token);
        bad[at] = bad[at]! ^ flip;
        try {
          const facts = await verifyToken(bad, {
            imprint: IMPRINT,
            nonce: NONCE,
            anchors: [ROOT_CA()],
          });
          // Only bytes outside what is signed and bound may change without notice (e.g. the
          // copy of the root CA in the certificate set, which the anchors override).
          expect(facts.genTime.getTime()).toBe(good.genTime.getTime());
          expect(facts.serial).toBe(good.serial);
          expect(facts.signer.fingerprint).toBe(good.signer.fingerprint);
          codes.set("ok", (codes.get("ok") ?? 0) + 1);
        } catch (e) {
          const code = (e as { code?: string }).code ?? `untyped: ${String(e)}`;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
    }
    expect(
      [...codes.keys()].filter((c) => !["ok", "TIMESTAMP_INVALID", "CHAIN_UNTRUSTED"].includes(c)),
    ).toEqual([]);
    expect(codes.get("TIMESTAMP_INVALID")).toBeGreaterThan(50);
  });

  it("every truncation of a request is refused as FORMAT_INVALID", async () => {
    const { decodeTimeStampReq } = await import("../src/pkix/tsp.js");
    const req = makeRequest(IMPRINT, { nonce: NONCE, policyOid: "1.2.3.4" });
    expect(decodeTimeStampReq(req).nonce).toBe(NONCE);
    for (let n = 0; n < req.length; n++) {
      expect(() => decodeTimeStampReq(req.subarray(0, n))).toThrow(
        expect.objectContaining({ code: "FORMAT_INVALID" }),
      );
    }
  });

  it("refuses a request, a TSTInfo or a token's SignedData with an element after its last field", async () => {
    const { decodeTimeStampReq, decodeTstInfo } = await import("../src/pkix/tsp.js");
    const { decodeSignedData } = await import("../src/pkix/signed.js");
    const { children, readWhole, seq, slice, tlv } = await import("../src/pkix/der.js");
    // The same SEQUENCE with a NULL after its last element.
    const appended = (der: Uint8Array): Uint8Array =>
      seq(...children(der, readWhole(der)).map((t) => slice(der, t)), new Uint8Array([5, 0]));
    const tstInfo = tstInfoNamingTheRoot();
    const token = signTstInfo(tstInfo, tsaFixture("tsa"));
    // ContentInfo { contentType, [0] { SignedData } }: the NULL goes after signerInfos.
    const [type, explicit] = children(token, readWhole(token));
    const signedData = slice(token, children(token, explicit!)[0]!);
    const longer = seq(slice(token, type!), tlv(0xa0, appended(signedData)));
    const cases: [() => unknown, string, string][] = [
      [
        () => decodeTimeStampReq(appended(makeRequest(IMPRINT, { nonce: NONCE }))),
        "FORMAT_INVALID",
        "time-stamp request is malformed: unexpected element at the end of TimeStampReq",
      ],
      [
        () => decodeTstInfo(appended(tstInfo)),
        "TIMESTAMP_INVALID",
        "TSTInfo is malformed: unexpected element at the end of TSTInfo",
      ],
      [
        () => decodeSignedData(longer),
        "SIGNATURE_INVALID",
        "signature is malformed: unexpected element at the end of SignedData",
      ],
    ];
    expect(decodeTstInfo(tstInfo).serial).toBe(42n);
    expect(decodeSignedData(seq(slice(token, type!), tlv(0xa0, signedData)))).toEqual(
      decodeSignedData(token),
    );
    for (const [decode, code, message] of cases) {
      expect(decode).toThrow(expect.objectContaining({ code, message }));
    }
  });
});

/**
 * Tokens and checkpoint signatures share one signature rule (src/pkix/algorithms.ts): RSA
 * PKCS#1 v1.5 and RSASSA-PSS with SHA-256/384/512, ECDSA; no SHA-1. openssl ts -reply (3.0)
 * cannot sign with PSS ("signing not supported for this key type"), so the TSTInfo that
 * `openssl ts -reply` wrote is signed again by `openssl cms -sign` with the options under test.
 */
describe("one signature rule for tokens and checkpoint signatures (openssl-made)", () => {
  const PKI = join(import.meta.dirname, "..", "testdata", "pki");
  const openssl = (args: string[]): Buffer =>
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const data = join(dir, "rule-data");
  writeFileSync(data, "checkpoint 7");
  const imprint = sha256("checkpoint 7");

  /** The TSTInfo of an `openssl ts -reply` token over `data` (once). */
  let tstInfoFile: string | undefined;
  function tstInfo(): string {
    if (tstInfoFile !== undefined) return tstInfoFile;
    const cnf = join(dir, "rule-tsa.cnf");
    writeFileSync(
      cnf,
      [
        "[ tsa ]",
        "default_tsa = t",
        "[ t ]",
        `serial = ${join(dir, "rule-serial")}`,
        `signer_cert = ${pkiPath("tsa.pem")}`,
        `signer_key = ${pkiPath("tsa.key")}`,
        "signer_digest = sha256",
        "default_policy = 1.2.3.4.1",
        "digests = sha256",
        "ess_cert_id_alg = sha256",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "rule-serial"), "01\n");
    openssl(["ts", "-query", "-data", data, "-sha256", "-cert", "-out", "rule.tsq"]);
    openssl([
      "ts",
      "-reply",
      "-config",
      cnf,
      "-queryfile",
      "rule.tsq",
      "-token_out",
      "-out",
      "rule.tok",
    ]);
    // The token's eContent: openssl cms -verify writes it out without checking anything.
    openssl([
      "cms",
      "-verify",
      "-noverify",
      "-nosigs",
      "-inform",
      "DER",
      "-in",
      "rule.tok",
      "-out",
      "rule.tst",
    ]);
    tstInfoFile = "rule.tst";
    return tstInfoFile;
  }

  function cmsSign(
    args: string[],
    signer: string,
    key: string,
    input: string,
    out: string,
  ): Uint8Array {
    openssl([
      "cms",
      "-sign",
      "-binary",
      "-outform",
      "DER",
      "-in",
      input,
      "-signer",
      signer,
      "-inkey",
      key,
      "-cades",
      ...args,
      "-out",
      out,
    ]);
    return new Uint8Array(readFileSync(join(dir, out)));
  }

  const token = (args: string[], name: string): Uint8Array =>
    cmsSign(
      ["-nodetach", "-econtent_type", OID.tstInfo, ...args],
      pkiPath("tsa.pem"),
      pkiPath("tsa.key"),
      tstInfo(),
      `rule-${name}.tok`,
    );
  const checkpoint = (args: string[], name: string): Uint8Array =>
    cmsSign(
      ["-certfile", join(PKI, "intermediate-ca.pem"), ...args],
      join(PKI, "signer-rsa.pem"),
      join(PKI, "signer-rsa.key"),
      data,
      `rule-${name}.p7s`,
    );
  const content = new TextEncoder().encode("checkpoint 7");

  const accepted: [string, string[]][] = [
    ["PKCS#1 v1.5, SHA-256", ["-md", "sha256"]],
    ["PKCS#1 v1.5, SHA-512", ["-md", "sha512"]],
    ["RSASSA-PSS, SHA-256", ["-md", "sha256", "-keyopt", "rsa_padding_mode:pss"]],
    [
      "RSASSA-PSS, SHA-384, salt 20",
      ["-md", "sha384", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:20"],
    ],
  ];
  it.each(accepted)("accepts %s in a token and in a checkpoint signature", async (label, args) => {
    const name = label.replace(/\W+/g, "-");
    const facts = await verifyToken(token(args, name), { imprint, anchors: [ROOT_CA()] });
    expect(facts.policy).toBe("1.2.3.4.1");
    expect(facts.signer.subject).toBe("C=XX, O=trailseal test, CN=trailseal test TSA");
    const sig = await verifyDetached(checkpoint(args, name), content, {
      anchors: [ROOT_CA()],
      at: NOW,
    });
    expect(sig.signer.subject).toBe("C=XX, O=trailseal test, CN=trailseal test signer RSA");
  });

  it("refuses SHA-1 in a token and in a checkpoint signature, with the same check", async () => {
    await expect(
      verifyToken(token(["-md", "sha1"], "sha1"), { imprint, anchors: [ROOT_CA()] }),
    ).rejects.toMatchObject({ code: "TIMESTAMP_INVALID", message: "SHA-1 digest refused" });
    await expect(
      verifyDetached(checkpoint(["-md", "sha1"], "sha1"), content, { anchors: [ROOT_CA()] }),
    ).rejects.toMatchObject({
      code: "SIGNATURE_INVALID",
      message: "signature invalid: SHA-1 digest refused",
    });
  });

  it("refuses RSASSA-PSS over SHA-1 in a token, by name", async () => {
    await expect(
      verifyToken(
        token(
          ["-md", "sha256", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_mgf1_md:sha1"],
          "pss-mgf1",
        ),
        { imprint, anchors: [ROOT_CA()] },
      ),
    ).rejects.toMatchObject({
      code: "TIMESTAMP_INVALID",
      message: `unsupported RSASSA-PSS parameters (hash ${OID.sha256}, MGF1 hash ${OID.sha1})`,
    });
  });
});
