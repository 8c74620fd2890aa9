import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyFingerprint, readPrivateKeys, writePrivateKeyFile } from "../src/keys.js";
import { certificateFingerprint, readCertificates, spkiFingerprint } from "../src/pem.js";

const DIR = join(import.meta.dirname, "..", "testdata", "certs");
const PASS = "trailseal-test";
const file = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));

async function certSpki(name: string): Promise<string> {
  const [der] = await readCertificates(file(name), { source: name });
  return spkiFingerprint(der!);
}

async function expectCode(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: "TrailsealError", code, message });
}

// Every key form in testdata/certs (generate.sh) and the certificate whose key it is.
const FORMS: readonly [file: string, cert: string, passphrase?: string][] = [
  ["rsa2048-a.key", "rsa2048-a.crt"],
  ["keys/rsa-pkcs8.pem", "rsa2048-a.crt"],
  ["keys/rsa-pkcs1.pem", "rsa2048-a.crt"],
  ["keys/rsa-pkcs8-encrypted.pem", "rsa2048-a.crt", PASS],
  ["keys/rsa-pkcs1-encrypted.pem", "rsa2048-a.crt", PASS],
  ["keys/rsa-pkcs8.der", "rsa2048-a.crt"],
  ["keys/rsa-pkcs8-encrypted.der", "rsa2048-a.crt", PASS],
  ["keys/ec-pkcs8.pem", "ec-p256-a.crt"],
  ["keys/ec-sec1.pem", "ec-p256-a.crt"],
  ["keys/ec-sec1-with-params.pem", "ec-p256-a.crt"],
  ["keys/ed25519-pkcs8.pem", "ed25519-a.crt"],
  ["ec-p384-a.key", "ec-p384-a.crt"],
  ["ec-p521-a.key", "ec-p521-a.crt"],
  ["variants/modern.p12", "rsa2048-a.crt", PASS],
  ["variants/legacy-rc2.p12", "rsa2048-a.crt", PASS],
  ["variants/legacy-3des.pfx", "rsa2048-a.crt", PASS],
  ["variants/ec-nopass.p12", "ec-p256-a.crt"],
  ["variants/nomac.p12", "rsa2048-a.crt", PASS],
  ["variants/key-and-cert.pem", "rsa2048-a.crt"],
];

