/**
 * A corpus nobody here wrote: pyca/cryptography's test vectors (Debian package
 * python3-cryptography-vectors; .ci/run installs it). Every certificate-bearing file of its
 * x509/ (with x509/PKITS_data/), pkcs12/ and pkcs7/ folders goes through trailseal's own `pem`
 * code in this one process (reading, then describing each certificate as `pem --json` does),
 * and the certificates found are compared byte for byte with what openssl finds in the same
 * file (`openssl x509` per PEM block or DER file, `openssl pkcs7 -print_certs`,
 * `openssl pkcs12 -nokeys`).
 *
 * The sets must agree, file by file, except for the files listed below, each with its reason.
 * The list is exact both ways: a file that starts to agree must leave it, so it can only shrink.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { describeCertificate, readCertificates } from "../src/pem.js";

const VECTORS = "/usr/lib/python3/dist-packages/cryptography_vectors";
const run = promisify(execFile);

/**
 * Files where trailseal and openssl disagree today, with the reason. `pending` entries are
 * defects of trailseal, named by the item of the real-world-inputs issue that fixes them.
 */
const DIFFERENCES: Readonly<Record<string, string>> = {};

/** pyca's passwords (its docs: mostly `cryptography`; NIST PKITS `password`; none for -no-pwd). */
function password(path: string): string | undefined {
  if (path.includes("PKITS_data")) return "password";
  if (/no-pwd|no-password|cert-none-key-none/.test(path)) return undefined;
  return "cryptography";
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
}

/** The certificate-bearing files: certificates, bundles and keystores; not CRLs, CSRs, OCSP, S/MIME. */
function corpus(): string[] {
  return ["x509", "pkcs12", "pkcs7"]
    .flatMap((d) => walk(join(VECTORS, d)))
    .filter((f) => /\.(pem|der|crt|cer|p12|pfx|p7b|p7c)$/i.test(f))
    .filter((f) => f.endsWith(".p12") || !/\/(crls|requests|ocsp|certpairs|smime)\//.test(f));
}

/** DER (hex) of each `BEGIN CERTIFICATE` block in openssl's output. */
function certificatesIn(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----\n([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => Buffer.from(m[1]!.replace(/\s/g, ""), "base64").toString("hex"),
  );
}

async function openssl(args: string[], input?: string): Promise<string | null> {
  try {
    const child = run("openssl", args, { maxBuffer: 64 << 20, encoding: "latin1" });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  } catch {
    return null;
  }
}

/** What openssl finds: the certificates (hex DER), or null when it reads none. */
async function opensslFinds(path: string): Promise<string[] | null> {
  const bytes = readFileSync(path);
  const isPem = bytes.includes("-----BEGIN");
  let out: string | null;
  if (/\.(p12|pfx)$/.test(path)) {
    const args = ["pkcs12", "-in", path, "-nokeys", "-passin", `pass:${password(path) ?? ""}`];
    out = (await openssl(args)) ?? (await openssl([...args, "-legacy"]));
  } else if (path.includes("/pkcs7/") || /\.p7[bc]$/.test(path)) {
    out = await openssl(["pkcs7", "-inform", isPem ? "PEM" : "DER", "-in", path, "-print_certs"]);
  } else if (isPem) {
    const blocks = [
      ...bytes
        .toString("latin1")
        .matchAll(
          /-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----[\s\S]*?-----END \1?CERTIFICATE-----/g,
        ),
    ].map((m) => m[0]);
    const found: string[] = [];
    for (const block of blocks) {
      const one = await openssl(["x509"], block);
      if (one === null) return null;
      found.push(...certificatesIn(one));
    }
    return found.length === 0 ? null : found;
  } else {
    out = await openssl(["x509", "-inform", "DER", "-in", path]);
  }
  const found = out === null ? [] : certificatesIn(out);
  return found.length === 0 ? null : found;
}

/** What trailseal's pem code finds, each certificate described as `pem --json` does. */
async function trailsealFinds(path: string): Promise<string[] | string> {
  const pass = password(path);
  try {
    const ders = await readCertificates(new Uint8Array(readFileSync(path)), {
      source: path,
      forApi: true,
      ...(pass === undefined ? {} : { passphrase: pass }),
    });
    for (const der of ders) describeCertificate(der);
    return ders.map((der) => Buffer.from(der).toString("hex"));
  } catch (e) {
    return `${(e as { code?: string }).code ?? "not a TrailsealError"}: ${(e as Error).message}`;
  }
}

async function inTurns<T, R>(items: T[], width: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i]!);
    }),
  );
  return out;
}

