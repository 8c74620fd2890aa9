import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ChainValidator,
  extendedKeyUsages,
  isEkuCritical,
  validateChain,
} from "../src/pkix/chain.js";
import { certificate } from "../src/pkix/cert.js";
import { EKU } from "../src/pkix/oid.js";

const PKI = join(import.meta.dirname, "..", "testdata", "pki");

/** All certificates of a PEM file, DER, in file order. */
function certs(name: string): Uint8Array[] {
  const text = readFileSync(join(PKI, name), "utf8");
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")),
  );
}
function cert(name: string): Uint8Array {
  return certs(name)[0]!;
}

const root = cert("root-ca.pem");
const intermediate = cert("intermediate-ca.pem");
const foreignRoot = cert("foreign-root-ca.pem");
const NOW = new Date("2026-06-01T00:00:00Z");

describe("validateChain", () => {
  it.each(["signer-rsa.pem", "signer-ec.pem", "signer-ec384.pem", "signer-noeku.pem"])(
    "builds %s -> intermediate -> root",
    async (name) => {
      const leaf = cert(name);
      const r = await validateChain(leaf, [intermediate], [root], NOW);
      expect(r.chain).toEqual([leaf, intermediate, root]);
      expect(r.anchor).toEqual(root);
    },
  );

  it("builds a TSA directly under the root, ignoring unrelated intermediates", async () => {
    const tsa = cert("tsa.pem");
    const r = await validateChain(
      tsa,
      [intermediate, cert("foreign-signer.pem")],
      [foreignRoot, root],
      NOW,
    );
    expect(r.chain).toEqual([tsa, root]);
  });

  it("finds the path whatever the order of intermediates and anchors", async () => {
    const leaf = cert("signer-rsa.pem");
    const r = await validateChain(
      leaf,
      [cert("foreign-intermediate-ca.pem"), cert("signer-ec.pem"), intermediate],
      [foreignRoot, root],
      NOW,
    );
    expect(r.chain).toEqual([leaf, intermediate, root]);
  });

  const untrusted: [string, () => Promise<unknown>, RegExp][] = [
    [
      "leaf outside the anchors",
      () => validateChain(cert("foreign-signer.pem"), [], [root], NOW),
      /"C=XX, O=trailseal test, CN=trailseal test foreign signer".*no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test foreign root CA"/,
    ],
    [
      "leaf whose own root is included but not an anchor",
      () => validateChain(cert("foreign-signer.pem"), [foreignRoot], [root], NOW),
      /no path to a trust anchor: "[^"]*foreign root CA" is a root that is not a trust anchor/,
    ],
    [
      "missing intermediate",
      () => validateChain(cert("signer-rsa.pem"), [], [root], NOW),
      /no path to a trust anchor: the issuer "[^"]*intermediate CA"/,
    ],
    [
      "look-alike names (foreign intermediate with the trusted intermediate's name)",
      () => validateChain(cert("foreign-lookalike-signer.pem"), [intermediate], [root], NOW),
      /bad signature: "[^"]*signer RSA" is not signed by the key of the included certificate "[^"]*intermediate CA"/,
    ],
    [
      "look-alike intermediate carried along",
      () =>
        validateChain(
          cert("foreign-lookalike-signer.pem"),
          [cert("foreign-intermediate-ca.pem")],
          [root],
          NOW,
        ),
      /no path to a trust anchor: the issuer "[^"]*foreign root CA" of "[^"]*intermediate CA" is neither/,
    ],
    [
      "expired leaf",
      () => validateChain(cert("signer-expired.pem"), [intermediate], [root], NOW),
      /expired at 2026-06-01T00:00:00Z: "[^"]*signer expired" was valid until 2021-01-01T00:00:00Z/,
    ],
    [
      "not yet valid leaf",
      () => validateChain(cert("tsa-not-yet-valid.pem"), [], [root], NOW),
      /not yet valid at 2026-06-01T00:00:00Z: "[^"]*TSA not yet valid" is valid from 2100-01-01T00:00:00Z/,
    ],
    [
      "anchor not yet valid at the time asked",
      () =>
        validateChain(
          cert("signer-rsa.pem"),
          [intermediate],
          [root],
          new Date("2024-06-01T00:00:00Z"),
        ),
      /not yet valid at 2024-06-01T00:00:00Z: "[^"]*signer RSA" is valid from 2025-01-01/,
    ],
    [
      "issuer not a CA",
      () =>
        validateChain(
          cert("signer-bad-issuer.pem"),
          [cert("signer-noeku.pem"), intermediate],
          [root],
          NOW,
        ),
      /issuer not a CA: "[^"]*signer without code-signing EKU" has no basicConstraints cA/,
    ],
    [
      "no anchors",
      () => validateChain(cert("signer-rsa.pem"), [intermediate], [], NOW),
      /no trust anchors were given/,
    ],
  ];
  it.each(untrusted)("refuses %s with CHAIN_UNTRUSTED", async (_name, run, message) => {
    await expect(run()).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(message),
    });
  });

  it("validates the expired leaf at a time inside its validity (chains are checked at the signing time)", async () => {
    // The root and intermediate start in 2025, so 2020 fails on them, not on the leaf.
    await expect(
      validateChain(
        cert("signer-expired.pem"),
        [intermediate],
        [root],
        new Date("2020-06-01T00:00:00Z"),
      ),
    ).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(
        /included certificate not yet valid at 2020-06-01T00:00:00Z: "[^"]*intermediate CA"/,
      ),
    });
  });

  it("accepts a leaf that is itself an anchor", async () => {
    const r = await validateChain(root, [], [root], NOW);
    expect(r.chain).toEqual([root]);
  });

  it("refuses bytes that are not a certificate with NOT_A_CERTIFICATE", async () => {
    await expect(
      validateChain(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), [], [root], NOW),
    ).rejects.toMatchObject({
      code: "NOT_A_CERTIFICATE",
    });
  });
});

