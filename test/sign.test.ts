import { createHash, createPrivateKey, sign as nodeSign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChainValidator,
  SIGNATURE_TIMESTAMP_TOKEN_OID,
  addUnsignedAttribute,
  loadSigningIdentity,
  signDetached,
  signatureValue,
  verifyDetached,
  type SigningIdentity,
} from "../src/sign.js";
import { certificate } from "../src/pkix/cert.js";
import { OID } from "../src/pkix/oid.js";
import { encodeOctetString, encodeOid, encodeTime } from "../src/pkix/der.js";
import {
  decodeSignedData,
  decodeSigningCertificate,
  encodeSignedAttributes,
  encodeSignedData,
  encodeSigningCertificateV2,
  type CmsAttribute,
} from "../src/pkix/signed.js";

const PKI = join(import.meta.dirname, "..", "testdata", "pki");
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(PKI, name)));
function certs(name: string): Uint8Array[] {
  const text = readFileSync(join(PKI, name), "utf8");
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")),
  );
}

const root = certs("root-ca.pem")[0]!;
const foreignRoot = certs("foreign-root-ca.pem")[0]!;
const anchors = [root];
const T = new Date("2026-06-01T12:34:56Z");
const content = new TextEncoder().encode("checkpoint 7: records 0..1234, head 9f86d081884c7d65\n");

async function identity(
  name: string,
  scheme?: "pkcs1" | "pss",
  keyName = name,
): Promise<SigningIdentity> {
  const certFile =
    name.startsWith("foreign") || name === "signer-bad-issuer"
      ? `${name}.pem`
      : `${name}-chain.pem`;
  const { identity } = await loadSigningIdentity(read(certFile), read(`${keyName}.key`), {
    certSource: certFile,
    keySource: `${keyName}.key`,
    ...(scheme === undefined ? {} : { scheme }),
  });
  return identity;
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(b).digest());
}

