/**
 * Tokens in the shapes real TSAs send, made by openssl's own TSA (`openssl ts -reply` with a
 * config of its own per shape): trailseal (`stamp --verify`) and `openssl ts -verify` must agree
 * on each, the valid ones and the refusals (other data, a wrong CA, a missing certificate).
 *
 * RSA-PSS signers: `openssl ts -reply` 3.0 cannot sign a token with an RSA-PSS key
 * (PKCS7_SIGNER_INFO_set: "signing not supported for this key type"); it answers with a
 * rejection, which the last test holds both tools to. So the PSS tokens here are the TSTInfo of
 * `ts -reply` re-signed by `openssl cms -sign -cades`, and where openssl's own tools disagree
 * (ts -verify checks PKCS#7 signatures as PKCS#1 v1.5 only; cms -verify follows the
 * SignerInfo's algorithm, RFC 4056) trailseal sides with RFC 4056 and cms -verify.
 */
import { createHash, X509Certificate } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTsaServer, type TsaServer } from "../src/timestamp/server.js";
import { runCli } from "./helpers/io.js";
import { opensslIn, pkiPath, tsaFixture, untrustedCopy } from "./helpers/tsa.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-tokens-"));
let server: TsaServer;

const openssl = opensslIn(dir);

/** `openssl ts -verify` on a bare token: its verdict line ("OK" or "FAILED"). */
function opensslVerify(
  token: string,
  against: { data: string } | { digest: string },
  ca: string,
  untrusted: readonly string[] = [],
): string {
  const args = ["ts", "-verify", "-in", token, "-token_in", "-CAfile", ca];
  if ("data" in against) args.push("-data", against.data);
  else args.push("-digest", against.digest);
  if (untrusted.length > 0) {
    // openssl takes one -untrusted file: the certificates concatenated.
    const file = `untrusted-${untrusted.length}-${token}.pem`;
    writeFileSync(join(dir, file), untrusted.map((u) => readFileSync(u, "utf8")).join(""));
    args.push("-untrusted", untrustedCopy(dir, join(dir, file)));
  }
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  const verdict = /^Verification: (OK|FAILED)$/m.exec(r.stdout)?.[1] ?? `?${r.stderr}`;
  expect(r.status, r.stderr).toBe(verdict === "OK" ? 0 : 1);
  return verdict;
}

/** trailseal's `stamp --verify` on the same token. */
async function trailsealVerify(
  token: string,
  against: { data: string } | { digest: string },
  ca: string,
  untrusted: readonly string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["stamp", "--verify", token, "--tsa-ca", ca, "--json"];
  if ("data" in against) args.push("--data", against.data);
  else args.push("--digest", against.digest);
  for (const u of untrusted) args.push("--untrusted", u);
  return runCli(args, { cwd: dir });
}

const fingerprint = (pem: string): string =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(pem)).raw)
    .digest("hex");
const hexOf = (file: string, hash = "sha256"): string =>
  createHash(hash)
    .update(readFileSync(join(dir, file)))
    .digest("hex");

const ROOT = pkiPath("root-ca.pem");
const FOREIGN = pkiPath("foreign-root-ca.pem");
const INTERMEDIATE = pkiPath("intermediate-ca.pem");
const TSA = pkiPath("tsa.pem");
const TSA_EC = pkiPath("tsa-ec.pem");
/** A TSA under the intermediate CA, made in beforeAll. */
const TSA_INT = join(dir, "tsa-int.pem");

const SUBJECT = {
  tsa: "C=XX, O=trailseal test, CN=trailseal test TSA",
  ec: "C=XX, O=trailseal test, CN=trailseal test TSA (ECDSA)",
  int: "C=XX, O=trailseal test, CN=trailseal test TSA under the intermediate",
};

/**
 * A token from `openssl ts -reply`: `config` adds lines to the TSA section, `query` to
 * `openssl ts -query` (default: SHA-256, with -cert).
 */
function token(name: string, cert: string, key: string, config: string[], query: string[]): string {
  writeFileSync(join(dir, `${name}.serial`), "01\n");
  writeFileSync(
    join(dir, `${name}.cnf`),
    [
      "[ tsa ]",
      "default_tsa = t",
      "[ t ]",
      `serial = ${join(dir, `${name}.serial`)}`,
      `signer_cert = ${cert}`,
      `signer_key = ${key}`,
      "signer_digest = sha256",
      "default_policy = 1.2.3.4.1",
      "digests = sha256, sha384, sha512",
      ...config,
      "",
    ].join("\n"),
  );
  openssl(["ts", "-query", "-data", "data.txt", ...query, "-out", `${name}.tsq`]);
  openssl([
    "ts",
    "-reply",
    "-config",
    `${name}.cnf`,
    "-queryfile",
    `${name}.tsq`,
    "-token_out",
    "-out",
    `${name}.tok`,
  ]);
  return `${name}.tok`;
}

