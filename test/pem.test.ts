import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  certificateFingerprint,
  certificatePublicKey,
  checkApiCertificate,
  describeCertificate,
  readCertificates,
  spkiFingerprint,
  toApiString,
  toPem,
} from "../src/pem.js";

const DIR = join(import.meta.dirname, "..", "testdata", "certs");
const PASS = "trailseal-test";

const file = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));
const openssl = (args: string[], input?: Uint8Array | string): string =>
  execFileSync("openssl", args, { input, cwd: DIR, encoding: "utf8" });

/** openssl's own SHA-256 fingerprint of a certificate, lowercase hex without colons. */
function opensslFingerprint(pemOrDer: Uint8Array | string, inform = "PEM"): string {
  const out = openssl(["x509", "-inform", inform, "-noout", "-fingerprint", "-sha256"], pemOrDer);
  return out.trim().replace(/^.*=/, "").replace(/:/g, "").toLowerCase();
}

/** SHA-256 of the SPKI DER as openssl extracts it (x509 -pubkey | pkey -pubin -outform DER | dgst). */
function opensslSpkiFingerprint(certFile: string): string {
  const pub = openssl(["x509", "-in", certFile, "-noout", "-pubkey"]);
  const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub });
  return execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: der })
    .toString()
    .split(" ")[0]!;
}

const fingerprints = new Map<string, string>();
/** openssl's fingerprint of a fixture file (asked once per file). */
function fingerprintOf(name: string): string {
  let f = fingerprints.get(name);
  if (f === undefined) fingerprints.set(name, (f = opensslFingerprint(file(name))));
  return f;
}

async function expectCode(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: "TrailsealError", code, message });
}

// Every input variant of testdata/certs/variants (made by generate.sh) and what it holds.
const VARIANTS: readonly [file: string, certs: readonly string[], passphrase?: string][] = [
  ["variants/der.der", ["rsa2048-a.crt"]],
  ["variants/text-dump.pem", ["rsa2048-a.crt"]],
  ["variants/subject-issuer.pem", ["rsa2048-a.crt"]],
  ["variants/bag-attributes.pem", ["rsa2048-a.crt"]],
  ["variants/comments-two.pem", ["rsa2048-a.crt", "rsa2048-b.crt"]],
  ["variants/crlf.pem", ["rsa2048-a.crt"]],
  ["variants/cr.pem", ["rsa2048-a.crt"]],
  ["variants/indented.pem", ["rsa2048-a.crt"]],
  ["variants/rewrapped76.pem", ["rsa2048-a.crt"]],
  ["variants/oneline.pem", ["rsa2048-a.crt"]],
  ["variants/json-string.json", ["rsa2048-a.crt"]],
  ["variants/json-escaped.txt", ["rsa2048-a.crt"]],
  ["variants/bare.b64", ["rsa2048-a.crt"]],
  ["variants/bare-oneline.b64", ["rsa2048-a.crt"]],
  ["variants/bundle.p7b", ["rsa2048-a.crt", "rsa2048-b.crt"]],
  ["variants/bundle.p7c", ["rsa2048-a.crt", "rsa2048-b.crt"]],
  ["variants/modern.p12", ["rsa2048-a.crt"], PASS],
  ["variants/legacy-rc2.p12", ["rsa2048-a.crt"], PASS],
  ["variants/legacy-3des.pfx", ["rsa2048-a.crt"], PASS],
  ["variants/signer-chain.p12", ["signer.crt", "ca.crt"], PASS],
  ["variants/ec-nopass.p12", ["ec-p256-a.crt"]],
  ["variants/nomac.p12", ["rsa2048-a.crt"], PASS],
  ["variants/key-and-cert.pem", ["rsa2048-a.crt"]],
  ["signer-chain.pem", ["signer.crt", "ca.crt"]],
  ["variants/trusted.pem", ["rsa2048-a.crt"]],
  ["variants/utf16le-bom.pem", ["rsa2048-a.crt"]],
  ["variants/json-array.json", ["rsa2048-a.crt", "rsa2048-b.crt"]],
  ["variants/policy-body.json", ["rsa2048-a.crt"]],
];