describe("signDetached / verifyDetached round trips", () => {
  const cases: [string, string, "pkcs1" | "pss" | undefined, string, string][] = [
    ["RSA PKCS#1 v1.5", "signer-rsa", "pkcs1", OID.sha256WithRSAEncryption, "SHA-256"],
    ["RSASSA-PSS", "signer-rsa", "pss", OID.rsassaPss, "SHA-256"],
    ["ECDSA P-256", "signer-ec", undefined, OID.ecdsaWithSha256, "SHA-256"],
    ["ECDSA P-384", "signer-ec384", undefined, OID.ecdsaWithSha384, "SHA-384"],
  ];
  it.each(cases)("%s", async (_label, name, scheme, sigOid, digestName) => {
    const id = await identity(name, scheme);
    const p7s = await signDetached(content, id, T);
    const facts = await verifyDetached(p7s, content, { anchors });
    const leaf = certificate(id.chain[0]!);
    expect(facts).toEqual({
      signer: {
        subject: leaf.subject,
        issuer: leaf.issuer,
        serial: leaf.serial,
        fingerprint: leaf.fingerprint,
      },
      signingTime: T,
      codeSigning: true,
      chain: [id.chain[0], id.chain[1], root],
      signatureValue: signatureValue(p7s),
      digestAlgorithm: digestName,
      unsignedAttributes: [],
    });
    expect(facts.signer.issuer).toBe("C=XX, O=trailseal test, CN=trailseal test intermediate CA");

    // The profile of docs/SIGNATURES.md, field by field.
    const sd = decodeSignedData(p7s);
    expect(sd.version).toBe(1);
    expect(sd.eContentType).toBe(OID.data);
    expect(sd.eContent).toBeNull();
    expect(sd.certificates).toHaveLength(2);
    const si = sd.signerInfos[0]!;
    expect(sd.signerInfos).toHaveLength(1);
    expect(si.signatureAlgorithm.oid).toBe(sigOid);
    expect(si.digestAlgorithm.parameters).toBeNull();
    expect(si.signedAttrs!.map((a) => a.oid).sort()).toEqual(
      [OID.contentType, OID.messageDigest, OID.signingTime, OID.signingCertificateV2].sort(),
    );
    const ess = decodeSigningCertificate(
      si.signedAttrs!.find((a) => a.oid === OID.signingCertificateV2)!.values[0]!,
      2,
      "SIGNATURE_INVALID",
    );
    expect(ess).toEqual([
      {
        version: 2,
        hashAlgorithm: OID.sha256,
        certHash: sha256(id.chain[0]!),
        issuerSerial: { issuers: [leaf.issuerDer], serial: leaf.serialBytes },
      },
    ]);
  });

  it("truncates the signing time to whole seconds and encodes years from 2050 as GeneralizedTime", async () => {
    const id = await identity("signer-ec");
    const p7s = await signDetached(content, id, new Date("2026-06-01T12:34:56.789Z"));
    expect((await verifyDetached(p7s, content, { anchors })).signingTime).toEqual(T);
    const late = await signDetached(content, id, new Date("2051-02-03T04:05:06Z"));
    expect(Buffer.from(late).includes(Buffer.from("20510203040506Z"))).toBe(true);
    expect((await verifyDetached(late, content, { anchors })).signingTime).toEqual(
      new Date("2051-02-03T04:05:06Z"),
    );
  });

  it("reports a signer without the code-signing EKU", async () => {
    const p7s = await signDetached(content, await identity("signer-noeku"), T);
    expect((await verifyDetached(p7s, content, { anchors })).codeSigning).toBe(false);
  });

  it("refuses a signer whose critical extendedKeyUsage excludes code signing (a TSA's certificate), reports a non-critical one", async () => {
    // RFC 3161 §2.3 makes a TSA's timeStamping EKU critical so that its key signs nothing else.
    const tsa = (
      await loadSigningIdentity(read("tsa.pem"), read("tsa.key"), {
        certSource: "tsa.pem",
        keySource: "tsa.key",
      })
    ).identity;
    await expect(
      verifyDetached(await signDetached(content, tsa, T), content, { anchors }),
    ).rejects.toMatchObject({
      code: "SIGNATURE_INVALID",
      message:
        'signature invalid: the critical extendedKeyUsage of "C=XX, O=trailseal test, CN=trailseal test TSA" (1.3.6.1.5.5.7.3.8) does not allow code signing',
    });
    const loose = (
      await loadSigningIdentity(read("tsa-noncritical.pem"), read("tsa-noncritical.key"), {
        certSource: "tsa-noncritical.pem",
        keySource: "tsa-noncritical.key",
      })
    ).identity;
    const facts = await verifyDetached(await signDetached(content, loose, T), content, { anchors });
    expect(facts.codeSigning).toBe(false);
  });

  it("validates the chain at the signing time, or at options.at when given", async () => {
    const id = await identity("signer-rsa");
    const after = await signDetached(content, id, new Date("2125-06-01T00:00:00Z"));
    await expect(verifyDetached(after, content, { anchors })).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(/expired at 2125-06-01T00:00:00Z/),
    });
    const facts = await verifyDetached(after, content, { anchors, at: T });
    expect(facts.signingTime).toEqual(new Date("2125-06-01T00:00:00Z"));
  });
});

