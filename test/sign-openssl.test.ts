/**
 * openssl cross-checks both ways: `openssl cms -verify` accepts what signDetached makes (and
 * rejects it after a byte of content changes), and verifyDetached accepts what `openssl cms -sign
 * -cades` makes with the same test PKI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  SIGNATURE_TIMESTAMP_TOKEN_OID,
  addUnsignedAttribute,
  loadSigningIdentity,
  signDetached,
  verifyDetached,
} from "../src/sign.js";
import { encodeOctetString } from "../src/pkix/der.js";

const PKI = join(import.meta.dirname, "..", "testdata", "pki");
const dir = mkdtempSync(join(tmpdir(), "trailseal-sign-openssl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(PKI, name)));
const root = new Uint8Array(readFileSync(join(PKI, "root-ca.der")));
const content = new TextEncoder().encode("checkpoint 3: 512 records, head 4f2c...\n");
const contentFile = join(dir, "content");
writeFileSync(contentFile, content);
const T = new Date("2026-06-01T00:00:00Z");

function opensslVerify(p7s: Uint8Array, options: { data?: Uint8Array; extra?: string[] } = {}) {
  const sig = join(dir, `v-${Math.random().toString(36).slice(2)}.p7s`);
  const data = join(dir, `v-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(sig, p7s);
  writeFileSync(data, options.data ?? content);
  const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", data];
  args.push(
    "-CAfile",
    join(PKI, "root-ca.pem"),
    "-purpose",
    "any",
    "-out",
    "/dev/null",
    ...(options.extra ?? []),
  );
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

async function ours(name: string, scheme?: "pss", withIntermediate = true): Promise<Uint8Array> {
  const certFile = withIntermediate ? `${name}-chain.pem` : `${name}.pem`;
  const { identity } = await loadSigningIdentity(read(certFile), read(`${name}.key`), {
    certSource: certFile,
    keySource: `${name}.key`,
    ...(scheme === undefined ? {} : { scheme }),
  });
  return signDetached(content, identity, T);
}

function theirs(name: string, extra: string[] = []): Uint8Array {
  const out = join(dir, `o-${name}-${Math.random().toString(36).slice(2)}.p7s`);
  execFileSync("openssl", [
    "cms",
    "-sign",
    "-binary",
    "-outform",
    "DER",
    "-in",
    contentFile,
    "-signer",
    join(PKI, `${name}.pem`),
    "-inkey",
    join(PKI, `${name}.key`),
    ...extra,
    "-out",
    out,
  ]);
  return new Uint8Array(readFileSync(out));
}

describe("openssl cms -verify accepts our signatures", () => {
  const cases: [string, string, "pss" | undefined][] = [
    ["RSA PKCS#1 v1.5", "signer-rsa", undefined],
    ["RSASSA-PSS", "signer-rsa", "pss"],
    ["ECDSA P-256", "signer-ec", undefined],
    ["ECDSA P-384", "signer-ec384", undefined],
  ];
  it.each(cases)(
    "%s, intermediate inside the signature, also under -cades",
    async (_l, name, scheme) => {
      const p7s = await ours(name, scheme);
      expect(opensslVerify(p7s)).toMatchObject({
        status: 0,
        stderr: expect.stringContaining("CMS Verification successful"),
      });
      expect(opensslVerify(p7s, { extra: ["-cades"] })).toMatchObject({
        status: 0,
        stderr: expect.stringContaining("CAdES Verification successful"),
      });
    },
  );

  it.each(cases)("%s: rejected after one byte of content changes", async (_l, name, scheme) => {
    const p7s = await ours(name, scheme);
    const changed = Uint8Array.from(content, (b, i) => (i === content.length - 2 ? b ^ 0x20 : b));
    const r = opensslVerify(p7s, { data: changed });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/CMS Verification failure[\s\S]*content verify error/);
  });

  it("leaf-only signature: openssl needs the intermediate from elsewhere", async () => {
    const p7s = await ours("signer-rsa", undefined, false);
    expect(opensslVerify(p7s)).toMatchObject({
      status: 4,
      stderr: expect.stringMatching(/unable to get local issuer certificate/),
    });
    const bundle = join(dir, "root-and-intermediate.pem");
    writeFileSync(bundle, Buffer.concat([read("root-ca.pem"), read("intermediate-ca.pem")]));
    expect(opensslVerify(p7s, { extra: ["-CAfile", bundle] }).status).toBe(0);
  });

  it("still verifies after a signature timestamp attribute is added", async () => {
    const p7s = addUnsignedAttribute(
      await ours("signer-ec"),
      SIGNATURE_TIMESTAMP_TOKEN_OID,
      encodeOctetString(new Uint8Array(64).fill(1)),
    );
    expect(opensslVerify(p7s).status).toBe(0);
  });

  it("refuses a signer outside the anchors", async () => {
    const { identity } = await loadSigningIdentity(
      read("foreign-signer.pem"),
      read("foreign-signer.key"),
      {
        certSource: "foreign-signer.pem",
        keySource: "foreign-signer.key",
      },
    );
    const r = opensslVerify(await signDetached(content, identity, T));
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/unable to get local issuer certificate/);
  });
});

describe("verifyDetached accepts openssl cms -sign -cades", () => {
  const chain = ["-certfile", join(PKI, "intermediate-ca.pem")];
  const cases: [string, string, string[], string][] = [
    ["RSA PKCS#1 v1.5", "signer-rsa", ["-md", "sha256", "-cades", ...chain], "SHA-256"],
    [
      "RSASSA-PSS",
      "signer-rsa",
      ["-md", "sha256", "-cades", "-keyopt", "rsa_padding_mode:pss", ...chain],
      "SHA-256",
    ],
    ["ECDSA P-256", "signer-ec", ["-md", "sha256", "-cades", ...chain], "SHA-256"],
    ["ECDSA P-384 (SHA-384)", "signer-ec384", ["-md", "sha384", "-cades", ...chain], "SHA-384"],
    [
      "signer named by subjectKeyIdentifier (-keyid)",
      "signer-ec",
      ["-md", "sha256", "-cades", "-keyid", ...chain],
      "SHA-256",
    ],
  ];
  it.each(cases)("%s", async (_l, name, args, digest) => {
    const facts = await verifyDetached(theirs(name, args), content, { anchors: [root] });
    expect(facts.signer.subject).toBe(
      {
        "signer-rsa": "C=XX, O=trailseal test, CN=trailseal test signer RSA",
        "signer-ec": "C=XX, O=trailseal test, CN=trailseal test signer ECDSA P-256",
        "signer-ec384": "C=XX, O=trailseal test, CN=trailseal test signer ECDSA P-384",
      }[name],
    );
    expect(facts.digestAlgorithm).toBe(digest);
    expect(facts.chain).toHaveLength(3);
    expect(facts.codeSigning).toBe(true);
    expect(facts.signingTime).toBeInstanceOf(Date);
  });

  const refusals: [string, () => Uint8Array, string, RegExp][] = [
    [
      "without -cades (no signingCertificateV2)",
      () => theirs("signer-ec", ["-md", "sha256", ...chain]),
      "SIGNATURE_INVALID",
      /signingCertificateV2 signed attribute is missing/,
    ],
    [
      "with -md sha1",
      () => theirs("signer-rsa", ["-md", "sha1", ...chain]),
      "SIGNATURE_INVALID",
      /SHA-1 digest refused/,
    ],
    [
      "by a signer outside the anchors",
      () => theirs("foreign-signer", ["-md", "sha256", "-cades"]),
      "CHAIN_UNTRUSTED",
      /foreign signer.*no path to a trust anchor/,
    ],
    [
      "without the intermediate (-nocerts leaves out even the signer)",
      () => theirs("signer-rsa", ["-md", "sha256", "-cades", "-nocerts"]),
      "SIGNATURE_INVALID",
      /the signer's certificate is not included in the signature/,
    ],
  ];
  it.each(refusals)("refuses one made %s", async (_l, make, code, message) => {
    await expect(verifyDetached(make(), content, { anchors: [root] })).rejects.toMatchObject({
      code,
      message: expect.stringMatching(message),
    });
  });

  it("refuses an openssl signature over other content", async () => {
    const p7s = theirs("signer-rsa", ["-md", "sha256", "-cades", ...chain]);
    await expect(
      verifyDetached(p7s, new TextEncoder().encode("something else"), { anchors: [root] }),
    ).rejects.toMatchObject({
      code: "SIGNATURE_INVALID",
      message: expect.stringMatching(/content does not match/),
    });
  });
});