describe.skipIf(!existsSync(VECTORS))(
  "pyca/cryptography vectors: trailseal pem agrees with openssl",
  () => {
    it("finds the same certificates, byte for byte, in every file but the listed ones", async () => {
      const files = corpus();
      expect(files.length).toBeGreaterThan(900);
      const results = await inTurns(files, 4, async (path) => ({
        file: relative(VECTORS, path),
        openssl: await opensslFinds(path),
        trailseal: await trailsealFinds(path),
      }));
      const disagreements: Record<string, string> = {};
      for (const r of results) {
        // Both finding nothing agrees: openssl exits 0 with no certificate where trailseal names why.
        const same =
          typeof r.trailseal === "string"
            ? r.openssl === null
            : r.openssl !== null && r.openssl.join() === r.trailseal.join();
        if (!same) disagreements[r.file] = DIFFERENCES[r.file] ?? JSON.stringify(r);
        // No crash of any kind: a failure is always a TrailsealError with a code.
        if (typeof r.trailseal === "string")
          expect(r.trailseal).not.toMatch(/^not a TrailsealError/);
      }
      expect(disagreements).toEqual(DIFFERENCES);
      // The corpus is what the issue names: the agreement covers hundreds of files of each kind.
      const agreed = results.filter((r) => !(r.file in DIFFERENCES));
      expect(agreed.filter((r) => r.file.endsWith(".p12")).length).toBeGreaterThan(100);
      expect(
        agreed.filter((r) => r.file.startsWith("x509/PKITS_data/certs/")).length,
      ).toBeGreaterThan(300);
    }, 300_000);
  },
);

describe.skipIf(!existsSync(VECTORS))(
  "pyca/cryptography vectors: what openssl reads, trailseal describes",
  () => {
    const read = async (f: string) =>
      (await readCertificates(new Uint8Array(readFileSync(join(VECTORS, f))), { source: f })).map(
        describeCertificate,
      );

    it("a 15-character UTCTime (openssl: 'Bad time value') is shown as invalid, not as a date", async () => {
      const [info] = await read("x509/badasn1time.pem");
      expect([info!.notBefore, info!.notAfter, info!.invalidTime]).toEqual([
        "2011-03-21T09:25:52.000Z",
        "invalid",
        'notAfter: certificate is malformed: not a UTC time: "19020701025736Z"',
      ]);
    });

    it("a negative serial is shown with its sign, as openssl prints it (-04316693ED)", async () => {
      const [info] = await read("x509/custom/negative_serial.pem");
      const shown = (
        await run("openssl", [
          "x509",
          "-noout",
          "-serial",
          "-in",
          join(VECTORS, "x509/custom/negative_serial.pem"),
        ])
      ).stdout;
      expect(shown).toBe("serial=-04316693ED\n");
      expect(info!.serial).toBe("-04316693ed");
    });

    it("an empty subject (RFC 5280 §4.1.2.6) is an empty name, and the certificate is read", async () => {
      const [info] = await read("x509/custom/ian_uri.pem");
      expect([info!.subject, info!.issuer]).toEqual([
        "",
        "C=AU, ST=Some-State, O=Internet Widgits Pty Ltd, CN=TestInfraCA",
      ]);
    });
  },
);

if (!existsSync(VECTORS)) {
  // Said once, plainly, where the corpus is missing (the skip alone is easy to overlook).
  console.warn(
    `test/corpus-pyca.test.ts skipped: ${VECTORS} is missing (apt-get install python3-cryptography-vectors; .ci/run does)`,
  );
}