describe("verifyDetached refuses", () => {
  /** Rebuilds a signature by hand so one field can be wrong while the signature stays valid. */
  async function craft(
    change: {
      digest?: "sha1" | "sha256";
      contentType?: string;
      essCert?: Uint8Array;
      dropEss?: boolean;
      extra?: CmsAttribute;
    } = {},
  ): Promise<Uint8Array> {
    const id = await identity("signer-rsa");
    const leaf = certificate(id.chain[0]!);
    const hash = change.digest ?? "sha256";
    const attrs: CmsAttribute[] = [
      { oid: OID.contentType, values: [encodeOid(change.contentType ?? OID.data)] },
      { oid: OID.signingTime, values: [encodeTime(T)] },
      {
        oid: OID.messageDigest,
        values: [encodeOctetString(new Uint8Array(createHash(hash).update(content).digest()))],
      },
    ];
    if (change.dropEss !== true) {
      attrs.push({
        oid: OID.signingCertificateV2,
        values: [encodeSigningCertificateV2(certificate(change.essCert ?? id.chain[0]!))],
      });
    }
    if (change.extra !== undefined) attrs.push(change.extra);
    const signedAttributes = encodeSignedAttributes(attrs);
    return encodeSignedData({
      certificates: id.chain,
      digestAlgorithm: hash === "sha1" ? OID.sha1 : OID.sha256,
      issuer: leaf.issuerDer,
      serial: leaf.serialBytes,
      signedAttributes,
      signatureAlgorithm: OID.rsaEncryption,
      signatureParameters: new Uint8Array([5, 0]),
      signature: new Uint8Array(nodeSign(hash, signedAttributes, id.key as KeyObject)),
    });
  }

  it("accepts the hand-made baseline (so each case below fails for its one change)", async () => {
    const facts = await verifyDetached(await craft(), content, { anchors });
    expect(facts.signer.subject).toBe("C=XX, O=trailseal test, CN=trailseal test signer RSA");
  });

  const cases: [string, () => Promise<Uint8Array>, Uint8Array, string, RegExp][] = [
    [
      "content changed by one byte",
      async () => signDetached(content, await identity("signer-ec"), T),
      Uint8Array.from(content, (b, i) => (i === 5 ? b ^ 1 : b)),
      "SIGNATURE_INVALID",
      /content does not match the signed message digest/,
    ],
    [
      "a signer outside the trust anchors",
      async () => signDetached(content, await identity("foreign-signer"), T),
      content,
      "CHAIN_UNTRUSTED",
      /"C=XX, O=trailseal test, CN=trailseal test foreign signer".*no path to a trust anchor/,
    ],
    [
      "a look-alike signer (same names, foreign keys)",
      async () => {
        const { identity: id } = await loadSigningIdentity(
          Buffer.concat([
            read("foreign-lookalike-signer.pem"),
            read("foreign-intermediate-ca.pem"),
          ]),
          read("foreign-lookalike-signer.key"),
          { certSource: "lookalike", keySource: "lookalike.key" },
        );
        return signDetached(content, id, T);
      },
      content,
      "CHAIN_UNTRUSTED",
      /no path to a trust anchor: the issuer "[^"]*foreign root CA"/,
    ],
    [
      "a signer expired at the signing time",
      async () => signDetached(content, await identity("signer-expired"), T),
      content,
      "CHAIN_UNTRUSTED",
      /expired at 2026-06-01T12:34:56Z: "[^"]*signer expired" was valid until 2021-01-01T00:00:00Z/,
    ],
    [
      "a signature made with the wrong key",
      async () => {
        const id = await identity("signer-rsa");
        return signDetached(
          content,
          { chain: id.chain, key: createPrivateKey(Buffer.from(read("signer-noeku.key"))) },
          T,
        );
      },
      content,
      "SIGNATURE_INVALID",
      /the signature over the signed attributes does not verify with the key of "[^"]*signer RSA"/,
    ],
    [
      "tampered signed attributes (signingTime one second later)",
      async () => {
        const p7s = Buffer.from(
          await signDetached(content, await identity("signer-rsa", "pss"), T),
        );
        const at = p7s.indexOf("260601123456Z");
        expect(at).toBeGreaterThan(0);
        p7s.write("7", at + 11, "latin1");
        return new Uint8Array(p7s);
      },
      content,
      "SIGNATURE_INVALID",
      /does not verify with the key of/,
    ],
    [
      "a signer whose keyUsage only allows certificate signing (a CA key)",
      async () => {
        const { identity: id, warnings } = await loadSigningIdentity(
          read("intermediate-ca.pem"),
          read("intermediate-ca.key"),
          {
            certSource: "intermediate-ca.pem",
            keySource: "intermediate-ca.key",
          },
        );
        expect(warnings[0]).toMatch(
          /has a keyUsage without digitalSignature; its signatures will not verify$/,
        );
        return signDetached(content, id, T);
      },
      content,
      "SIGNATURE_INVALID",
      /the keyUsage of "[^"]*intermediate CA" allows neither digitalSignature nor nonRepudiation/,
    ],
    [
      "a SHA-1 digest",
      () => craft({ digest: "sha1" }),
      content,
      "SIGNATURE_INVALID",
      /SHA-1 digest refused/,
    ],
    [
      "a contentType other than id-data",
      () => craft({ contentType: "1.2.840.113549.1.9.16.1.4" }),
      content,
      "SIGNATURE_INVALID",
      /contentType attribute 1\.2\.840\.113549\.1\.9\.16\.1\.4 is not id-data/,
    ],
    [
      "signingCertificateV2 naming another certificate",
      () => craft({ essCert: certs("signer-ec.pem")[0]! }),
      content,
      "SIGNATURE_INVALID",
      /signingCertificateV2 does not name the signer certificate/,
    ],
    [
      "a missing signingCertificateV2",
      () => craft({ dropEss: true }),
      content,
      "SIGNATURE_INVALID",
      /signingCertificateV2 signed attribute is missing/,
    ],
    [
      "a duplicated signed attribute",
      () =>
        craft({
          extra: { oid: OID.signingTime, values: [encodeTime(new Date("2026-06-02T00:00:00Z"))] },
        }),
      content,
      "SIGNATURE_INVALID",
      /appears more than once/,
    ],
    [
      "bytes that are not DER",
      async () => new Uint8Array([0x30, 0x80, 0x06, 0x09]),
      content,
      "SIGNATURE_INVALID",
      /malformed: indefinite length at byte 0/,
    ],
    [
      "a signature with its last byte cut",
      async () => (await signDetached(content, await identity("signer-ec"), T)).subarray(0, -1),
      content,
      "SIGNATURE_INVALID",
      /malformed: truncated/,
    ],
  ];
  it.each(cases)("%s", async (_label, make, checked, code, message) => {
    const p7s = await make();
    await expect(verifyDetached(p7s, checked, { anchors })).rejects.toMatchObject({
      code,
      message: expect.stringMatching(message),
    });
  });

  it("does not trust the signer's own root when it is only carried inside the signature", async () => {
    const { identity: id } = await loadSigningIdentity(
      Buffer.concat([read("foreign-signer.pem"), read("foreign-root-ca.pem")]),
      read("foreign-signer.key"),
      { certSource: "foreign", keySource: "foreign.key" },
    );
    const p7s = await signDetached(content, id, T);
    await expect(verifyDetached(p7s, content, { anchors })).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(/"[^"]*foreign root CA" is a root that is not a trust anchor/),
    });
    expect((await verifyDetached(p7s, content, { anchors: [foreignRoot] })).chain).toHaveLength(2);
  });
});

