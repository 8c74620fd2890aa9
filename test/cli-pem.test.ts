import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { children, readWhole, seq, slice, tlv } from "../src/pkix/der.js";
import { runCli } from "./helpers/io.js";

const DIR = join(import.meta.dirname, "..", "testdata", "certs");
const PASS = "trailseal-test";
const NOW = new Date("2030-01-01T00:00:00Z");
const text = (name: string): string => readFileSync(join(DIR, name), "utf8");
const pem = (
  args: string[],
  options: { stdin?: string | Uint8Array; env?: Record<string, string> } = {},
) => runCli(["pem", ...args], { cwd: DIR, now: NOW, env: { P12_PASS: PASS }, ...options });

function opensslFingerprints(pemText: string): string[] {
  // openssl reads our output, one certificate at a time.
  return pemText
    .split(/(?<=-----END CERTIFICATE-----\n)/)
    .filter((p) => p.length > 0)
    .map((p) =>
      execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], {
        input: p,
        encoding: "utf8",
      })
        .trim()
        .replace(/^.*=/, "")
        .replace(/:/g, "")
        .toLowerCase(),
    );
}

const A = text("rsa2048-a.crt");
const B = text("rsa2048-b.crt");

describe("trailseal pem: default output", () => {
  const table: [string[], string][] = [
    [["variants/der.der"], A],
    [["variants/text-dump.pem"], A],
    [["variants/subject-issuer.pem"], A],
    [["variants/bag-attributes.pem"], A],
    [["variants/comments-two.pem"], A + B],
    [["variants/crlf.pem"], A],
    [["variants/cr.pem"], A],
    [["variants/indented.pem"], A],
    [["variants/rewrapped76.pem"], A],
    [["variants/oneline.pem"], A],
    [["variants/json-string.json"], A],
    [["variants/json-escaped.txt"], A],
    [["variants/bare.b64"], A],
    [["variants/bare-oneline.b64"], A],
    [["variants/bundle.p7b"], A + B],
    [["variants/bundle.p7c"], A + B],
    [["variants/modern.p12", "--passin", "env:P12_PASS"], A],
    [["variants/legacy-rc2.p12", "--passin", "env:P12_PASS"], A],
    [["variants/legacy-3des.pfx", "--passin", "env:P12_PASS"], A],
    [["variants/ec-nopass.p12"], text("ec-p256-a.crt")],
    [
      ["variants/signer-chain.p12", "--passin", "env:P12_PASS"],
      text("signer.crt") + text("ca.crt"),
    ],
    [["rsa2048-b.crt", "variants/der.der"], B + A],
    [["variants/trusted.pem"], A],
    [["variants/utf16le-bom.pem"], A],
    [["variants/json-array.json"], A + B],
    [["variants/policy-body.json"], A],
  ];
  for (const [args, expected] of table) {
    it(args.join(" "), async () => {
      const r = await pem(args);
      expect(r.stderr).toBe(
        args[0] === "variants/ec-nopass.p12"
          ? "trailseal: warning: variants/ec-nopass.p12: certificate 1 (O=trailseal tests, CN=trailseal test recipient ec-p256-a): EC P-256 key: SPS encrypts only to RSA; trailseal also takes EC\n"
          : "",
      );
      expect(r.code).toBe(0);
      // The .crt files are what `openssl req -x509` wrote: strict PEM, 64 columns, LF.
      expect(r.stdout).toBe(expected);
      expect(opensslFingerprints(r.stdout)).toEqual(opensslFingerprints(expected));
    });
  }

  it("is idempotent: pem of its own output changes nothing", async () => {
    const first = await pem(["variants/text-dump.pem", "variants/bundle.p7c"]);
    const second = await pem([], { stdin: first.stdout });
    const third = await pem(["-"], { stdin: second.stdout });
    expect(second.stdout).toBe(first.stdout);
    expect(third.stdout).toBe(first.stdout);
    expect(first.stdout).toBe(A + A + B);
  });

  it("reads stdin when no file is given, or '-'", async () => {
    const der = readFileSync(join(DIR, "variants/der.der"));
    expect((await pem([], { stdin: der })).stdout).toBe(A);
    expect((await pem(["-"], { stdin: der })).stdout).toBe(A);
  });
});