describe("readCertificates: every input variant", () => {
  for (const [name, expected, passphrase] of VARIANTS) {
    it(`${name} -> ${expected.join(", ")}`, async () => {
      const ders = await readCertificates(file(name), {
        source: name,
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      // Same certificates as openssl sees in the originals, in input order.
      expect(ders.map(certificateFingerprint)).toEqual(expected.map(fingerprintOf));
      for (const der of ders) {
        const pem = toPem(der);
        // openssl reads our output and sees the same certificate.
        expect(opensslFingerprint(pem)).toBe(certificateFingerprint(der));
        // Our PEM is byte for byte what openssl writes (64 columns, LF).
        expect(pem).toBe(openssl(["x509"], pem));
        // Idempotent: reading the output again gives the same bytes.
        const again = await readCertificates(new TextEncoder().encode(pem), { source: "out" });
        expect(again).toEqual([der]);
      }
    });
  }
});

const CERTS = [
  "rsa2048-a.crt",
  "rsa2048-b.crt",
  "rsa2048-c.crt",
  "rsa2048-d.crt",
  "rsa2048-e.crt",
  "ec-p256-a.crt",
  "ec-p384-a.crt",
  "ec-p521-a.crt",
  "rsa1024-weak.crt",
  "ed25519-a.crt",
  "expired-rsa2048.crt",
  "ca.crt",
  "signer.crt",
  "tsa.crt",
  "tls-eku.crt",
];

describe("fingerprints agree with openssl", () => {
  for (const name of CERTS) {
    it(name, async () => {
      const [der] = await readCertificates(file(name), { source: name });
      expect(certificateFingerprint(der!)).toBe(fingerprintOf(name));
      expect(spkiFingerprint(der!)).toBe(opensslSpkiFingerprint(name));
    });
  }
});

describe("describeCertificate", () => {
  async function describe1(name: string) {
    const [der] = await readCertificates(file(name), { source: name });
    return describeCertificate(der!);
  }

  it("reads subject, issuer, serial, validity like openssl", async () => {
    for (const name of ["rsa2048-a.crt", "signer.crt", "expired-rsa2048.crt"]) {
      const info = await describe1(name);
      const serial = openssl(["x509", "-in", name, "-noout", "-serial"])
        .trim()
        .replace(/^serial=/, "");
      expect(info.serial).toBe(serial.toLowerCase().replace(/^(00)+(?=.)/, ""));
      const dates = openssl(["x509", "-in", name, "-noout", "-startdate", "-enddate"]);
      const [, start] = /notBefore=(.*)/.exec(dates)!;
      const [, end] = /notAfter=(.*)/.exec(dates)!;
      expect(info.notBefore).toBe(new Date(start!).toISOString());
      expect(info.notAfter).toBe(new Date(end!).toISOString());
    }
    const signer = await describe1("signer.crt");
    expect(signer.subject).toBe("O=trailseal tests, CN=trailseal test signer");
    expect(signer.issuer).toBe("O=trailseal tests, CN=trailseal test ca");
    const expired = await describe1("expired-rsa2048.crt");
    expect(expired.serial).toBe("01");
    expect(expired.notAfter).toBe("2001-01-01T00:00:00.000Z");
  });

  it("names key types, sizes and curves", async () => {
    const table: [string, string, number, string | undefined][] = [
      ["rsa2048-a.crt", "RSA", 2048, undefined],
      ["rsa1024-weak.crt", "RSA", 1024, undefined],
      ["ec-p256-a.crt", "EC", 256, "P-256"],
      ["ec-p384-a.crt", "EC", 384, "P-384"],
      ["ec-p521-a.crt", "EC", 521, "P-521"],
      ["ed25519-a.crt", "Ed25519", 256, undefined],
    ];
    for (const [name, keyType, keySize, curve] of table) {
      const info = await describe1(name);
      expect({ keyType: info.keyType, keySize: info.keySize, curve: info.curve }).toEqual({
        keyType,
        keySize,
        curve,
      });
    }
  });

  it("names extended key usages, dotted OID for unknown ones", async () => {
    expect((await describe1("tls-eku.crt")).extendedKeyUsages).toEqual([
      "serverAuth",
      "clientAuth",
      "emailProtection",
      "OCSPSigning",
      "1.3.6.1.4.1.99999.1",
    ]);
    expect((await describe1("signer.crt")).extendedKeyUsages).toEqual(["codeSigning"]);
    expect((await describe1("tsa.crt")).extendedKeyUsages).toEqual(["timeStamping"]);
    expect((await describe1("rsa2048-a.crt")).extendedKeyUsages).toEqual([]);
  });

  it("carries both fingerprints and the API string", async () => {
    const info = await describe1("rsa2048-a.crt");
    expect(info.fingerprint).toBe(fingerprintOf("rsa2048-a.crt"));
    expect(info.spkiFingerprint).toBe(opensslSpkiFingerprint("rsa2048-a.crt"));
    expect(info.api).toBe(readFileSync(join(DIR, "rsa2048-a.crt"), "utf8"));
  });

  it("gives the public key as a KeyObject", async () => {
    const [der] = await readCertificates(file("ec-p384-a.crt"), { source: "x" });
    const key = certificatePublicKey(der!);
    expect(key.type).toBe("public");
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
  });
});

describe("readCertificates: errors", () => {
  const table: [string, string, string][] = [
    ["bad/no-certificate.txt", "NO_CERTIFICATE", "no certificate found in bad/no-certificate.txt"],
    [
      "bad/private-key.pem",
      "NOT_A_CERTIFICATE",
      "bad/private-key.pem holds a private key, not a certificate: the API wants the certificate (the public half), never the private key",
    ],
    [
      "keys/rsa-pkcs8-encrypted.pem",
      "NOT_A_CERTIFICATE",
      "keys/rsa-pkcs8-encrypted.pem holds an encrypted private key, not a certificate: the API wants the certificate (the public half), never the private key",
    ],
    [
      "keys/rsa-pkcs8.der",
      "NOT_A_CERTIFICATE",
      "keys/rsa-pkcs8.der holds a private key, not a certificate: the API wants the certificate (the public half), never the private key",
    ],
    [
      "bad/request.csr",
      "NOT_A_CERTIFICATE",
      "bad/request.csr holds a certificate signing request (CSR), not a certificate: the API wants the certificate a CA issued for it",
    ],
    [
      "bad/public-key.pem",
      "NOT_A_CERTIFICATE",
      "bad/public-key.pem holds a bare public key, not a certificate: the API wants an X.509 certificate",
    ],
    [
      "bad/bad-base64.pem",
      "PEM_INVALID",
      "bad/bad-base64.pem: PEM block 1 (CERTIFICATE): invalid base64 character '*' on line 4",
    ],
    [
      "bad/no-end.pem",
      "PEM_INVALID",
      "bad/no-end.pem: PEM block 1 (CERTIFICATE) on line 1 has no END line",
    ],
    [
      "bad/truncated-der-second.pem",
      "DER_INVALID",
      "bad/truncated-der-second.pem: PEM block 2 (CERTIFICATE): invalid DER: truncated: element at byte 0 needs 565 more bytes",
    ],
    [
      "bad/truncated.der",
      "DER_INVALID",
      "bad/truncated.der: invalid DER: truncated: element at byte 0 needs 565 more bytes",
    ],
    [
      "variants/modern.p12",
      "PKCS12_PASSWORD",
      "variants/modern.p12 is a password-protected PKCS#12 file and no password was given",
    ],
    [
      "variants/legacy-rc2.p12",
      "PKCS12_PASSWORD",
      "variants/legacy-rc2.p12 is a password-protected PKCS#12 file and no password was given",
    ],
  ];
  for (const [name, code, message] of table) {
    it(`${name}: ${code}`, async () => {
      await expectCode(readCertificates(file(name), { source: name, forApi: true }), code, message);
    });
  }

  it("outside the API (trust anchors, chains), a key or CSR is explained without the API", async () => {
    const cases: [string, string][] = [
      [
        "bad/private-key.pem",
        "bad/private-key.pem holds a private key, not a certificate: a certificate (the public half) is wanted here, never the private key",
      ],
      [
        "bad/request.csr",
        "bad/request.csr holds a certificate signing request (CSR), not a certificate: a certificate is wanted here, the one a CA issued for it",
      ],
      [
        "bad/public-key.pem",
        "bad/public-key.pem holds a bare public key, not a certificate: an X.509 certificate is wanted here",
      ],
      [
        "keys/rsa-pkcs8.der",
        "keys/rsa-pkcs8.der holds a private key, not a certificate: a certificate (the public half) is wanted here, never the private key",
      ],
    ];
    for (const [name, message] of cases)
      await expectCode(
        readCertificates(file(name), { source: name }),
        "NOT_A_CERTIFICATE",
        message,
      );
  });

  it("wrong PKCS#12 password, modern and legacy; the message never holds the password", async () => {
    for (const name of ["variants/modern.p12", "variants/legacy-3des.pfx"]) {
      const p = readCertificates(file(name), { source: name, passphrase: "hunter2-wrong" });
      await expectCode(p, "PKCS12_PASSWORD", `wrong password for PKCS#12 file ${name}`);
    }
  });

  it("a PKCS#12 file without a MAC and its certificates in the clear needs no password", async () => {
    // openssl pkcs12 -nomac leaves the certificate safe unencrypted; only the key needs one.
    const ders = await readCertificates(file("variants/nomac.p12"), {
      source: "n",
      passphrase: "nope",
    });
    expect(ders.map(certificateFingerprint)).toEqual([fingerprintOf("rsa2048-a.crt")]);
  });

  it("PKCS12_INVALID for a PFX whose authSafe is not a ContentInfo", async () => {
    // PFX { version 3, SEQUENCE { INTEGER 0 } }: a PKCS#12 outline with a broken inside.
    const der = new Uint8Array([0x30, 0x08, 0x02, 0x01, 0x03, 0x30, 0x03, 0x02, 0x01, 0x00]);
    await expectCode(
      readCertificates(der, { source: "broken.p12" }),
      "PKCS12_INVALID",
      "broken.p12: invalid PKCS#12 file: the outer structure does not parse",
    );
  });

  it("DER_INVALID for DER that is nothing trailseal knows; trailing bytes only warn (issue 15 item 5)", async () => {
    const unknown = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x07]);
    await expectCode(
      readCertificates(unknown, { source: "x.der" }),
      "DER_INVALID",
      "x.der: DER that is not a certificate, PKCS#7 bundle or PKCS#12 file",
    );
    const der = file("variants/der.der");
    const trailing = new Uint8Array([...der, 0x00, 0x00]);
    const warnings: string[] = [];
    const found = await readCertificates(trailing, {
      source: "t.der",
      onWarning: (w) => warnings.push(w),
    });
    expect(found).toEqual([der]);
    expect(warnings).toEqual(["t.der: 2 bytes after the DER element ignored (not part of it)"]);
  });
});

