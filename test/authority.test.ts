import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTHORITY_FILES, defaultHome, initAuthority, loadAuthority } from "../src/authority.js";
import { toHex } from "../src/bytes.js";
import { issueCertificate } from "../src/pkix/certify.js";
import { certificate } from "../src/pkix/cert.js";
import { EKU } from "../src/pkix/oid.js";
import { LOCAL_POLICY_OID, localStamper } from "../src/timestamp/token.js";
import { verifyToken } from "../src/timestamp/verify.js";
import { certDer, pkiPath, privateKey, sha256 } from "./helpers/tsa.js";

const NOW = new Date("2026-03-01T00:00:00Z");
const root = mkdtempSync(join(tmpdir(), "trailseal-auth-"));
const home = join(root, "home");
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("local authority", () => {
  beforeAll(async () => {
    await initAuthority(home, { now: NOW, keyType: "ec" });
  }, 30_000);

  it("writes six files; private keys are mode 0600 PKCS#8 PEM", () => {
    for (const name of Object.values(AUTHORITY_FILES)) {
      const mode = statSync(join(home, name)).mode & 0o777;
      if (name.endsWith(".key")) {
        expect(mode).toBe(0o600);
        expect(readFileSync(join(home, name), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      } else {
        expect(readFileSync(join(home, name), "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      }
    }
  });

  it("issues a TSA certificate openssl accepts for timestamping, and a code-signing identity", () => {
    const out = execFileSync(
      "openssl",
      [
        "verify",
        "-attime",
        String(NOW.getTime() / 1000 + 60),
        "-purpose",
        "timestampsign",
        "-CAfile",
        join(home, "ca.crt"),
        join(home, "tsa.crt"),
      ],
      { stdio: "pipe" },
    ).toString();
    expect(out.trim()).toBe(`${join(home, "tsa.crt")}: OK`);
    const text = execFileSync(
      "openssl",
      ["x509", "-in", join(home, "tsa.crt"), "-noout", "-text"],
      { stdio: "pipe" },
    ).toString();
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation/);
    expect(text).toMatch(/X509v3 Extended Key Usage: critical\n\s+Time Stamping\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  });

  it("loads back; the TSA signs tokens that verify against the CA and pass openssl ts -verify", async () => {
    const authority = await loadAuthority(home, { now: NOW });
    expect(authority.tsa.chain).toHaveLength(2);
    expect(authority.signer.chain).toHaveLength(2);
    const signer = certificate(authority.signer.chain[0]!);
    expect(signer.extendedKeyUsages).toEqual([EKU.codeSigning]);
    expect(signer.ekuCritical).toBe(false);
    const tsa = certificate(authority.tsa.chain[0]!);
    expect(tsa.extendedKeyUsages).toEqual([EKU.timeStamping]);
    expect(tsa.ekuCritical).toBe(true);
    expect(tsa.isCa).toBe(false);

    const at = new Date(NOW.getTime() + 3600_000);
    const stamper = localStamper(authority.tsa, {
      clock: () => at,
      serial: () => 77n,
      policyOid: LOCAL_POLICY_OID,
    });
    const imprint = sha256("data");
    const token = await stamper.stamp(imprint, 5n);
    const facts = await verifyToken(token, { imprint, nonce: 5n, anchors: [authority.ca] });
    expect(facts.tsaName).toBe("CN=trailseal local TSA, O=trailseal local authority");
    writeFileSync(join(root, "t.tst"), token);
    const out = execFileSync(
      "openssl",
      [
        "ts",
        "-verify",
        "-digest",
        toHex(imprint),
        "-sha256",
        "-in",
        join(root, "t.tst"),
        "-token_in",
        "-CAfile",
        join(home, "ca.crt"),
        "-attime",
        String(at.getTime() / 1000),
      ],
      { stdio: "pipe" },
    ).toString();
    expect(out.trim()).toBe("Verification: OK");
  });

  it("refuses to overwrite an existing authority without force (IO), and changes nothing", async () => {
    const before = readFileSync(join(home, "ca.key"));
    await expect(initAuthority(home, { now: NOW, keyType: "ec" })).rejects.toMatchObject({
      code: "IO",
      message: expect.stringContaining("already exists"),
    });
    expect(readFileSync(join(home, "ca.key")).equals(before)).toBe(true);
  });

  it("replaces it with force, keys still 0600", async () => {
    const other = join(root, "forced");
    await initAuthority(other, { now: NOW, keyType: "ec" });
    const before = readFileSync(join(other, "tsa.key"));
    await initAuthority(other, { now: NOW, keyType: "ec", force: true });
    expect(readFileSync(join(other, "tsa.key")).equals(before)).toBe(false);
    expect(statSync(join(other, "tsa.key")).mode & 0o777).toBe(0o600);
  });

  it("makes RSA authorities too", async () => {
    const rsa = join(root, "rsa");
    const result = await initAuthority(rsa, { now: NOW, keyType: "rsa" });
    expect(result.keyType).toBe("rsa");
    const authority = await loadAuthority(rsa, { now: NOW });
    expect(authority.tsa.key.asymmetricKeyType).toBe("rsa");
    expect(authority.tsa.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  }, 30_000);

  it("refuses a key file others can read, and a TSA or signer that does not chain to the CA", async () => {
    const h = join(root, "checked");
    await initAuthority(h, { now: NOW, keyType: "ec" });
    await expect(loadAuthority(h, { now: NOW })).resolves.toMatchObject({ home: h });
    chmodSync(join(h, "tsa.key"), 0o644);
    await expect(loadAuthority(h, { now: NOW })).rejects.toMatchObject({
      code: "KEY_INVALID",
      message: `${join(h, "tsa.key")} can be read by other users (mode 644)`,
      hint: `chmod 600 ${join(h, "tsa.key")}`,
    });
    chmodSync(join(h, "tsa.key"), 0o600);
    // The TSA's key in place of the signer's: it matches no signer certificate.
    const signerKey = readFileSync(join(h, "signer.key"));
    writeFileSync(join(h, "signer.key"), readFileSync(join(h, "tsa.key")));
    await expect(loadAuthority(h, { now: NOW })).rejects.toMatchObject({
      code: "KEY_INVALID",
      message: `${join(h, "signer.key")} does not match ${join(h, "signer.crt")}`,
    });
    writeFileSync(join(h, "signer.key"), signerKey);
    // Another CA in place of the authority's: neither the TSA nor the signer chains to it.
    writeFileSync(join(h, "ca.crt"), readFileSync(pkiPath("root-ca.pem")));
    await expect(loadAuthority(h, { now: NOW })).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: expect.stringMatching(
        new RegExp(
          `^the TSA certificate ${join(h, "tsa.crt")} does not chain to ${join(h, "ca.crt")}: `,
        ),
      ),
    });
  });

  it("says how to create a missing authority (IO with a hint)", async () => {
    await expect(loadAuthority(join(root, "none"))).rejects.toMatchObject({
      code: "IO",
      details: { missing: "authority" },
    });
  });

  it("finds its home: flag, then $TRAILSEAL_HOME, then ~/.trailseal with ~ from the env given", () => {
    expect(defaultHome({ TRAILSEAL_HOME: "/x" }, "/cwd", "rel")).toBe("/cwd/rel");
    expect(defaultHome({ TRAILSEAL_HOME: "/x" }, "/cwd")).toBe("/x");
    expect(defaultHome({ TRAILSEAL_HOME: "", HOME: "/home/u" }, "/cwd")).toBe("/home/u/.trailseal");
    // Not the HOME of the process running the tests: only the env passed in counts.
    expect(defaultHome({ HOME: "/elsewhere" }, "/cwd")).toBe("/elsewhere/.trailseal");
  });
});

describe("issueCertificate", () => {
  it("issues a leaf under an existing CA (RSA issuer, EC subject) that openssl verifies, with exact fields", async () => {
    const leafKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const notAfter = new Date("2036-01-01T00:00:00Z");
    const der = await issueCertificate({
      subject: "CN=auditor one, O=example",
      publicKey: leafKey.publicKey,
      issuer: { certificate: certDer("root-ca"), key: privateKey("root-ca") },
      notBefore,
      notAfter,
      serialHex: "7f01",
      basicConstraints: { ca: false },
      keyUsage: { usages: ["keyAgreement"] },
      extendedKeyUsage: { oids: ["1.3.6.1.5.5.7.3.4"], critical: false },
    });
    const facts = certificate(der);
    expect(facts.subject).toBe("CN=auditor one, O=example");
    expect(facts.serialNumber).toBe(0x7f01n);
    expect(facts.notBefore.toISOString()).toBe(notBefore.toISOString());
    expect(facts.notAfter.toISOString()).toBe(notAfter.toISOString());
    expect(facts.extendedKeyUsages).toEqual([EKU.emailProtection]);
    expect(facts.ekuCritical).toBe(false);
    const pem = join(root, "auditor.pem");
    writeFileSync(
      pem,
      `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64")}\n-----END CERTIFICATE-----\n`,
    );
    const out = execFileSync(
      "openssl",
      ["verify", "-attime", "1800000000", "-CAfile", pkiPath("root-ca.pem"), pem],
      { stdio: "pipe" },
    ).toString();
    expect(out.trim()).toBe(`${pem}: OK`);
  });
});