describe("round trip property", () => {
  it("verifies any content at any signing time inside the PKI's validity, and no other content", async () => {
    const id = await identity("signer-ec");
    const validator = new ChainValidator();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4096 }),
        fc.date({
          min: new Date("2025-01-01T00:00:01Z"),
          max: new Date("2124-12-31T23:59:59Z"),
          noInvalidDate: true,
        }),
        fc.nat(),
        async (data, at, flip) => {
          const p7s = await signDetached(data, id, at);
          const facts = await verifyDetached(p7s, data, { anchors, validator });
          expect(facts.signingTime).toEqual(new Date(Math.floor(at.getTime() / 1000) * 1000));
          const other = data.length === 0 ? new Uint8Array([0]) : Uint8Array.from(data);
          if (data.length > 0) other[flip % data.length]! ^= 1 << (flip % 8);
          await expect(verifyDetached(p7s, other, { anchors, validator })).rejects.toMatchObject({
            code: "SIGNATURE_INVALID",
          });
        },
      ),
      { numRuns: 40 },
    );
    expect(validator.validations).toBe(1);
  });
});

describe("every byte of a signature matters", () => {
  it.each([
    ["ECDSA P-256", "signer-ec", undefined],
    ["RSASSA-PSS", "signer-rsa", "pss"],
  ] as const)(
    "%s: flipping the low bit of any byte makes verification fail with a known code",
    async (_l, name, scheme) => {
      const p7s = await signDetached(content, await identity(name, scheme), T);
      // A warm cache must not let a changed certificate through.
      const validator = new ChainValidator();
      await verifyDetached(p7s, content, { anchors, validator });
      const codes = new Map<string, number>();
      for (let i = 0; i < p7s.length; i++) {
        const bad = Uint8Array.from(p7s);
        bad[i]! ^= 0x01;
        const code = await verifyDetached(bad, content, { anchors, validator }).then(
          () => `accepted: byte ${i} of ${p7s.length}`,
          (e: { code?: string }) => e.code ?? `no code: ${String(e)}`,
        );
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      expect([...codes.keys()].sort()).toEqual(["CHAIN_UNTRUSTED", "SIGNATURE_INVALID"]);
    },
  );
});

describe("adversarial signatures", () => {
  it("any mutation (bytes changed, cut, inserted) fails with SIGNATURE_INVALID or CHAIN_UNTRUSTED, never another error", async () => {
    const p7s = await signDetached(content, await identity("signer-rsa", "pss"), T);
    const validator = new ChainValidator();
    await verifyDetached(p7s, content, { anchors, validator });
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.nat(64) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        let bytes = Uint8Array.from(p7s);
        for (const m of mutations) {
          const at = m.at % bytes.length;
          if (m.kind === "set") bytes[at] = m.value === bytes[at] ? m.value ^ 0x80 : m.value;
          else if (m.kind === "cut")
            bytes = Uint8Array.from([
              ...bytes.subarray(0, at),
              ...bytes.subarray(at + 1 + m.value),
            ]);
          else bytes = Uint8Array.from([...bytes.subarray(0, at), m.value, ...bytes.subarray(at)]);
        }
        const outcome = await verifyDetached(bytes, content, { anchors, validator }).then(
          () => "accepted",
          (e: unknown) =>
            e instanceof Error && "code" in e ? String(e.code) : `foreign error: ${String(e)}`,
        );
        expect(["SIGNATURE_INVALID", "CHAIN_UNTRUSTED"]).toContain(outcome);
      }),
      { numRuns: 300 },
    );
  });
});

