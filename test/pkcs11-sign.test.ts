/**
 * Signing and timestamping with keys on SoftHSM2 tokens: `seal --sign-key pkcs11:` (PKCS#1 v1.5,
 * PSS, ECDSA P-256) with `--tsa-key pkcs11:`, checked by `trailseal verify` and by `openssl cms
 * -verify` / `openssl ts -verify` on what `trailseal export` writes; `tsa serve --key pkcs11:`
 * answering openssl's queries, also after its session is lost; a wrong PIN named by token and
 * key; and that file keys never load the PKCS#11 binding (a module resolve hook in a child).
 */
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTokenKey } from "../src/pkcs11/token.js";
import { runCli } from "./helpers/io.js";
import { post, startServe } from "./helpers/tsa-serve.js";
import { TESTDATA } from "./helpers/fixtures.js";
import { makeHsm, softhsmMissing, SOFTHSM_MODULE, type Hsm } from "./helpers/softhsm.js";

const pki = (n: string) => join(TESTDATA, "pki", n);
const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000 }),
  JSON.stringify([0.1, "o", "$ "]),
  JSON.stringify([0.5, "i", "id\r"]),
  JSON.stringify([0.7, "o", "uid=0(root)\r\n$ "]),
  "",
].join("\n");
const PIN = "4444";
const NOW = new Date("2026-06-01T12:00:00Z");
const SIGNERS = {
  rsa: "C=XX, O=trailseal test, CN=trailseal test signer RSA (code signing)",
  ec: "C=XX, O=trailseal test, CN=trailseal test signer ECDSA P-256 (code signing)",
};
const STAMPED = `  TIMESTAMP   valid: 1 token, local TSA C=XX, O=trailseal test, CN=trailseal test TSA, genTime ${NOW.toISOString()}, policy 1.3.6.1.4.1.32473.3161.1`;

const missing = softhsmMissing();
if (missing !== null) console.warn(`pkcs11 signing tests on SoftHSM2 skipped: ${missing}`);