describe("readPrivateKeys: every form matches its certificate", () => {
  for (const [name, cert, passphrase] of FORMS) {
    it(`${name}${passphrase === undefined ? "" : " (passphrase)"}`, async () => {
      const keys = await readPrivateKeys(file(name), {
        source: name,
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      expect(keys).toHaveLength(1);
      const [k] = keys;
      const expected = await certSpki(cert);
      expect(k!.spkiFingerprint).toBe(expected);
      expect(publicKeyFingerprint(k!.key)).toBe(expected);
      expect(publicKeyFingerprint(k!.publicKey)).toBe(expected);
      expect(k!.key.type).toBe("private");
      expect(k!.source).toBe(name);
    });
  }

  it("the five RSA-2048 recipients are distinct keys that match their certificates", async () => {
    const seen = new Set<string>();
    for (const x of ["a", "b", "c", "d", "e"]) {
      const [k] = await readPrivateKeys(file(`rsa2048-${x}.key`), { source: x });
      expect(k!.spkiFingerprint).toBe(await certSpki(`rsa2048-${x}.crt`));
      expect(k!.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      seen.add(k!.spkiFingerprint);
    }
    expect(seen.size).toBe(5);
  });
});

describe("readPrivateKeys: certificates that come with the key", () => {
  it("PKCS#12 with a chain: the key's own certificate first, then the CA", async () => {
    const [k] = await readPrivateKeys(file("variants/signer-chain.p12"), {
      source: "s.p12",
      passphrase: PASS,
    });
    const fingerprints = k!.certificates.map(certificateFingerprint);
    const signer = certificateFingerprint(
      (await readCertificates(file("signer.crt"), { source: "s" }))[0]!,
    );
    const ca = certificateFingerprint(
      (await readCertificates(file("ca.crt"), { source: "c" }))[0]!,
    );
    expect(fingerprints).toEqual([signer, ca]);
    expect(k!.spkiFingerprint).toBe(await certSpki("signer.crt"));
  });

  it("a PEM bundle with the chain before the key still puts the leaf first", async () => {
    const text =
      readFileSync(join(DIR, "ca.crt"), "utf8") +
      readFileSync(join(DIR, "signer.key"), "utf8") +
      readFileSync(join(DIR, "signer.crt"), "utf8");
    const [k] = await readPrivateKeys(new TextEncoder().encode(text), { source: "bundle.pem" });
    expect(k!.certificates.map(spkiFingerprint)).toEqual([
      await certSpki("signer.crt"),
      await certSpki("ca.crt"),
    ]);
  });

  it("a bare key has no certificates", async () => {
    const [k] = await readPrivateKeys(file("rsa2048-a.key"), { source: "k" });
    expect(k!.certificates).toEqual([]);
  });

  it("several keys in one file, in order", async () => {
    const text =
      readFileSync(join(DIR, "rsa2048-b.key"), "utf8") +
      readFileSync(join(DIR, "ec-p384-a.key"), "utf8");
    const keys = await readPrivateKeys(new TextEncoder().encode(text), { source: "two.pem" });
    expect(keys.map((k) => k.spkiFingerprint)).toEqual([
      await certSpki("rsa2048-b.crt"),
      await certSpki("ec-p384-a.crt"),
    ]);
  });

  it("a key JSON-escaped with literal \\n, CRLF, or re-wrapped, still reads", async () => {
    const pem = readFileSync(join(DIR, "keys/rsa-pkcs8-encrypted.pem"), "utf8");
    const expected = await certSpki("rsa2048-a.crt");
    const variants = [
      JSON.stringify(pem),
      pem.replace(/\n/g, "\r\n"),
      pem
        .replace(/\n(?!-)/g, "")
        .replace(
          "-----BEGIN ENCRYPTED PRIVATE KEY-----",
          "-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
        ),
    ];
    for (const v of variants) {
      const [k] = await readPrivateKeys(new TextEncoder().encode(v), {
        source: "v",
        passphrase: PASS,
      });
      expect(k!.spkiFingerprint).toBe(expected);
    }
  });
});

describe("readPrivateKeys: errors", () => {
  const encrypted = [
    "keys/rsa-pkcs8-encrypted.pem",
    "keys/rsa-pkcs1-encrypted.pem",
    "keys/rsa-pkcs8-encrypted.der",
  ];
  for (const name of encrypted) {
    it(`${name}: KEY_PASSPHRASE when missing or wrong, never echoing it`, async () => {
      await expectCode(
        readPrivateKeys(file(name), { source: name }),
        "KEY_PASSPHRASE",
        `the private key in ${name} is encrypted and no passphrase was given`,
      );
      const wrong = readPrivateKeys(file(name), { source: name, passphrase: "s3cret-wrong" });
      await expectCode(wrong, "KEY_PASSPHRASE", `wrong passphrase for the private key in ${name}`);
    });
  }

  it("a PKCS#12 file without a MAC: the key bag tells a wrong password", async () => {
    await expectCode(
      readPrivateKeys(file("variants/nomac.p12"), {
        source: "nomac.p12",
        passphrase: "s3cret-wrong",
      }),
      "KEY_PASSPHRASE",
      "wrong password for PKCS#12 file nomac.p12",
    );
  });

  for (const name of [
    "variants/modern.p12",
    "variants/legacy-rc2.p12",
    "variants/legacy-3des.pfx",
  ]) {
    it(`${name}: KEY_PASSPHRASE when missing or wrong`, async () => {
      await expectCode(
        readPrivateKeys(file(name), { source: name }),
        "KEY_PASSPHRASE",
        `${name} is a password-protected PKCS#12 file and no password was given`,
      );
      await expectCode(
        readPrivateKeys(file(name), { source: name, passphrase: "s3cret-wrong" }),
        "KEY_PASSPHRASE",
        `wrong password for PKCS#12 file ${name}`,
      );
    });
  }

  const table: [string, string, string][] = [
    ["rsa2048-a.crt", "KEY_INVALID", "rsa2048-a.crt holds certificates but no private key"],
    ["variants/der.der", "KEY_INVALID", "variants/der.der holds certificates but no private key"],
    ["bad/request.csr", "KEY_INVALID", "no private key found in bad/request.csr"],
    ["bad/no-certificate.txt", "KEY_INVALID", "no private key found in bad/no-certificate.txt"],
    [
      "bad/truncated.der",
      "KEY_INVALID",
      "bad/truncated.der: invalid DER: truncated: element at byte 0 needs 565 more bytes",
    ],
  ];
  for (const [name, code, message] of table) {
    it(`${name}: ${code}`, async () => {
      await expectCode(readPrivateKeys(file(name), { source: name }), code, message);
    });
  }

  it("KEY_INVALID for a PEM key block with broken contents", async () => {
    const text =
      "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6\n-----END PRIVATE KEY-----\n";
    await expect(
      readPrivateKeys(new TextEncoder().encode(text), { source: "k.pem" }),
    ).rejects.toMatchObject({
      code: "KEY_INVALID",
      message: "k.pem: PEM block 1 (PRIVATE KEY): invalid private key (OpenSSL cannot decode it)",
    });
  });

  it("KEY_UNSUPPORTED for a PKCS#8 key of an algorithm OpenSSL does not know", async () => {
    // PrivateKeyInfo { 0, AlgorithmIdentifier { 1.2.3.4 }, OCTET STRING 00 }
    const der = new Uint8Array(Buffer.from("300d020100300506032a0304040100", "hex"));
    await expectCode(
      readPrivateKeys(der, { source: "odd.der" }),
      "KEY_UNSUPPORTED",
      "odd.der: unsupported private key algorithm 1.2.3.4",
    );
  });

  it("KEY_UNSUPPORTED for an X25519 key (no use in trailseal)", async () => {
    const { privateKey } = generateKeyPairSync("x25519");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await expectCode(
      readPrivateKeys(new TextEncoder().encode(pem), { source: "x.pem" }),
      "KEY_UNSUPPORTED",
      "x.pem: PEM block 1 (PRIVATE KEY): X25519 keys are not supported (RSA, EC, Ed25519, Ed448 are)",
    );
  });
});

describe("writePrivateKeyFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "trailseal-keys-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pem = readFileSync(join(DIR, "rsa2048-a.key"), "utf8");

  it("creates the file with mode 0600", async () => {
    const path = join(dir, "new.key");
    await writePrivateKeyFile(path, pem);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe(pem);
  });

  it("refuses to overwrite without force, with a hint about --force", async () => {
    const path = join(dir, "exists.key");
    writeFileSync(path, "old");
    await expect(writePrivateKeyFile(path, pem)).rejects.toMatchObject({
      code: "IO",
      message: `${path} exists; not overwriting a private key file`,
      details: { missing: "force" },
    });
    expect(readFileSync(path, "utf8")).toBe("old");
  });

  it("with force, replaces a world-readable file by a new 0600 one", async () => {
    const path = join(dir, "open.key");
    writeFileSync(path, "old", { mode: 0o644 });
    await writePrivateKeyFile(path, pem, { force: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe(pem);
  });
});