describe("unsigned attributes", () => {
  it("adds a signature timestamp token without touching the signed bytes", async () => {
    const id = await identity("signer-ec");
    const p7s = await signDetached(content, id, T);
    const token = encodeOctetString(new Uint8Array(300).fill(7)); // any DER value will do here
    const once = addUnsignedAttribute(p7s, SIGNATURE_TIMESTAMP_TOKEN_OID, token);
    const twice = addUnsignedAttribute(
      once,
      SIGNATURE_TIMESTAMP_TOKEN_OID,
      encodeOctetString(new Uint8Array([1])),
    );
    expect(signatureValue(once)).toEqual(signatureValue(p7s));
    const before = decodeSignedData(p7s).signerInfos[0]!;
    const after = decodeSignedData(twice).signerInfos[0]!;
    expect(after.signedAttrsDer).toEqual(before.signedAttrsDer);
    expect(decodeSignedData(twice).certificates).toEqual(decodeSignedData(p7s).certificates);
    const facts = await verifyDetached(twice, content, { anchors });
    expect(facts.unsignedAttributes).toEqual([
      {
        oid: "1.2.840.113549.1.9.16.2.14",
        values: [encodeOctetString(new Uint8Array([1])), token],
      },
    ]);
  });

  it("refuses a value that is not one DER element", async () => {
    const p7s = await signDetached(content, await identity("signer-ec"), T);
    expect(() =>
      addUnsignedAttribute(p7s, SIGNATURE_TIMESTAMP_TOKEN_OID, new Uint8Array([4, 5, 1])),
    ).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
  });
});