describe("readCertificates: lenient text, property", () => {
  it("any re-wrapping, indentation and line ending gives the same certificate", async () => {
    const der = file("variants/der.der");
    const b64 = Buffer.from(der).toString("base64");
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 4, max: 200 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.constantFrom("", " ", "\t", "   "),
        fc.constantFrom("", "junk before\n", "Bag Attributes\n    friendlyName: x\n"),
        async (width, eol, indent, prefix) => {
          const lines = [];
          for (let i = 0; i < b64.length; i += width) lines.push(indent + b64.slice(i, i + width));
          const text =
            prefix +
            ["-----BEGIN CERTIFICATE-----", ...lines, "-----END CERTIFICATE-----", ""].join(eol);
          const got = await readCertificates(new TextEncoder().encode(text), { source: "p" });
          expect(got).toEqual([der]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("toPem / toApiString", () => {
  it("writes 64 columns, LF, END line with newline; the API literal escapes each break as \\n", async () => {
    const der = file("variants/der.der");
    const pem = toPem(der);
    expect(pem).toBe(readFileSync(join(DIR, "rsa2048-a.crt"), "utf8"));
    for (const line of pem.split("\n").slice(1, -3)) expect(line).toHaveLength(64);
    expect(toApiString(der)).toBe(pem);
    const literal = JSON.stringify(toApiString(der));
    expect(literal.startsWith('"-----BEGIN CERTIFICATE-----\\nMII')).toBe(true);
    expect(literal.endsWith('\\n-----END CERTIFICATE-----\\n"')).toBe(true);
  });
});

describe("checkApiCertificate", () => {
  const der = file("variants/der.der");
  const api = toApiString(der);
  const text = (name: string): string => readFileSync(join(DIR, name), "utf8");

  it("accepts exactly the API form", () => {
    expect(checkApiCertificate(api)).toEqual({ ok: true, der });
    expect(checkApiCertificate(JSON.parse(JSON.stringify(api)))).toEqual({ ok: true, der });
  });

  const table: [string, unknown, string, string][] = [
    ["a number", 42, "not-a-string", "must be a PEM certificate string"],
    ["null", null, "not-a-string", "must be a PEM certificate string"],
    ["empty", "  ", "empty", "is empty"],
    [
      "Bag Attributes",
      text("variants/bag-attributes.pem"),
      "metadata",
      "has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone",
    ],
    [
      "a text dump",
      text("variants/text-dump.pem"),
      "metadata",
      "has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone",
    ],
    [
      "subject= lines",
      text("variants/subject-issuer.pem"),
      "metadata",
      "has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone",
    ],
    [
      "a blank line",
      `\n${api}`,
      "metadata",
      "has blank lines or spaces around the certificate; SPS wants the PEM block alone",
    ],
    [
      "CRLF",
      text("variants/crlf.pem"),
      "raw-line-breaks",
      "has CR or CRLF line breaks; the API form uses \\n only",
    ],
    [
      "76 columns",
      text("variants/rewrapped76.pem"),
      "raw-line-breaks",
      "is not in the API line form (base64 at 64 columns, each line ending in \\n)",
    ],
    [
      "escaped twice",
      text("variants/json-escaped.txt"),
      "raw-line-breaks",
      "holds escaped line breaks (a backslash and n) instead of line breaks: it was JSON-escaped twice",
    ],
    [
      "OpenSSL's TRUSTED CERTIFICATE (trust settings after the certificate)",
      text("variants/trusted.pem"),
      "metadata",
      "is a TRUSTED CERTIFICATE block; SPS wants a plain CERTIFICATE block",
    ],
    [
      "the old X509 CERTIFICATE label",
      api.replace(/(BEGIN|END) CERTIFICATE/g, "$1 X509 CERTIFICATE"),
      "metadata",
      "is a X509 CERTIFICATE block; SPS wants a plain CERTIFICATE block",
    ],
    [
      "two certificates",
      api + text("rsa2048-b.crt"),
      "several",
      "holds 2 PEM blocks; the API takes one certificate per string",
    ],
    [
      "a PKCS#7 bundle",
      text("variants/bundle.p7b"),
      "several",
      "holds a PKCS7 bundle; the API takes one certificate per string",
    ],
    [
      "a private key",
      text("rsa2048-a.key"),
      "not-certificate",
      "holds a private key, not a certificate",
    ],
    [
      "an unknown PEM block",
      "-----BEGIN OPENSSH PUBLIC KEY-----\nAAAA\n-----END OPENSSH PUBLIC KEY-----\n",
      "not-certificate",
      "holds a PEM block labelled OPENSSH PUBLIC KEY, not a certificate",
    ],
    [
      "a CSR",
      text("bad/request.csr"),
      "not-certificate",
      "holds a certificate signing request (CSR), not a certificate",
    ],
    [
      "bare base64",
      text("variants/bare.b64"),
      "invalid",
      "is not a PEM certificate (DER and bare base64 are refused by SPS)",
    ],
    [
      "bad base64",
      text("bad/bad-base64.pem"),
      "invalid",
      "PEM block 1 (CERTIFICATE): invalid base64 character '*' on line 4",
    ],
  ];
  for (const [what, value, reason, message] of table) {
    it(`${what}: ${reason}`, () => {
      expect(checkApiCertificate(value)).toEqual({ ok: false, reason, message });
    });
  }
});

describe("adversarial inputs", () => {
  const der = file("variants/der.der");
  const pemText = readFileSync(join(DIR, "rsa2048-a.crt"), "utf8");

  /** Either certificates or a TrailsealError: never another exception, never a hang. */
  async function settles(input: Uint8Array): Promise<void> {
    try {
      await readCertificates(input, { source: "fuzz", passphrase: "x" });
    } catch (e) {
      expect(e).toMatchObject({ name: "TrailsealError" });
    }
  }

  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), settles), { numRuns: 300 });
  });

  it("the certificate DER with one byte changed or cut short", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: der.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.nat({ max: der.length }),
        async (at, value, cut) => {
          const changed = new Uint8Array(der);
          changed[at] = value;
          await settles(changed);
          await settles(der.subarray(0, cut));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("PKCS#7 and PKCS#12 with one byte changed", async () => {
    for (const name of ["variants/bundle.p7c", "variants/modern.p12", "variants/legacy-rc2.p12"]) {
      const original = file(name);
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: original.length - 1 }),
          fc.integer({ min: 0, max: 255 }),
          async (at, value) => {
            const changed = new Uint8Array(original);
            changed[at] = value;
            await settles(changed);
          },
        ),
        { numRuns: 60 },
      );
    }
  });

  it("PEM text with a character changed, dropped or inserted", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: pemText.length - 1 }),
        fc.constantFrom("", "-", "\\", "\n", '"', "*", "=", " ", "\r", "\u0000", "é"),
        async (at, insert) => {
          const mangled = pemText.slice(0, at) + insert + pemText.slice(at + 1);
          await settles(new TextEncoder().encode(mangled));
          expect(checkApiCertificate(mangled)).toHaveProperty("ok");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("checkApiCertificate never throws on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(checkApiCertificate(value).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the SPS documentation's own example", () => {
  // "The same certificate, as accepted by the SPS API" (SPS 8.0 LTS REST API reference,
  // "Encrypting certificates"), copied verbatim from the page.
  const SPS_EXAMPLE =
    "-----BEGIN CERTIFICATE-----\nMIIDnDCCAoQCCQDc536Ob5tPQTANBgkqhkiG9w0BAQUFADCBjzELMAkGA1UEBhMC\nQ0ExEDAOBgNVBAgTB09udGFyaW8xEDAOBgNVBAcTB1Rvcm9udG8xEDAOBgNVBAoT\nB0JhbGFiaXQxFjAUBgNVBAsTDURvY3VtZW50YXRpb24xEDAOBgNVBAMTB2JhbGFi\naXQxIDAeBgkqhkiG9w0BCQEWEWNhdGFpbEBiYWxhYml0Lmh1MB4XDTE2MDQyMjE2\nMDAyNloXDTE3MDQyMjE2MDAyNlowgY8xCzAJBgNVBAYTAkNBMRAwDgYDVQQIEwdP\nbnRhcmlvMRAwDgYDVQQHEwdUb3JvbnRvMRAwDgYDVQQKEwdCYWxhYml0MRYwFAYD\nVQQLEw1Eb2N1bWVudGF0aW9uMRAwDgYDVQQDEwdiYWxhYml0MSAwHgYJKoZIhvcN\nAQkBFhFjYXRhaWxAYmFsYWJpdC5odTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC\nAQoCggEBAOGa9I2jmVlVdVWEI/Wy7ahTeyaIjK52FQUXqxG8okOSD+nV74ZFUuiS\n59X+2Ow1aDqVGrDMgPNhSVpYXUvDUAUOILJW4rAIoxDY6vDU9/4v9dDiQfEPlauw\n0qNRjPS1MLzjSOQDSKqPkdivkS6HKZeX3+TFq3OxO+vIrF9zFfp9T+eDG2oSobPc\n3mV2zkvtD61CXzbezAVdArDl6WnysRyzxyH8WEhFwZepWxFD9Y5N1dzKody7Hncs\nX5kVIv0+Z6bBHfg/7wHWysJdwNuLr0ByTOvPM6WdA83k3Fy2gYNk7Rc0BbRFbQTX\nhJVfUzSUWHVhFQtAb4diKU5voqepfNMCAwEAATANBgkqhkiG9w0BAQUFAAOCAQEA\nR5DIwOHsEKoGkiI3cHC2VMnxP2rRhpTneh6El+DFnQPdjrXa+tnqV4TdnNaD+FvP\nAB1kqbmC4hJAsjMLU2b1ne6m+SLmzhRuMxcA6x+fnYvcQT57IbRdq2E/4oJGeyuy\n0jQE+nmoVD3lDytIOxCfQvZhl1tcbBE5hp5USme4PmNhY6QfUlgjsFjPfoVG7XDB\nuNaUoWS6RvZPmL5IuvF9tqe96ES6DTjC8rBfQYvSoVNjjPnUMx0C8xstRSEG7oJc\nN5+4ImYnFNxSG20hZpFy0OFDf2g7Fx+W50/NtXamUF1Sf8WlPZc03oVl1/Fzo7mt\nqYyyD1ld89OUEYZ+aJQd/A==\n-----END CERTIFICATE-----\n";

  it("is exactly what toApiString writes, and passes checkApiCertificate", async () => {
    const check = checkApiCertificate(SPS_EXAMPLE);
    expect(check.ok).toBe(true);
    const der = (check as { der: Uint8Array }).der;
    expect(toApiString(der)).toBe(SPS_EXAMPLE);
    expect(
      await readCertificates(new TextEncoder().encode(JSON.stringify(SPS_EXAMPLE)), {
        source: "api",
      }),
    ).toEqual([der]);
    expect(certificateFingerprint(der)).toBe(opensslFingerprint(SPS_EXAMPLE));
    const info = describeCertificate(der);
    expect({ keyType: info.keyType, keySize: info.keySize, notAfter: info.notAfter }).toEqual({
      keyType: "RSA",
      keySize: 2048,
      notAfter: "2017-04-22T16:00:26.000Z",
    });
  });
});

describe("BER PKCS#7 (issue 15 item 3)", () => {
  const PKI = join(import.meta.dirname, "..", "testdata", "pki");
  /** `openssl cms -sign -stream` writes indefinite lengths (BER), as PKCS#7 allows. */
  const ber = new Uint8Array(
    execFileSync(
      "openssl",
      [
        "cms",
        "-sign",
        "-stream",
        "-nodetach",
        "-binary",
        "-signer",
        join(PKI, "signer-rsa.pem"),
        "-inkey",
        join(PKI, "signer-rsa.key"),
        "-certfile",
        join(PKI, "intermediate-ca.pem"),
        "-outform",
        "DER",
      ],
      { input: "checkpoint" },
    ),
  );
  const pemCerts = (name: string): string[] =>
    [
      ...readFileSync(join(PKI, name), "utf8").matchAll(
        /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g,
      ),
    ].map((m) => m[0]);

  it("is BER indeed: an indefinite length right at the top", () => {
    expect([...ber.subarray(0, 2)]).toEqual([0x30, 0x80]);
  });

  it("yields its certificates byte for byte, in bundle order, as openssl pkcs7 -print_certs does", async () => {
    const found = await readCertificates(ber, { source: "ber.p7" });
    const theirs = openssl(["pkcs7", "-inform", "DER", "-print_certs"], ber)
      .split(/(?=-----BEGIN CERTIFICATE-----)/)
      .filter((b) => b.startsWith("-----BEGIN"))
      .map((b) => b.replace(/-----END CERTIFICATE-----[\s\S]*$/, "-----END CERTIFICATE-----\n"));
    expect(found.map((d) => toPem(d))).toEqual(theirs);
    expect(new Set(found.map((d) => toPem(d)))).toEqual(
      new Set([...pemCerts("signer-rsa.pem"), ...pemCerts("intermediate-ca.pem")]),
    );
  });

  it("still refuses indefinite lengths in a certificate (DER_INVALID)", async () => {
    const der = file("rsa2048-a.crt");
    const text = new TextDecoder().decode(der);
    const cert = new Uint8Array(
      Buffer.from(text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"),
    );
    // Re-encode the outer SEQUENCE with an indefinite length: BER, not DER.
    const inner = cert.subarray(cert[1] === 0x82 ? 4 : 3);
    const indefinite = new Uint8Array([0x30, 0x80, ...inner, 0, 0]);
    await expect(readCertificates(indefinite, { source: "x.der" })).rejects.toMatchObject({
      code: "DER_INVALID",
      message: "x.der: invalid DER: indefinite length at byte 0 (BER, not DER)",
    });
  });
});

describe("a PKCS#12 bundle of many certificates (issue 15 item 2)", () => {
  it("reads all 300 of a bundle openssl made, in order (asn1js's 10,000-node default is lifted by size)", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { issueCertificate } = await import("../src/pkix/certify.js");
    const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const certs: Uint8Array[] = [];
    for (let i = 1; i <= 300; i++) {
      certs.push(
        await issueCertificate({
          subject: `CN=bundle CA ${i}, O=trailseal test`,
          publicKey: keys.publicKey,
          signingKey: keys.privateKey,
          notBefore: new Date("2026-01-01T00:00:00Z"),
          notAfter: new Date("2036-01-01T00:00:00Z"),
          serialHex: i.toString(16).padStart(2, "0"),
          basicConstraints: { ca: true },
        }),
      );
    }
    const p12 = new Uint8Array(
      execFileSync(
        "openssl",
        ["pkcs12", "-export", "-nokeys", "-passout", "pass:bundle", "-certpbe", "AES-256-CBC"],
        { input: certs.map((c) => toPem(c)).join("") },
      ),
    );
    const found = await readCertificates(p12, { source: "bundle.p12", passphrase: "bundle" });
    expect(found.map((c) => toPem(c))).toEqual(certs.map((c) => toPem(c)));
  }, 60_000);
});

describe("PKCS#12 with a zero-length password (issue 15 item 1)", () => {
  const PYCA = "/usr/lib/python3/dist-packages/cryptography_vectors/pkcs12";
  const certPem = readFileSync(join(DIR, "rsa2048-a.crt"), "utf8");
  const pkcs12 = (args: string[]): Uint8Array =>
    new Uint8Array(
      execFileSync(
        "openssl",
        ["pkcs12", "-export", "-in", "rsa2048-a.crt", "-inkey", "rsa2048-a.key", ...args],
        { cwd: DIR },
      ),
    );
  const expected = [certPem];

  it("reads a file openssl made with -passout pass:, given no password or pass:", async () => {
    const p12 = pkcs12(["-passout", "pass:"]);
    for (const options of [{}, { passphrase: "" }]) {
      const found = await readCertificates(p12, { source: "empty.p12", ...options });
      expect(found.map((c) => toPem(c))).toEqual(expected);
    }
  });

  it("reads a file with no MAC at all (openssl -nomac, no encryption) without a password", async () => {
    const p12 = pkcs12(["-passout", "pass:", "-nomac", "-keypbe", "NONE", "-certpbe", "NONE"]);
    const found = await readCertificates(p12, { source: "nomac.p12" });
    expect(found.map((c) => toPem(c))).toEqual(expected);
  });

  it("still refuses a wrong password on a file whose MAC is over the empty password", async () => {
    await expectCode(
      readCertificates(pkcs12(["-passout", "pass:"]), { source: "empty.p12", passphrase: "x" }),
      "PKCS12_PASSWORD",
      "wrong password for PKCS#12 file empty.p12",
    );
  });

  it.skipIf(!existsSync(`${PYCA}/no-password.p12`))(
    "reads pyca's files whose MAC is over zero bytes (no-password.p12 also with legacy RC2)",
    async () => {
      const read = async (name: string) =>
        (await readCertificates(new Uint8Array(readFileSync(join(PYCA, name))), { source: name }))
          .length;
      expect(await read("no-password.p12")).toBe(1);
      expect(await read("name-all-no-pwd.p12")).toBe(3);
      expect(await read("no-cert-no-name-no-pwd.p12")).toBe(2);
    },
  );

  const python = spawnSync("python3", [
    "-c",
    "import cryptography.hazmat.primitives.serialization.pkcs12",
  ]);
  it.skipIf(python.status !== 0)(
    "reads what pyca/cryptography writes with NoEncryption()",
    async () => {
      const script = [
        "import sys",
        "from cryptography import x509",
        "from cryptography.hazmat.primitives import serialization as s",
        "from cryptography.hazmat.primitives.serialization import pkcs12",
        "key = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)",
        "cert = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())",
        "sys.stdout.buffer.write(pkcs12.serialize_key_and_certificates(b'a', key, cert, None, s.NoEncryption()))",
      ].join("\n");
      const p12 = new Uint8Array(
        execFileSync("python3", [
          "-c",
          script,
          join(DIR, "rsa2048-a.key"),
          join(DIR, "rsa2048-a.crt"),
        ]),
      );
      const found = await readCertificates(p12, { source: "noencryption.p12" });
      expect(found.map((c) => toPem(c))).toEqual(expected);
    },
  );
});

describe("PKCS#12 past a parser limit (issue 15 item 2's message)", () => {
  it("says the limit was hit, not that the file is invalid", async () => {
    // PFX { version 3, a SEQUENCE nested 150 deep }: beyond asn1js's nesting depth of 100.
    const der = (tag: number, body: Uint8Array): Uint8Array => {
      const n = body.length;
      const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
      return new Uint8Array([tag, ...len, ...body]);
    };
    let nested: Uint8Array = new Uint8Array([0x05, 0x00]);
    for (let i = 0; i < 150; i++) nested = der(0x30, nested);
    const pfx = der(0x30, new Uint8Array([0x02, 0x01, 0x03, ...nested]));
    await expectCode(
      readCertificates(pfx, { source: "deep.p12" }),
      "PKCS12_INVALID",
      "deep.p12: PKCS#12 file not read: it exceeds a limit of trailseal's ASN.1 parser (maximum nesting depth exceeded), not necessarily a fault of the file",
    );
  });
});

describe("certificates with odd fields, made with openssl's config (issue 15 items 4, 6)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "trailseal-pem-fields-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  /** A self-signed certificate by `openssl req -x509` with one extension line and a serial. */
  const make = (name: string, serial: string, extension: string): string => {
    writeFileSync(
      join(tmp, `${name}.cnf`),
      `[req]\ndistinguished_name = dn\nx509_extensions = x\n[dn]\n[x]\n${extension}\n`,
    );
    const out = join(tmp, `${name}.pem`);
    execFileSync("openssl", [
      ...["req", "-new", "-x509", "-key", join(DIR, "rsa2048-a.key"), "-subj", `/CN=${name}`],
      ...["-days", "3650", "-set_serial", serial, "-config", join(tmp, `${name}.cnf`)],
      ...["-out", out],
    ]);
    return out;
  };
  const opensslDer = (path: string): string =>
    execFileSync("openssl", ["x509", "-in", path, "-outform", "DER"]).toString("hex");

  // GeneralName forms trailseal has no use for (RFC 5280 §4.2.1.6), and extensions whose value
  // is not what its OID says: each certificate must stay readable, byte for byte as openssl's.
  const EXTENSIONS: readonly [name: string, extension: string, openssl: string][] = [
    // ediPartyName [5] { partyName [1] UTF8String "trailseal" }
    [
      "san-edipartyname",
      "subjectAltName = DER:300fa50da10b0c09747261696c7365616c",
      "EdiPartyName:<unsupported>",
    ],
    // x400Address [3] ORAddress { built-in-standard-attributes { country-name "US" } }
    ["san-x400address", "subjectAltName = DER:300aa3083006610413025553", "X400Name:<unsupported>"],
    // SAN whose dNSName claims 9 bytes and holds 3.
    ["malformed-san", "2.5.29.17 = DER:30058209616263", ""],
    // IAN that is an OCTET STRING, not GeneralNames.
    ["malformed-ian", "2.5.29.18 = DER:0403010203", ""],
  ];

  it.each(EXTENSIONS)(
    "%s: read byte for byte as openssl reads it, and described",
    async (name, ext, shown) => {
      const path = make(name, "7", ext);
      const text = execFileSync("openssl", ["x509", "-in", path, "-noout", "-text"], {
        encoding: "utf8",
      });
      if (shown !== "") expect(text).toContain(shown);
      const found = await readCertificates(new Uint8Array(readFileSync(path)), { source: path });
      expect(found.map((d) => Buffer.from(d).toString("hex"))).toEqual([opensslDer(path)]);
      expect(describeCertificate(found[0]!)).toMatchObject({
        subject: `CN=${name}`,
        serial: "07",
        keyType: "RSA",
        keySize: 2048,
      });
    },
  );

  it("a negative serial is shown as openssl shows it (-04316693ed), not as unsigned hex", async () => {
    for (const [serial, shown] of [
      ["-0x04316693ED", "-04316693ed"],
      ["-1", "-01"],
      ["-128", "-80"],
      ["-129", "-81"],
      ["128", "80"],
      ["0", "00"],
    ] as const) {
      const path = make(`serial${serial}`, serial, "basicConstraints = CA:FALSE");
      const fromOpenssl = execFileSync("openssl", ["x509", "-in", path, "-noout", "-serial"], {
        encoding: "utf8",
      });
      expect(fromOpenssl.trim().toLowerCase()).toBe(`serial=${shown}`);
      const [der] = await readCertificates(new Uint8Array(readFileSync(path)), { source: path });
      expect(describeCertificate(der!).serial).toBe(shown);
    }
  });
});