beforeAll(async () => {
  writeFileSync(join(dir, "data.txt"), "the stamped data\n");
  writeFileSync(join(dir, "other.txt"), "other data\n");
  writeFileSync(
    join(dir, "tsa-ext.cnf"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=critical,timeStamping\n",
  );
  openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "tsa-int.key",
  ]);
  openssl([
    "req",
    "-new",
    "-key",
    "tsa-int.key",
    "-subj",
    "/C=XX/O=trailseal test/CN=trailseal test TSA under the intermediate",
    "-out",
    "tsa-int.csr",
  ]);
  openssl([
    "x509",
    "-req",
    "-in",
    "tsa-int.csr",
    "-CA",
    INTERMEDIATE,
    "-CAkey",
    pkiPath("intermediate-ca.key"),
    "-set_serial",
    "4242",
    "-days",
    "3650",
    "-sha256",
    "-extfile",
    "tsa-ext.cnf",
    "-out",
    TSA_INT,
  ]);
  let serial = 1000n;
  server = await startTsaServer({
    tsa: tsaFixture("tsa"),
    policyOid: "1.2.3.4.1",
    port: 0,
    clock: () => new Date(),
    serial: () => ++serial,
  });
}, 30_000);

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An RSA-PSS key (id-RSASSA-PSS) with a TSA certificate under the root: pss.key, pss.pem. */
function pssTsa(): void {
  if (existsSync(join(dir, "pss.pem"))) return;
  openssl([
    "genpkey",
    "-algorithm",
    "RSA-PSS",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "pss.key",
  ]);
  openssl(["req", "-new", "-key", "pss.key", "-subj", "/CN=pss tsa", "-out", "pss.csr"]);
  openssl([
    "x509",
    "-req",
    "-in",
    "pss.csr",
    "-CA",
    ROOT,
    "-CAkey",
    pkiPath("root-ca.key"),
    "-set_serial",
    "77",
    "-days",
    "30",
    "-extfile",
    "tsa-ext.cnf",
    "-out",
    "pss.pem",
  ]);
}

interface Shape {
  name: string;
  cert: string;
  key: string;
  subject: string;
  config: string[];
  query: string[];
  /** What the token leaves out and must come with --untrusted / -untrusted. */
  untrusted: string[];
  /** The imprint algorithm asked for. */
  hash: "sha256" | "sha384" | "sha512";
  facts: Record<string, unknown>;
}

const RSA = { cert: TSA, key: pkiPath("tsa.key"), subject: SUBJECT.tsa };

const SHAPES: Shape[] = [
  {
    name: "ess-v1-sha1",
    ...RSA,
    config: ["ess_cert_id_alg = sha1"],
    query: ["-sha256", "-cert"],
    untrusted: [],
    hash: "sha256",
    facts: { imprintAlgorithm: "SHA-256", policy: "1.2.3.4.1" },
  },
  {
    name: "ess-v2-sha256",
    ...RSA,
    config: ["ess_cert_id_alg = sha256"],
    query: ["-sha384", "-cert"],
    untrusted: [],
    hash: "sha384",
    facts: { imprintAlgorithm: "SHA-384" },
  },
  {
    name: "ess-v2-sha512",
    ...RSA,
    config: ["ess_cert_id_alg = sha512"],
    query: ["-sha512", "-cert"],
    untrusted: [],
    hash: "sha512",
    facts: { imprintAlgorithm: "SHA-512" },
  },
  {
    name: "ecdsa",
    cert: TSA_EC,
    key: pkiPath("tsa-ec.key"),
    subject: SUBJECT.ec,
    config: ["ess_cert_id_alg = sha256"],
    query: ["-sha256", "-cert"],
    untrusted: [],
    hash: "sha256",
    facts: { signer: { subject: SUBJECT.ec, fingerprint: fingerprint(TSA_EC) } },
  },
  {
    name: "ordering-accuracy-name-no-nonce",
    ...RSA,
    config: [
      "ordering = yes",
      "accuracy = secs:1, millisecs:500, microsecs:100",
      "tsa_name = yes",
      "ess_cert_id_alg = sha256",
    ],
    query: ["-sha256", "-cert", "-no_nonce"],
    untrusted: [],
    hash: "sha256",
    facts: {
      nonce: null,
      tsaName: SUBJECT.tsa,
      accuracy: { seconds: 1, millis: 500, micros: 100 },
    },
  },
  {
    name: "no-certificates",
    ...RSA,
    config: [],
    query: ["-sha256"],
    untrusted: [TSA],
    hash: "sha256",
    facts: { signer: { subject: SUBJECT.tsa, fingerprint: fingerprint(TSA) } },
  },
];