describe("loadSigningIdentity", () => {
  const load = (cert: string, key: string, extra: { passphrase?: string; now?: Date } = {}) =>
    loadSigningIdentity(
      cert.startsWith("/") ? new Uint8Array(readFileSync(cert)) : read(cert),
      key.startsWith("/") ? new Uint8Array(readFileSync(key)) : read(key),
      { certSource: cert, keySource: key, ...extra },
    );

  it("reads a chain and a key, leaf first, without warnings", async () => {
    const { identity: id, warnings } = await load("signer-rsa-chain.pem", "signer-rsa.key");
    expect(id.chain).toEqual(certs("signer-rsa-chain.pem"));
    expect(warnings).toEqual([]);
  });

  it("puts the certificate of the key first whatever the file order", async () => {
    const pem = Buffer.concat([read("intermediate-ca.pem"), read("signer-ec.pem")]);
    const { identity: id } = await loadSigningIdentity(pem, read("signer-ec.key"), {
      certSource: "c",
      keySource: "k",
    });
    expect(id.chain).toEqual([certs("signer-ec.pem")[0], certs("intermediate-ca.pem")[0]]);
  });

  it("reads a DER certificate and an encrypted PKCS#8 key with its passphrase", async () => {
    const { identity: id } = await loadSigningIdentity(
      certs("signer-rsa.pem")[0]!,
      read("signer-rsa.enc.key"),
      {
        certSource: "signer-rsa.der",
        keySource: "signer-rsa.enc.key",
        passphrase: "trailseal",
      },
    );
    const p7s = await signDetached(
      content,
      { ...id, chain: [...id.chain, certs("intermediate-ca.pem")[0]!] },
      T,
    );
    expect((await verifyDetached(p7s, content, { anchors })).signer.subject).toMatch(/signer RSA$/);
  });

  it("reads key and chain from one PKCS#12 file", async () => {
    const p12 = read("signer-rsa.p12");
    const { identity: id, warnings } = await loadSigningIdentity(p12, p12, {
      certSource: "signer-rsa.p12",
      keySource: "signer-rsa.p12",
      passphrase: "trailseal",
    });
    expect(warnings).toEqual([]);
    expect(id.chain).toEqual(certs("signer-rsa-chain.pem"));
    const facts = await verifyDetached(await signDetached(content, id, T), content, { anchors });
    expect(facts.chain).toHaveLength(3);
  });

  it("warns when the certificate lacks the code-signing EKU, or is expired now", async () => {
    expect((await load("signer-noeku-chain.pem", "signer-noeku.key")).warnings).toEqual([
      'the signing certificate "C=XX, O=trailseal test, CN=trailseal test signer without code-signing EKU" (signer-noeku-chain.pem) has no code-signing extended key usage, which SPS requires',
    ]);
    expect(
      (await load("signer-expired-chain.pem", "signer-expired.key", { now: T })).warnings,
    ).toEqual([
      'the signing certificate "C=XX, O=trailseal test, CN=trailseal test signer expired" expired on 2021-01-01T00:00:00.000Z; its signatures will not verify',
    ]);
  });

  const refusals: [string, () => Promise<unknown>, string, RegExp][] = [
    [
      "a key that belongs to another certificate",
      () => load("signer-rsa-chain.pem", "signer-noeku.key"),
      "KEY_INVALID",
      /^the private key in signer-noeku\.key does not match the certificate "[^"]*signer RSA" in signer-rsa-chain\.pem \(nor any of the other 1 certificate\(s\) there\)$/,
    ],
    [
      "an encrypted key without a passphrase",
      () => load("signer-rsa.pem", "signer-rsa.enc.key"),
      "KEY_PASSPHRASE",
      /encrypted and no passphrase was given/,
    ],
    [
      "an encrypted key with a wrong passphrase",
      () => load("signer-rsa.pem", "signer-rsa.enc.key", { passphrase: "nope" }),
      "KEY_PASSPHRASE",
      /wrong passphrase for the private key in signer-rsa\.enc\.key/,
    ],
    [
      "a key file with no key",
      () => load("signer-rsa.pem", "signer-rsa.pem"),
      "KEY_INVALID",
      /^signer-rsa\.pem holds certificates but no private key$/,
    ],
    [
      "a certificate file with no certificate",
      () => load("signer-rsa.key", "signer-rsa.key"),
      "NOT_A_CERTIFICATE",
      /^signer-rsa\.key holds a private key, not a certificate/,
    ],
  ];
  it.each(refusals)("refuses %s", async (_label, run, code, message) => {
    await expect(run()).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });

  const CERTS = join(import.meta.dirname, "..", "testdata", "certs");
  it("refuses RSA under 2048 bits and Ed25519 keys", async () => {
    await expect(
      load(join(CERTS, "rsa1024-weak.crt"), join(CERTS, "rsa1024-weak.key")),
    ).rejects.toMatchObject({
      code: "KEY_TOO_SMALL",
      message: expect.stringMatching(/has 1024 bits; signing needs 2048 or more/),
    });
    await expect(
      load(join(CERTS, "ed25519-a.crt"), join(CERTS, "ed25519-a.key")),
    ).rejects.toMatchObject({
      code: "KEY_UNSUPPORTED",
      message: expect.stringMatching(/is ed25519; signing needs RSA or ECDSA/),
    });
  });
});

describe("ChainValidator with signatures", () => {
  it("validates the signer chain once for 120 checkpoints (the time is measured in the bench, not here)", async () => {
    const id = await identity("signer-ec");
    const signatures: { p7s: Uint8Array; content: Uint8Array }[] = [];
    for (let i = 0; i < 120; i++) {
      const c = new TextEncoder().encode(`checkpoint ${i}`);
      signatures.push({
        p7s: await signDetached(c, id, new Date(T.getTime() + i * 30_000)),
        content: c,
      });
    }
    const validator = new ChainValidator();
    for (const s of signatures) {
      const facts = await verifyDetached(s.p7s, s.content, { anchors, validator });
      expect(facts.chain).toHaveLength(3);
    }
    expect(validator.validations).toBe(1);
  });
});