describe("trailseal pem --api", () => {
  it("prints one JSON string literal per certificate per line", async () => {
    const r = await pem(["--api", "variants/bundle.p7b"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(lines.slice(0, 2).map((l) => JSON.parse(l) as string)).toEqual([A, B]);
    expect(lines[0]!.startsWith('"-----BEGIN CERTIFICATE-----\\nMII')).toBe(true);
    expect(lines[0]!.endsWith('\\n-----END CERTIFICATE-----\\n"')).toBe(true);
  });

  it("takes the PKCS#12 password from env: and file:", async () => {
    const r = await pem(["--api", "variants/legacy-rc2.p12", "--passin", "env:P12_PASS"], {
      env: { P12_PASS: PASS },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(A)}\n`);
    const dir = mkdtempSync(join(tmpdir(), "trailseal-pem-"));
    try {
      writeFileSync(join(dir, "pass.txt"), `${PASS}\n`);
      const f = await pem([
        "--api",
        "variants/modern.p12",
        "--passin",
        `file:${join(dir, "pass.txt")}`,
      ]);
      expect(f.code).toBe(0);
      expect(f.stdout).toBe(`${JSON.stringify(A)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--api output fed back gives the same --api output", async () => {
    const first = await pem(["--api", "variants/comments-two.pem"]);
    const again = await pem(["--api"], { stdin: first.stdout.split("\n")[0]! });
    expect(again.stdout).toBe(`${first.stdout.split("\n")[0]!}\n`);
  });
});

describe("trailseal pem --json", () => {
  it("describes each certificate", async () => {
    const r = await pem([
      "--json",
      "tls-eku.crt",
      "variants/modern.p12",
      "--passin",
      `pass:${PASS}`,
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(out).toHaveLength(2);
    const [tls, a] = out;
    expect(tls).toMatchObject({
      source: "tls-eku.crt",
      subject: "O=trailseal tests, CN=trailseal test tls eku",
      issuer: "O=trailseal tests, CN=trailseal test ca",
      keyType: "EC",
      keySize: 256,
      curve: "P-256",
      extendedKeyUsages: [
        "serverAuth",
        "clientAuth",
        "emailProtection",
        "OCSPSigning",
        "1.3.6.1.4.1.99999.1",
      ],
      expired: false,
      api: text("tls-eku.crt"),
    });
    expect(a).toMatchObject({
      source: "variants/modern.p12",
      keyType: "RSA",
      keySize: 2048,
      api: A,
    });
    expect(a!.fingerprint).toBe(opensslFingerprints(A)[0]);
    const pub = execFileSync("openssl", [
      "x509",
      "-in",
      join(DIR, "rsa2048-a.crt"),
      "-noout",
      "-pubkey",
    ]);
    const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub });
    const sha = execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: spki })
      .toString()
      .split(" ")[0];
    expect(a!.spkiFingerprint).toBe(sha);
    expect(Object.keys(a!)).toEqual([
      "source",
      "subject",
      "issuer",
      "serial",
      "notBefore",
      "notAfter",
      "keyType",
      "keySize",
      "extendedKeyUsages",
      "fingerprint",
      "spkiFingerprint",
      "api",
      "expired",
    ]);
  });

  it("refuses --api with --json", async () => {
    const r = await pem(["--api", "--json", "rsa2048-a.crt"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: error: --api and --json cannot be combined\n" +
        "trailseal: hint: --json already carries the API string of each certificate in its 'api' field\n",
    );
  });
});

describe("trailseal pem: warnings", () => {
  it("RSA under 2048 bits, non-RSA keys, expired certificates; numbered within each file", async () => {
    const r = await pem([
      "rsa1024-weak.crt",
      "ec-p521-a.crt",
      "ed25519-a.crt",
      "expired-rsa2048.crt",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      text("rsa1024-weak.crt") +
        text("ec-p521-a.crt") +
        text("ed25519-a.crt") +
        text("expired-rsa2048.crt"),
    );
    expect(r.stderr).toBe(
      [
        "trailseal: warning: rsa1024-weak.crt: certificate 1 (O=trailseal tests, CN=trailseal test weak rsa1024): 1024-bit RSA key; use 2048 bits or more",
        "trailseal: warning: ec-p521-a.crt: certificate 1 (O=trailseal tests, CN=trailseal test recipient ec-p521-a): EC P-521 key: SPS encrypts only to RSA; trailseal also takes EC",
        "trailseal: warning: ed25519-a.crt: certificate 1 (O=trailseal tests, CN=trailseal test ed25519-a): Ed25519 key: SPS encrypts only to RSA; trailseal also takes EC, but not Ed25519",
        "trailseal: warning: expired-rsa2048.crt: certificate 1 (O=trailseal tests, CN=trailseal test expired rsa2048): expired on 2001-01-01T00:00:00.000Z; SPS ignores expiry for encryption, so it still works there",
        "",
      ].join("\n"),
    );
  });

  it("names the certificate by its place in its own file", async () => {
    const r = await pem(["rsa2048-c.crt", "-"], { stdin: A + text("rsa1024-weak.crt") });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "trailseal: warning: <stdin>: certificate 2 (O=trailseal tests, CN=trailseal test weak rsa1024): 1024-bit RSA key; use 2048 bits or more\n",
    );
  });

  it("a 2048-bit RSA certificate that is valid gives no warning", async () => {
    const r = await pem(["rsa2048-c.crt"]);
    expect(r.stderr).toBe("");
  });
});

describe("trailseal pem: errors exit 2", () => {
  const table: [string[], string][] = [
    [
      ["bad/no-certificate.txt"],
      "trailseal: error: no certificate found in bad/no-certificate.txt\n",
    ],
    [[], "trailseal: error: no certificate found in <stdin>\n"],
    [
      ["bad/private-key.pem"],
      "trailseal: error: bad/private-key.pem holds a private key, not a certificate: the API wants the certificate (the public half), never the private key\n" +
        "trailseal: hint: give the certificate file (.crt/.pem), or a PKCS#12 file with --passin\n",
    ],
    [
      ["bad/request.csr"],
      "trailseal: error: bad/request.csr holds a certificate signing request (CSR), not a certificate: the API wants the certificate a CA issued for it\n" +
        "trailseal: hint: give the certificate file (.crt/.pem/.p7b/.p12)\n",
    ],
    [
      ["bad/bad-base64.pem"],
      "trailseal: error: bad/bad-base64.pem: PEM block 1 (CERTIFICATE): invalid base64 character '*' on line 4\n",
    ],
    [
      ["bad/truncated-der-second.pem"],
      "trailseal: error: bad/truncated-der-second.pem: PEM block 2 (CERTIFICATE): invalid DER: truncated: element at byte 0 needs 565 more bytes\n",
    ],
    [
      ["bad/truncated.der"],
      "trailseal: error: bad/truncated.der: invalid DER: truncated: element at byte 0 needs 565 more bytes\n",
    ],
    [
      ["variants/modern.p12"],
      "trailseal: error: variants/modern.p12 is a password-protected PKCS#12 file and no password was given\n" +
        "trailseal: hint: give the password with --passin env:VAR, file:PATH or pass:TEXT\n",
    ],
    [
      ["variants/legacy-rc2.p12", "--passin", "pass:not-it"],
      "trailseal: warning: --passin pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH\n" +
        "trailseal: error: wrong password for PKCS#12 file variants/legacy-rc2.p12\n" +
        "trailseal: hint: check the password given with --passin\n",
    ],
    [
      ["variants/modern.p12", "--passin", "env:NOPE"],
      "trailseal: error: environment variable NOPE is not set\n" +
        "trailseal: hint: export NOPE=… before running, or use --passin file:PATH\n",
    ],
    [["missing.crt"], "trailseal: error: no such file: missing.crt\n"],
    [["-", "-"], "trailseal: error: stdin ('-') can be read only once\n"],
  ];
  for (const [args, stderr] of table) {
    it(args.join(" ") || "(stdin, empty)", async () => {
      const r = await pem(args, { stdin: "" });
      expect(r.stderr).toBe(stderr);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
    });
  }

  it("with several inputs, reports each bad one (file named), prints the others, exits 2 (issue 15 item 8)", async () => {
    const r = await pem([
      "rsa2048-a.crt",
      "bad/no-certificate.txt",
      "missing.crt",
      "rsa2048-b.crt",
    ]);
    expect(r.stderr).toBe(
      "trailseal: error: no certificate found in bad/no-certificate.txt\n" +
        "trailseal: error: no such file: missing.crt\n",
    );
    expect(r.stdout).toBe(A + B);
    expect(r.code).toBe(2);
  });

  it("a single bad input keeps today's output: the error alone", async () => {
    const r = await pem(["bad/no-certificate.txt"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      "trailseal: error: no certificate found in bad/no-certificate.txt\n",
    ]);
  });
});

describe("trailseal pem --help", () => {
  it("shows usage and examples, exit 0", async () => {
    const r = await pem(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: trailseal pem [options] [file...]");
    expect(r.stdout).toContain("trailseal pem --api auditor.p12 --passin env:P12_PASS");
  });

  it("is listed by trailseal --help", async () => {
    const r = await runCli(["--help"]);
    expect(r.stdout).toContain("trailseal pem --api auditor.p12 --passin env:P12_PASS");
  });
});

describe("trailseal pem: odd binary inputs (issue 15 items 1, 5, 6, 7)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "trailseal-pem-odd-"));
  const der = execFileSync("openssl", [
    "x509",
    "-in",
    join(DIR, "rsa2048-a.crt"),
    "-outform",
    "DER",
  ]);
  const at = (name: string, bytes: Uint8Array): string => {
    writeFileSync(join(tmp, name), bytes);
    return join(tmp, name);
  };

  it("DER followed by CRLF is read, with a warning naming the file and the byte count", async () => {
    const file = at("crlf.der", Buffer.concat([der, Buffer.from("\r\n")]));
    const r = await pem([file]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      0,
      A,
      `trailseal: warning: ${file}: 2 bytes after the DER element ignored (not part of it)\n`,
    ]);
  });

  it("a DER CRL is named a CRL (openssl's own, made with openssl ca -gencrl)", async () => {
    writeFileSync(join(tmp, "index.txt"), "");
    const config =
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(tmp, "index.txt")}\n` +
      "default_md = sha256\ndefault_crl_days = 30\n";
    writeFileSync(join(tmp, "ca.cnf"), config);
    const crlPem = execFileSync(
      "openssl",
      [
        "ca",
        "-gencrl",
        "-config",
        join(tmp, "ca.cnf"),
        "-keyfile",
        join(DIR, "ca.key"),
        "-cert",
        join(DIR, "ca.crt"),
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    const crlDer = execFileSync("openssl", ["crl", "-outform", "DER"], { input: crlPem });
    const file = at("list.crl", crlDer);
    const r = await pem([file]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      `trailseal: error: ${file} holds a certificate revocation list (CRL), not a certificate: the API wants an X.509 certificate\n` +
        "trailseal: hint: give the certificate file (.crt/.pem/.p7b/.p12)\n",
    ]);
  });

  for (const [kind, magic] of [
    ["JKS", "feedfeed00000002"],
    ["JCEKS", "cececece00000002"],
  ] as const) {
    it(`a ${kind} keystore is named a Java KeyStore, with how to convert it`, async () => {
      const file = at(`keystore.${kind.toLowerCase()}`, Buffer.from(`${magic}00000001`, "hex"));
      const r = await pem([file]);
      expect([r.code, r.stdout, r.stderr]).toEqual([
        2,
        "",
        `trailseal: error: ${file} holds a Java KeyStore (${kind}), which trailseal does not read: convert it to PKCS#12 first\n` +
          `trailseal: hint: keytool -importkeystore -srckeystore ${file} -destkeystore ${file}.p12 -deststoretype pkcs12\n`,
      ]);
    });
  }

  it("a certificate that is well-formed DER but that OpenSSL cannot parse is named so, not with openssl's 'no start line'", async () => {
    // The issuer's first RDN made a SEQUENCE instead of a SET: still DER, no longer a Name.
    const bad = Buffer.from(der);
    const rdn = bad.indexOf(Buffer.from("31183016060355040a", "hex"));
    expect(rdn).toBe(52); // the issuer, right after the signature algorithm
    bad[rdn] = 0x30;
    const file = at("bad-name.der", bad);
    const r = await pem([file]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      `trailseal: error: ${file}: invalid DER: the certificate is well-formed DER, but OpenSSL cannot parse it\n`,
    ]);
  });

  it("an invalid UTCTime (15 characters) is said to be invalid, as openssl's 'Bad time value', never 'expired' (item 6)", async () => {
    // notAfter replaced by the 15-character UTCTime of pyca's badasn1time.pem; lengths redone.
    const [tbs, sigAlg, sig] = children(der, readWhole(der)).map((t) => slice(der, t));
    const fields = children(tbs!, readWhole(tbs!)).map((t) => slice(tbs!, t));
    const validity = children(fields[4]!, readWhole(fields[4]!)).map((t) => slice(fields[4]!, t));
    fields[4] = seq(validity[0]!, tlv(0x17, new TextEncoder().encode("19020701025736Z")));
    const file = at("bad-time.der", seq(seq(...fields), sigAlg!, sig!));
    const enddate = execFileSync(
      "openssl",
      ["x509", "-inform", "DER", "-in", file, "-noout", "-enddate"],
      {
        encoding: "utf8",
      },
    );
    expect(enddate).toBe("notAfter=Bad time value\n");
    const r = await pem(["--json", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `trailseal: warning: ${file}: certificate 1 (O=trailseal tests, CN=trailseal test recipient rsa2048-a): its validity period is not valid (notAfter: certificate is malformed: not a UTC time: "19020701025736Z"); openssl says "Bad time value"\n`,
    );
    const [info] = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect([info!.notAfter, info!.invalidTime, info!.expired]).toEqual([
      "invalid",
      'notAfter: certificate is malformed: not a UTC time: "19020701025736Z"',
      false,
    ]);
  });

  it("a PKCS#12 file with a zero-length password reads with no --passin and with --passin pass: (item 1)", async () => {
    const p12 = execFileSync("openssl", [
      ...[
        "pkcs12",
        "-export",
        "-in",
        join(DIR, "rsa2048-a.crt"),
        "-inkey",
        join(DIR, "rsa2048-a.key"),
      ],
      ...["-passout", "pass:"],
    ]);
    const file = at("empty-password.p12", p12);
    const onCommandLine =
      "trailseal: warning: --passin pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH\n";
    const none = await pem([file]);
    expect([none.code, none.stdout, none.stderr]).toEqual([0, A, ""]);
    const empty = await pem(["--passin", "pass:", file]);
    expect([empty.code, empty.stdout, empty.stderr]).toEqual([0, A, onCommandLine]);
    const wrong = await pem(["--passin", "pass:x", file]);
    expect([wrong.code, wrong.stdout, wrong.stderr]).toEqual([
      2,
      "",
      onCommandLine +
        `trailseal: error: wrong password for PKCS#12 file ${file}\n` +
        "trailseal: hint: check the password given with --passin\n",
    ]);
  });

  it("cleans up", () => rmSync(tmp, { recursive: true, force: true }));
});