describe.skipIf(missing !== null)("signing and timestamping with SoftHSM2 token keys", () => {
  let hsm: Hsm;
  const p = (n: string) => join(hsm.dir, n);
  const key = (label: string) => `pkcs11:token=signing;object=${label};type=private`;
  const cli = (argv: string[]) =>
    runCli(argv, {
      cwd: hsm.dir,
      env: { TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE, SIGN_PIN: PIN, BAD_PIN: "0000" },
      now: NOW,
    });
  /** `trailseal seal` of s.cast under policy.json with `options`, into `output` in the HSM dir. */
  const seal = (options: string[], output: string) =>
    cli(["seal", "--policy", p("policy.json"), ...options, p("s.cast"), "-o", p(output)]);
  const openssl = (args: string[]) =>
    spawnSync("openssl", args, { cwd: hsm.dir, encoding: "utf8" });

  beforeAll(async () => {
    hsm = makeHsm();
    hsm.use();
    hsm.initToken("signing", PIN, "signing-so");
    for (const [label, id, file] of [
      ["rsa", "01", "signer-rsa"],
      ["ec", "02", "signer-ec"],
      ["tsa", "03", "tsa"],
    ] as const) {
      hsm.importKey("signing", PIN, {
        keyPem: readFileSync(pki(`${file}.key`), "utf8"),
        certPem: readFileSync(pki(`${file}.pem`), "utf8"),
        id,
        label,
      });
    }
    // A key with its public key but no certificate on the token.
    hsm.importKey("signing", PIN, {
      keyPem: readFileSync(pki("tsa.key"), "utf8"),
      id: "04",
      label: "nocert",
    });
    writeFileSync(p("s.cast"), CAST);
    const policy = await cli(
      ["policy", "create", "--name", "signed", "--sign-identity", "signer"].concat([
        "--timestamp",
        "local",
        "-o",
        p("policy.json"),
      ]),
    );
    expect([policy.code, policy.stderr]).toEqual([0, ""]);
  });
  afterAll(() => hsm.remove());

  /** Seals s.cast with the signing key and the TSA key on the token; exports the evidence. */
  async function sealOnToken(name: string, signing: string[]): Promise<void> {
    const r = await seal(
      ["--pin", "env:SIGN_PIN", ...signing, "--tsa-key", key("tsa")],
      `${name}.trail`,
    );
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toBe(
      `sealed ${p("s.cast")} (asciicast) into ${p(`${name}.trail`)}: 7 records, 1 checkpoint; downstream clear, upstream clear; signed, timestamped (local)\n`,
    );
    const e = await cli(["export", p(`${name}.trail`), p(`${name}-ev`)]);
    expect(e.code).toBe(0);
  }

  /** `trailseal verify`'s SIGNATURE and TIMESTAMP lines, with the anchors of the test PKI. */
  async function verdict(name: string, extra: string[] = []): Promise<string[]> {
    const v = await cli(
      [
        "verify",
        p(`${name}.trail`),
        "--ca",
        pki("root-ca.pem"),
        "--tsa-ca",
        pki("root-ca.pem"),
      ].concat(extra),
    );
    expect([v.code, v.stderr]).toEqual([0, ""]);
    return v.stdout.split("\n").filter((l) => /^\s*(SIGNATURE|TIMESTAMP)/.test(l));
  }

  /** `openssl cms -verify` of checkpoint 1 with `anchors` (default the root) as -CAfile. */
  function opensslCms(
    name: string,
    anchors = pki("root-ca.pem"),
  ): { status: number | null; stderr: string } {
    const ev = p(`${name}-ev`);
    const r = openssl(
      ["cms", "-verify", "-binary", "-inform", "DER", "-in", `${ev}/checkpoint-001.p7s`].concat(
        ["-content", `${ev}/checkpoint-001.txt`, "-CAfile", anchors],
        ["-purpose", "any", "-out", "/dev/null"],
      ),
    );
    return { status: r.status, stderr: r.stderr };
  }

  function opensslTs(name: string): string {
    const ev = p(`${name}-ev`);
    const r = openssl(
      ["ts", "-verify", "-token_in", "-in", `${ev}/checkpoint-001.tst`].concat([
        "-data",
        `${ev}/checkpoint-001.sig`,
        "-CAfile",
        pki("root-ca.pem"),
      ]),
    );
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  it("RSA PKCS#1 v1.5 on the token (certificate chain from a file), TSA key on the token: verify valid; openssl cms and ts verify", async () => {
    await sealOnToken("rsa", [
      "--sign-key",
      key("rsa"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
    ]);
    expect(await verdict("rsa")).toEqual([
      `  SIGNATURE   valid: ${SIGNERS.rsa}, 1 checkpoint signed`,
      STAMPED,
    ]);
    expect(opensslCms("rsa")).toEqual({ status: 0, stderr: "CMS Verification successful\n" });
    expect(opensslTs("rsa")).toBe("Verification: OK");
  });

  it("RSASSA-PSS on the token (--sign-pss): an rsassaPss signature that verify and openssl accept", async () => {
    await sealOnToken("pss", [
      "--sign-key",
      key("rsa"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
      "--sign-pss",
    ]);
    expect(await verdict("pss")).toEqual([
      `  SIGNATURE   valid: ${SIGNERS.rsa}, 1 checkpoint signed`,
      STAMPED,
    ]);
    const print = openssl([
      "cms",
      "-cmsout",
      "-print",
      "-inform",
      "DER",
      "-in",
      p("pss-ev/checkpoint-001.p7s"),
    ]).stdout;
    expect(print).toContain("algorithm: rsassaPss (1.2.840.113549.1.1.10)");
    expect(opensslCms("pss")).toEqual({ status: 0, stderr: "CMS Verification successful\n" });
    expect(opensslTs("pss")).toBe("Verification: OK");
  });

  it("ECDSA P-256 on the token with the token's own certificate: verify with the intermediate as --untrusted; openssl with the intermediate beside the root", async () => {
    await sealOnToken("ec", ["--sign-key", key("ec")]);
    // The token holds the leaf alone: the intermediate comes from elsewhere, never trusted.
    expect(await verdict("ec", ["--untrusted", pki("intermediate-ca.pem")])).toEqual([
      `  SIGNATURE   valid: ${SIGNERS.ec}, 1 checkpoint signed`,
      STAMPED,
    ]);
    const print = openssl([
      "cms",
      "-cmsout",
      "-print",
      "-inform",
      "DER",
      "-in",
      p("ec-ev/checkpoint-001.p7s"),
    ]).stdout;
    expect(print).toContain("algorithm: ecdsa-with-SHA256 (1.2.840.10045.4.3.2)");
    // openssl cms -verify (3.0) takes no untrusted certificates: the intermediate goes beside the root.
    const anchors = p("root-and-intermediate.pem");
    writeFileSync(
      anchors,
      readFileSync(pki("root-ca.pem"), "utf8") + readFileSync(pki("intermediate-ca.pem"), "utf8"),
    );
    expect(opensslCms("ec", anchors)).toEqual({
      status: 0,
      stderr: "CMS Verification successful\n",
    });
    expect(opensslTs("ec")).toBe("Verification: OK");
  });

  it("record with the sign and TSA keys on the token: verify valid, and the PIN's variable is not in the recorded command's environment", async () => {
    const r = await runCli(
      ["record", "--policy", p("policy.json"), "--pin", "env:SIGN_PIN", "-q"].concat([
        "--sign-key",
        key("rsa"),
        "--sign-cert",
        pki("signer-rsa-chain.pem"),
        "--tsa-key",
        key("tsa"),
        "-o",
        p("rec.trail"),
        "--",
        "sh",
        "-c",
        'printf "pin=[%s]" "$SIGN_PIN"',
      ]),
      {
        cwd: hsm.dir,
        env: {
          TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
          SIGN_PIN: PIN,
          PATH: process.env["PATH"],
          TERM: "xterm-256color",
        },
        now: NOW,
      },
    );
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "pin=[]", ""]);
    expect(await verdict("rec")).toEqual([
      `  SIGNATURE   valid: ${SIGNERS.rsa}, 1 checkpoint signed`,
      STAMPED,
    ]);
  });

  it("a wrong PIN for --sign-key: exit 2, PKCS11_PIN_INCORRECT naming the key's URI and the token; nothing written", async () => {
    const r = await seal(
      ["--pin", "env:BAD_PIN", "--sign-key", key("rsa"), "--tsa-key", key("tsa")],
      "bad-pin.trail",
    );
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      `trailseal: error: ${key("rsa")}: wrong pin for token "signing"; the token says few tries are left\n`,
    ]);
    expect(spawnSync("test", ["-e", p("bad-pin.trail")]).status).toBe(1);
  });

  it("--tsa-key pkcs11: with --tsa-passin is a usage error", async () => {
    const r = await seal(
      [
        "--pin",
        "env:SIGN_PIN",
        "--sign-key",
        key("rsa"),
        "--sign-cert",
        pki("signer-rsa-chain.pem"),
        "--tsa-key",
        key("tsa"),
        "--tsa-passin",
        "env:SIGN_PIN",
      ],
      "passin.trail",
    );
    expect([r.code, r.stderr]).toEqual([
      2,
      "trailseal: error: --tsa-passin is for a --tsa-key file, not a token key\ntrailseal: hint: give the token's PIN with --pin or pin-source= in the URI\n",
    ]);
  });

  /** An openssl ts query to the server, and openssl's verdict on the reply. */
  async function ask(url: string, n: number): Promise<string> {
    writeFileSync(p(`data-${n}.txt`), `payload ${n}`);
    const q = openssl(
      ["ts", "-query", "-data", `data-${n}.txt`, "-sha256", "-cert"].concat(["-out", `q-${n}.tsq`]),
    );
    expect(q.status, q.stderr).toBe(0);
    writeFileSync(p(`r-${n}.tsr`), await post(url, readFileSync(p(`q-${n}.tsq`))));
    const v = openssl([
      "ts",
      "-verify",
      "-queryfile",
      `q-${n}.tsq`,
      "-in",
      `r-${n}.tsr`,
      "-CAfile",
      pki("root-ca.pem"),
    ]);
    expect(v.status, v.stderr).toBe(0);
    return v.stdout.trim();
  }

  it("tsa serve --key pkcs11: answers openssl ts -query (openssl ts -verify: OK), and logs in again when its session is lost mid-serve", async () => {
    const run = startServe(["--key", key("tsa"), "--pin", "env:SIGN_PIN", "--port", "0"], {
      cwd: hsm.dir,
      env: { TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE, SIGN_PIN: PIN },
    });
    const url = await run.url;
    expect(await ask(url, 1)).toBe("Verification: OK");
    // A second handle on the same module closes every session of the token, which logs it out:
    // what a token reset or a card pulled and put back does to a long-running server.
    const { key: other } = await openTokenKey(key("tsa"), {
      module: SOFTHSM_MODULE,
      pin: PIN,
      env: {},
    });
    (
      other.loadedModule.lib as unknown as { C_CloseAllSessions(s: Buffer): void }
    ).C_CloseAllSessions(other.slot);
    other.close();
    expect(await ask(url, 2)).toBe("Verification: OK");
    expect(await ask(url, 3)).toBe("Verification: OK");
    run.stop("SIGTERM");
    expect(await run.code).toBe(0);
    expect(run.stderr().match(/ POST 200 granted serial=[0-9a-f]+ \d+ms\n/g)).toHaveLength(3);
    expect(run.stderr()).toContain("trailseal: notice: TSA stopped (SIGTERM)\n");
  });

  it("tsa serve --key pkcs11: with --passin is a usage error, and a token key without a certificate asks for --cert", async () => {
    const r = await cli([
      "tsa",
      "serve",
      "--key",
      key("tsa"),
      "--passin",
      "env:SIGN_PIN",
      "--port",
      "0",
    ]);
    expect([r.code, r.stderr]).toEqual([
      2,
      "trailseal: error: --passin is for a --key file, not a token key\ntrailseal: hint: give the token's PIN with --pin or pin-source= in the URI\n",
    ]);
    const bare = await cli([
      "tsa",
      "serve",
      "--key",
      key("nocert"),
      "--pin",
      "env:SIGN_PIN",
      "--port",
      "0",
    ]);
    expect([bare.code, bare.stderr]).toEqual([
      2,
      `trailseal: error: ${key("nocert")} has no certificate with its id on the token; give its certificate as a file\ntrailseal: hint: pass the TSA certificate with --cert FILE\n`,
    ]);
    const sign = await seal(["--pin", "env:SIGN_PIN", "--sign-key", key("nocert")], "nocert.trail");
    expect([sign.code, sign.stderr]).toEqual([
      2,
      `trailseal: error: ${key("nocert")} has no certificate with its id on the token; give its certificate as a file\ntrailseal: hint: pass the signing certificate (and its chain) with --sign-cert FILE\n`,
    ]);
  });

  it("--pin is read once per command however many token keys it opens", async () => {
    // pass: warns each time it is read: one warning for the signing key and the TSA key together.
    const r = await seal(
      ["--pin", `pass:${PIN}`, "--sign-key", key("rsa"), "--tsa-key", key("tsa")],
      "pin-once.trail",
    );
    expect([r.code, r.stderr]).toEqual([
      0,
      "trailseal: warning: --pin pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH\n",
    ]);
  });

  it("a PIN given in the key's URI (pin-value=) never reaches a message", async () => {
    // The ECDSA key with the RSA signer's certificate: the mismatch names the key by its URI.
    const r = await seal(
      ["--sign-key", `${key("ec")}?pin-value=${PIN}`, "--sign-cert", pki("signer-rsa-chain.pem")],
      "pin-in-uri.trail",
    );
    expect([r.code, r.stderr]).toEqual([
      2,
      "trailseal: warning: pin-value in a pkcs11 uri puts the PIN on the command line, where other users can read it in the process list; prefer pin-source=file:PATH\n" +
        `trailseal: error: the private key in ${key("ec")} does not match the certificate "C=XX, O=trailseal test, CN=trailseal test signer RSA" in ${pki("signer-rsa-chain.pem")} (nor any of the other 1 certificate(s) there)\n` +
        "trailseal: hint: give the certificate issued for this key, or the key of this certificate\n",
    ]);
    const bare = await cli([
      "tsa",
      "serve",
      "--key",
      `${key("nocert")}?pin-value=${PIN}`,
      "--port",
      "0",
    ]);
    expect([bare.code, bare.stderr]).toEqual([
      2,
      "trailseal: warning: pin-value in a pkcs11 uri puts the PIN on the command line, where other users can read it in the process list; prefer pin-source=file:PATH\n" +
        `trailseal: error: ${key("nocert")} has no certificate with its id on the token; give its certificate as a file\ntrailseal: hint: pass the TSA certificate with --cert FILE\n`,
    ]);
  });

  /** Runs the CLI from source in a child, logging every module URL it resolves. */
  function traced(argv: string[]): Promise<{ code: number; stderr: string; modules: string[] }> {
    const hooks = p("trace-hooks.mjs");
    writeFileSync(
      hooks,
      `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TRACE_FILE, r.url + "\\n");
  return r;
}
`,
    );
    const hook = p("trace.mjs");
    writeFileSync(
      hook,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const trace = p(`trace-${argv[0]}.txt`);
    writeFileSync(trace, "");
    const bin = join(import.meta.dirname, "..", "src", "cli", "bin.ts");
    return new Promise((done) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "--import", pathToFileURL(hook).href, bin, ...argv],
        {
          // The repository: where tsx is found.
          cwd: join(import.meta.dirname, ".."),
          env: { PATH: process.env.PATH ?? "", SOFTHSM2_CONF: hsm.conf, TRACE_FILE: trace },
        },
        (error, _stdout, stderr) =>
          done({
            code: error === null ? 0 : Number(error.code),
            stderr,
            modules: readFileSync(trace, "utf8").split("\n"),
          }),
      );
    });
  }
  const binding = (modules: string[]) =>
    modules.filter((m) => m.includes("/node_modules/pkcs11js/"));

  it("file keys never load the PKCS#11 binding (seal with --sign-key/--tsa-key files, verify); a pkcs11: key does", async () => {
    const seal = await traced(
      ["seal", "--policy", p("policy.json"), "--sign-cert", pki("signer-rsa-chain.pem")].concat([
        "--sign-key",
        pki("signer-rsa.key"),
        "--tsa-cert",
        pki("tsa.pem"),
        "--tsa-key",
        pki("tsa.key"),
        p("s.cast"),
        "-o",
        p("files.trail"),
      ]),
    );
    expect([seal.code, seal.stderr]).toEqual([0, ""]);
    expect(seal.modules.some((m) => m.endsWith("/src/cli/sealing.ts"))).toBe(true);
    expect(binding(seal.modules)).toEqual([]);
    const verify = await traced([
      "verify",
      p("files.trail"),
      "--ca",
      pki("root-ca.pem"),
      "--tsa-ca",
      pki("root-ca.pem"),
    ]);
    expect([verify.code, verify.stderr]).toEqual([0, ""]);
    expect(binding(verify.modules)).toEqual([]);
    const token = await traced(["keys", "list", "--pkcs11-module", SOFTHSM_MODULE]);
    expect([token.code, token.stderr]).toEqual([0, ""]);
    expect(binding(token.modules).length).toBeGreaterThan(0);
  });
});