describe("certificate helpers", () => {
  it("reads EKUs and their criticality", () => {
    expect(extendedKeyUsages(cert("signer-rsa.pem"))).toEqual([EKU.codeSigning]);
    expect(isEkuCritical(cert("signer-rsa.pem"))).toBe(false);
    expect(extendedKeyUsages(cert("signer-noeku.pem"))).toEqual([]);
    expect(isEkuCritical(cert("signer-noeku.pem"))).toBeNull();
    expect(extendedKeyUsages(cert("tsa.pem"))).toEqual([EKU.timeStamping]);
    expect(isEkuCritical(cert("tsa.pem"))).toBe(true);
    expect(isEkuCritical(cert("tsa-noncritical.pem"))).toBe(false);
    expect(extendedKeyUsages(cert("tsa-wrong-eku.pem"))).toEqual([EKU.codeSigning]);
  });

  it("names subject and issuer, reads CA flags and key usage", () => {
    expect(certificate(cert("signer-rsa.pem")).subject).toBe(
      "C=XX, O=trailseal test, CN=trailseal test signer RSA",
    );
    expect(certificate(cert("signer-rsa.pem")).issuer).toBe(
      "C=XX, O=trailseal test, CN=trailseal test intermediate CA",
    );
    const i = certificate(intermediate);
    expect(i.isCa).toBe(true);
    expect(i.pathLenConstraint).toBe(0);
    expect([...(i.keyUsage ?? [])].sort()).toEqual(["cRLSign", "keyCertSign"]);
    expect(certificate(cert("signer-rsa.pem")).isCa).toBe(false);
    expect(i.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("ChainValidator", () => {
  it("validates a signer once for many instants inside the validity window", async () => {
    const v = new ChainValidator();
    const leaf = cert("signer-ec.pem");
    for (let i = 0; i < 120; i++) {
      const r = await v.validate(
        leaf,
        [intermediate],
        [root],
        new Date(NOW.getTime() + i * 30_000),
      );
      expect(r.chain).toHaveLength(3);
    }
    expect(v.validations).toBe(1);
  });

  it("does not reuse a result outside the window, for other anchors, or after a failure", async () => {
    const v = new ChainValidator();
    const leaf = cert("signer-rsa.pem");
    await v.validate(leaf, [intermediate], [root], NOW);
    await expect(
      v.validate(leaf, [intermediate], [root], new Date("2130-01-01T00:00:00Z")),
    ).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
    });
    await expect(v.validate(leaf, [intermediate], [foreignRoot], NOW)).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
    });
    await v.validate(leaf, [intermediate], [root, foreignRoot], NOW);
    expect(v.validations).toBe(4);
    // Another set of intermediates is validated afresh: a tampered copy never rides on a cached path.
    const tampered = Uint8Array.from(intermediate);
    tampered[tampered.length - 10]! ^= 1;
    await expect(v.validate(leaf, [tampered], [root], NOW)).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(
        /bad signature: "[^"]*intermediate CA" is not signed by the key of the trust anchor/,
      ),
    });
    expect(v.validations).toBe(5);
  });
});