describe("tokens from openssl ts -reply: trailseal and openssl ts -verify agree", () => {
  it.each(SHAPES)(
    "$name: valid against the data and its digest, refused for other data and a wrong CA",
    async (shape) => {
      const tok = token(shape.name, shape.cert, shape.key, shape.config, shape.query);
      const digest = hexOf("data.txt", shape.hash);
      for (const against of [{ data: "data.txt" }, { digest }]) {
        expect(opensslVerify(tok, against, ROOT, shape.untrusted)).toBe("OK");
        const r = await trailsealVerify(tok, against, ROOT, shape.untrusted);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, ...shape.facts });
      }
      const facts = JSON.parse(
        (await trailsealVerify(tok, { digest }, ROOT, shape.untrusted)).stdout,
      ) as {
        genTime: string;
        tsaName: string;
        serial: string;
        imprintAlgorithm: string;
      };
      const genTime = facts.genTime;
      // The human verdict for a digest says what was checked: the digest, not a file.
      const human = await runCli(
        [
          "stamp",
          "--verify",
          tok,
          "--digest",
          digest,
          "--tsa-ca",
          ROOT,
          ...shape.untrusted.flatMap((u) => ["--untrusted", u]),
        ],
        { cwd: dir },
      );
      expect([human.code, human.stderr]).toEqual([0, ""]);
      expect(human.stdout).toBe(
        `TIMESTAMP valid: the data of ${facts.imprintAlgorithm} digest ${digest} existed at ${genTime}\n` +
          `  TSA       ${facts.tsaName}\n  policy    1.2.3.4.1\n  serial    ${facts.serial}\n` +
          `  imprint   ${facts.imprintAlgorithm} ${digest}\n  signer    ${shape.subject} (sha256:${fingerprint(shape.cert)})\n`,
      );

      // Other data: the imprint does not match.
      expect(opensslVerify(tok, { data: "other.txt" }, ROOT, shape.untrusted)).toBe("FAILED");
      const other = await trailsealVerify(tok, { data: "other.txt" }, ROOT, shape.untrusted);
      expect(other.code).toBe(1);
      expect(other.stderr).toBe(
        `trailseal: error: ${tok}: token imprint ${digest} does not match the data (${hexOf("other.txt", shape.hash)})\n`,
      );

      // A digest of the wrong length: a mismatch for both, not a usage error.
      expect(opensslVerify(tok, { digest: "00" }, ROOT, shape.untrusted)).toBe("FAILED");
      const short = await trailsealVerify(tok, { digest: "00" }, ROOT, shape.untrusted);
      expect([short.code, short.stderr]).toEqual([
        1,
        `trailseal: error: ${tok}: token imprint ${digest} does not match the data (00)\n`,
      ]);

      // A CA that did not issue the TSA's certificate.
      expect(opensslVerify(tok, { data: "data.txt" }, FOREIGN, shape.untrusted)).toBe("FAILED");
      const foreign = await trailsealVerify(tok, { data: "data.txt" }, FOREIGN, shape.untrusted);
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toBe(
        `trailseal: error: ${tok}: certificate "${shape.subject}" (sha256:${fingerprint(shape.cert)}) is not trusted at ${genTime.replace(/\.000Z$/, "Z")}: ` +
          `no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test root CA" of "${shape.subject}" is neither a trust anchor nor among the 0 included certificate(s)\n` +
          "trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n",
      );
    },
    30_000,
  );

  it("a token without certificates (no -cert): refused by both without --untrusted, with the hint naming it", async () => {
    const tok = token("bare", TSA, pkiPath("tsa.key"), [], ["-sha256"]);
    expect(opensslVerify(tok, { data: "data.txt" }, ROOT)).toBe("FAILED");
    const r = await trailsealVerify(tok, { data: "data.txt" }, ROOT);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      code: "TIMESTAMP_INVALID",
      message: `${tok}: the signer's certificate is not included in the signature, nor given`,
    });
    expect(r.stderr).toBe(
      `trailseal: error: ${tok}: the signer's certificate is not included in the signature, nor given\n` +
        "trailseal: hint: pass the signer's certificate (or the missing intermediate) with --untrusted FILE\n",
    );
    // A leaf given as a trust anchor does not supply the signer: it is not an --untrusted.
    expect(opensslVerify(tok, { data: "data.txt" }, TSA)).toBe("FAILED");
    const asAnchor = await trailsealVerify(tok, { data: "data.txt" }, TSA);
    expect([asAnchor.code, asAnchor.stderr]).toEqual([1, r.stderr]);
    expect(JSON.parse(asAnchor.stdout)).toEqual(JSON.parse(r.stdout));
  });

  it("a chain whose intermediate the token lacks verifies with --untrusted, not passed as an anchor", async () => {
    const tok = token("int-leaf-only", TSA_INT, join(dir, "tsa-int.key"), [], ["-sha256", "-cert"]);
    const full = token(
      "int-full-chain",
      TSA_INT,
      join(dir, "tsa-int.key"),
      [`certs = ${INTERMEDIATE}`, "ess_cert_id_chain = yes"],
      ["-sha256", "-cert"],
    );
    // The full chain in the token: the root alone is enough for both.
    expect(opensslVerify(full, { data: "data.txt" }, ROOT)).toBe("OK");
    const f = await trailsealVerify(full, { data: "data.txt" }, ROOT);
    expect(f.code, f.stderr).toBe(0);
    expect((JSON.parse(f.stdout) as { chain: string[] }).chain).toEqual([
      fingerprint(TSA_INT),
      fingerprint(INTERMEDIATE),
      fingerprint(ROOT),
    ]);

    // The leaf only: untrusted without the intermediate, for both.
    expect(opensslVerify(tok, { data: "data.txt" }, ROOT)).toBe("FAILED");
    const missing = await trailsealVerify(tok, { data: "data.txt" }, ROOT);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ valid: false, code: "CHAIN_UNTRUSTED" });
    const leafAt = (stderr: string) =>
      `${tok}: certificate "${SUBJECT.int}" (sha256:${fingerprint(TSA_INT)}) is not trusted at ${/ is not trusted at (\S+): /.exec(stderr)?.[1]}`;
    expect(missing.stderr).toBe(
      `trailseal: error: ${leafAt(missing.stderr)}: no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test intermediate CA" of "${SUBJECT.int}" is neither a trust anchor nor among the 0 included certificate(s)\n` +
        "trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n",
    );

    // With the intermediate as --untrusted (and the root the only anchor): valid for both.
    expect(opensslVerify(tok, { data: "data.txt" }, ROOT, [INTERMEDIATE])).toBe("OK");
    const ok = await trailsealVerify(tok, { data: "data.txt" }, ROOT, [INTERMEDIATE]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { chain: string[] }).chain).toEqual([
      fingerprint(TSA_INT),
      fingerprint(INTERMEDIATE),
      fingerprint(ROOT),
    ]);

    // Untrusted certificates are never trusted by themselves: the root as --untrusted under a
    // foreign anchor is still refused, by both.
    expect(opensslVerify(tok, { data: "data.txt" }, FOREIGN, [INTERMEDIATE, ROOT])).toBe("FAILED");
    const notTrusted = await trailsealVerify(tok, { data: "data.txt" }, FOREIGN, [
      INTERMEDIATE,
      ROOT,
    ]);
    expect(notTrusted.code).toBe(1);
    expect(JSON.parse(notTrusted.stdout)).toMatchObject({ valid: false, code: "CHAIN_UNTRUSTED" });
    expect(notTrusted.stderr).toBe(
      `trailseal: error: ${leafAt(notTrusted.stderr)}: no path to a trust anchor: "C=XX, O=trailseal test, CN=trailseal test root CA" is a root that is not a trust anchor\n` +
        "trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n",
    );
  });

  it("a token from trailseal's own tsa serve without certReq verifies with --untrusted, as with openssl", async () => {
    openssl(["ts", "-query", "-data", "data.txt", "-sha256", "-out", "serve.tsq"]);
    const res = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/timestamp-query" },
      body: readFileSync(join(dir, "serve.tsq")),
    });
    expect(res.status).toBe(200);
    writeFileSync(join(dir, "serve.tsr"), new Uint8Array(await res.arrayBuffer()));
    openssl(["ts", "-reply", "-in", "serve.tsr", "-token_out", "-out", "serve.tok"]);
    expect(opensslVerify("serve.tok", { data: "data.txt" }, ROOT)).toBe("FAILED");
    const bare = await trailsealVerify("serve.tok", { data: "data.txt" }, ROOT);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toBe(
      "trailseal: error: serve.tok: the signer's certificate is not included in the signature, nor given\n" +
        "trailseal: hint: pass the signer's certificate (or the missing intermediate) with --untrusted FILE\n",
    );
    expect(opensslVerify("serve.tok", { data: "data.txt" }, ROOT, [TSA])).toBe("OK");
    // The TimeStampResp itself, too (stamp --verify takes either).
    const ok = await runCli(
      [
        "stamp",
        "--verify",
        "serve.tsr",
        "--data",
        "data.txt",
        "--tsa-ca",
        ROOT,
        "--untrusted",
        TSA,
      ],
      { cwd: dir },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(
        String.raw`^TIMESTAMP valid: data\.txt existed at \S+Z\n {2}TSA {7}${SUBJECT.tsa}\n {2}policy {4}1\.2\.3\.4\.1\n {2}serial {4}3e[9a-f]\n {2}imprint {3}SHA-256 ${hexOf("data.txt")}\n {2}signer {4}${SUBJECT.tsa} \(sha256:${fingerprint(TSA)}\)\n$`,
      ),
    );
  });

  it("RSASSA-PSS under an RSA key (openssl cms -sign -cades over ts -reply's TSTInfo): trailseal and openssl cms -verify accept, ts -verify cannot", async () => {
    // openssl ts -reply 3.0 signs PKCS#1 v1.5 only; the same TSTInfo re-signed by openssl's CMS
    // with PSS padding is what a TSA on another stack sends (RFC 4056: id-RSASSA-PSS, SHA-256).
    const base = token(
      "pss-base",
      TSA,
      pkiPath("tsa.key"),
      ["tsa_name = yes"],
      ["-sha256", "-cert"],
    );
    openssl([
      "cms",
      "-verify",
      "-noverify",
      "-inform",
      "DER",
      "-in",
      base,
      "-binary",
      "-out",
      "pss-base.tst",
    ]);
    openssl([
      ...["cms", "-sign", "-binary", "-nodetach", "-cades", "-nosmimecap"],
      ...["-econtent_type", "1.2.840.113549.1.9.16.1.4", "-in", "pss-base.tst"],
      ...["-signer", TSA, "-inkey", pkiPath("tsa.key"), "-md", "sha256"],
      ...["-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"],
      ...["-outform", "DER", "-out", "pss-rsa.tok"],
    ]);
    expect(openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "pss-rsa.tok"])).toMatch(
      /signatureAlgorithm: \n\s+algorithm: rsassaPss \(1\.2\.840\.113549\.1\.1\.10\)/,
    );
    const cmsVerify = spawnSync(
      "openssl",
      [
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "pss-rsa.tok",
        "-CAfile",
        ROOT,
        "-purpose",
        "any",
        "-binary",
        "-out",
        "/dev/null",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect([cmsVerify.status, cmsVerify.stderr]).toEqual([0, "CMS Verification successful\n"]);
    const digest = hexOf("data.txt");
    for (const against of [{ data: "data.txt" }, { digest }]) {
      // openssl ts -verify checks a PKCS#7 signature as PKCS#1 v1.5 only: "invalid padding".
      expect(opensslVerify("pss-rsa.tok", against, ROOT)).toBe("FAILED");
      const r = await trailsealVerify("pss-rsa.tok", against, ROOT);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(JSON.parse(r.stdout)).toMatchObject({
        valid: true,
        tsaName: SUBJECT.tsa,
        signer: { subject: SUBJECT.tsa, fingerprint: fingerprint(TSA) },
      });
    }
    const other = await trailsealVerify("pss-rsa.tok", { data: "other.txt" }, ROOT);
    expect([other.code, other.stderr]).toEqual([
      1,
      `trailseal: error: pss-rsa.tok: token imprint ${digest} does not match the data (${hexOf("other.txt")})\n`,
    ]);
    const foreign = await trailsealVerify("pss-rsa.tok", { data: "data.txt" }, FOREIGN);
    expect(foreign.code).toBe(1);
    expect(JSON.parse(foreign.stdout)).toMatchObject({ valid: false, code: "CHAIN_UNTRUSTED" });
    expect(foreign.stderr).toBe(
      `trailseal: error: pss-rsa.tok: certificate "${SUBJECT.tsa}" (sha256:${fingerprint(TSA)}) is not trusted at ${/ is not trusted at (\S+): /.exec(foreign.stderr)?.[1]}: ` +
        `no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test root CA" of "${SUBJECT.tsa}" is neither a trust anchor nor among the 0 included certificate(s)\n` +
        "trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n",
    );
    // A PSS signature one byte off is a forgery to trailseal, whatever the padding.
    const forged = readFileSync(join(dir, "pss-rsa.tok"));
    forged[forged.length - 1]! ^= 1;
    writeFileSync(join(dir, "pss-forged.tok"), forged);
    expect(opensslVerify("pss-forged.tok", { data: "data.txt" }, ROOT)).toBe("FAILED");
    const f = await trailsealVerify("pss-forged.tok", { data: "data.txt" }, ROOT);
    expect(JSON.parse(f.stdout)).toMatchObject({ valid: false, code: "TIMESTAMP_INVALID" });
    expect([f.code, f.stderr]).toEqual([
      1,
      `trailseal: error: pss-forged.tok: the signature over the signed attributes does not verify with the key of ${SUBJECT.tsa}\n`,
    ]);
  });

  it("an RSA-PSS key signing through openssl cms: the SignerInfo says rsaEncryption, which trailseal and cms -verify refuse, ts -verify takes", async () => {
    pssTsa();
    const base = token("psskey-base", TSA, pkiPath("tsa.key"), [], ["-sha256", "-cert"]);
    openssl([
      "cms",
      "-verify",
      "-noverify",
      "-inform",
      "DER",
      "-in",
      base,
      "-binary",
      "-out",
      "psskey.tst",
    ]);
    openssl([
      ...["cms", "-sign", "-binary", "-nodetach", "-cades", "-nosmimecap"],
      ...["-econtent_type", "1.2.840.113549.1.9.16.1.4", "-in", "psskey.tst"],
      ...["-signer", "pss.pem", "-inkey", "pss.key", "-md", "sha256"],
      ...["-outform", "DER", "-out", "psskey.tok"],
    ]);
    // RFC 4056 §2: a PSS signature is labelled id-RSASSA-PSS; openssl 3.0 labels it rsaEncryption.
    expect(opensslVerify("psskey.tok", { data: "data.txt" }, ROOT)).toBe("OK");
    const cmsVerify = spawnSync(
      "openssl",
      [
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "psskey.tok",
        "-CAfile",
        ROOT,
        "-purpose",
        "any",
        "-binary",
        "-out",
        "/dev/null",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(cmsVerify.status).toBe(4);
    expect(cmsVerify.stderr).toContain("rsa_cms_verify:illegal or unsupported padding mode");
    const r = await trailsealVerify("psskey.tok", { data: "data.txt" }, ROOT);
    expect([r.code, r.stderr]).toEqual([
      1,
      "trailseal: error: psskey.tok: signature algorithm 1.2.840.113549.1.1.1 does not fit the signer's rsa-pss key\n",
    ]);
  });

  it("an RSA-PSS signer: openssl ts -reply 3.0 answers with a rejection, which both report", async () => {
    pssTsa();
    writeFileSync(join(dir, "pss.serial"), "01\n");
    writeFileSync(
      join(dir, "pss.cnf"),
      `[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ${join(dir, "pss.serial")}\nsigner_cert = ${join(dir, "pss.pem")}\nsigner_key = ${join(dir, "pss.key")}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n`,
    );
    openssl(["ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "pss.tsq"]);
    openssl(["ts", "-reply", "-config", "pss.cnf", "-queryfile", "pss.tsq", "-out", "pss.tsr"]);
    const r = spawnSync(
      "openssl",
      ["ts", "-verify", "-in", "pss.tsr", "-data", "data.txt", "-CAfile", ROOT],
      { cwd: dir, encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "status code: rejection, status text: Error during signature generation.",
    );
    const v = await runCli(
      ["stamp", "--verify", "pss.tsr", "--data", "data.txt", "--tsa-ca", ROOT],
      { cwd: dir },
    );
    expect(v.code).toBe(1);
    expect(v.stderr).toBe(
      "trailseal: error: pss.tsr: the response's status is rejection and it carries no token (no failInfo; status text 'Error during signature generation.')\n",
    );
  });
});
