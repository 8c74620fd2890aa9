/**
 * Sealing against a remote RFC 3161 TSA (our own server on 127.0.0.1), through a proxy that
 * can take the TSA down: a TSA outage leaves exactly its checkpoints unstamped and loses nothing.
 */
import { createServer, request, type Server } from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTsaServer, type TsaServer } from "../src/timestamp/server.js";
import { serialSource } from "../src/timestamp/token.js";
import type { Verdict } from "../src/verify.js";
import { runCli } from "./helpers/io.js";
import { TESTDATA } from "./helpers/fixtures.js";
import { tsaFixture } from "./helpers/tsa.js";
import { startHttpsFront } from "./helpers/https-front.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-remote-"));
const p = (n: string) => join(dir, n);
const pki = (n: string) => join(TESTDATA, "pki", n);
const POLICY_OID = "1.3.6.1.4.1.32473.77.1";

// 75 s of session at interval 10: checkpoints at 10, 20, …, 70 and a final one at 75.
const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24 }),
  ...Array.from({ length: 16 }, (_, i) => JSON.stringify([i * 5, "o", `line ${i}\r\n`])),
  JSON.stringify([75, "o", "bye\r\n"]),
  "",
].join("\n");

/** `verify --json TRAIL --tsa-ca root-ca.pem`: its exit code and the trail's verdict. */
async function verdictOf(trail: string): Promise<{ code: number; verdict: Verdict }> {
  const v = await runCli(["verify", "--json", p(trail), "--tsa-ca", pki("root-ca.pem")], {
    cwd: dir,
  });
  return { code: v.code, verdict: (JSON.parse(v.stdout) as Verdict[])[0]! };
}

describe("seal with a remote TSA", () => {
  let tsa: TsaServer;
  let proxy: Server;
  let proxyUrl = "";
  /** Requests the proxy saw, and which of them (1-based) it fails with HTTP 503. */
  let seen = 0;
  let failing = new Set<number>();

  beforeAll(async () => {
    tsa = await startTsaServer({
      tsa: tsaFixture("tsa"),
      policyOid: POLICY_OID,
      host: "127.0.0.1",
      port: 0,
      clock: () => new Date(),
      serial: serialSource((n) => new Uint8Array(randomBytes(n))),
    });
    proxy = createServer((req, res) => {
      seen++;
      if (failing.has(seen)) {
        req.resume();
        res.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance");
        return;
      }
      const up = request(tsa.url, { method: "POST", headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    writeFileSync(p("s.cast"), CAST);
  });

  afterAll(async () => {
    await new Promise((r) => proxy.close(r));
    await tsa.close();
  });

  async function sealAndVerify(
    name: string,
  ): Promise<{ seal: Awaited<ReturnType<typeof runCli>>; verdict: Verdict }> {
    const policy = await runCli(
      [
        "policy",
        "create",
        "--name",
        "remote",
        "--encrypt",
        join(TESTDATA, "certs", "rsa2048-a.crt"),
        "--timestamp",
        proxyUrl,
        "--policy-oid",
        POLICY_OID,
        "--interval",
        "10",
        "-o",
        p(`${name}.json`),
      ],
      { cwd: dir },
    );
    expect(policy.code).toBe(0);
    const seal = await runCli(
      [
        "seal",
        "--policy",
        p(`${name}.json`),
        "--tsa-ca",
        pki("root-ca.pem"),
        "--tsa-timeout",
        "2",
        p("s.cast"),
        "-o",
        p(`${name}.trail`),
      ],
      { cwd: dir },
    );
    expect(seal.code, seal.stderr).toBe(0);
    return { seal, verdict: (await verdictOf(`${name}.trail`)).verdict };
  }

  it("stamps every checkpoint with a checked token carrying the policy OID", async () => {
    seen = 0;
    failing = new Set();
    const { seal, verdict } = await sealAndVerify("ok");
    expect(seal.stderr).toBe("");
    expect(seal.stdout).toMatch(/; not signed, timestamped \(remote\)\n$/);
    expect(verdict.valid).toBe(true);
    expect(verdict.timestamp).toMatchObject({
      state: "valid",
      source: "remote",
      policy: POLICY_OID,
      stamped: 8,
      unstamped: [],
    });
    expect(seen).toBe(8);
  });

  it("a TSA down for checkpoints 3 and 4: exactly those are unstamped, every record is there", async () => {
    seen = 0;
    // Each checkpoint gets two attempts (one retry): requests 3-6 are checkpoints 3 and 4.
    failing = new Set([3, 4, 5, 6]);
    const { seal, verdict } = await sealAndVerify("outage");
    expect(seal.stdout).toMatch(
      /; not signed, timestamped \(remote\), but 2 of 8 checkpoints unstamped\n$/,
    );
    const warnings = seal.stderr.trim().split("\n");
    expect(warnings).toHaveLength(2);
    expect(warnings).toEqual(
      [3, 4].map(
        (n) =>
          `trailseal: warning: checkpoint ${n} is unstamped: TSA ${proxyUrl} answered HTTP 503; nothing is lost, and stamping is tried again at the next checkpoint`,
      ),
    );
    expect(verdict.integrity).toMatchObject({ state: "complete", checkpoints: 8 });
    expect(verdict.timestamp.state).toBe("partial");
    expect(verdict.timestamp.unstamped.map((u) => [u.index, u.timeUs])).toEqual([
      [3, 30_000_000],
      [4, 40_000_000],
    ]);
    expect(verdict.checkpoints.map((c) => c.timestamp?.state)).toEqual([
      "valid",
      "valid",
      "unstamped",
      "unstamped",
      "valid",
      "valid",
      "valid",
      "valid",
    ]);
    expect(verdict.valid).toBe(false);
    expect(verdict.failed).toEqual(["timestamp"]);
    // Every record survived: the same 17 output events replay.
    const replay = await runCli(
      [
        "replay",
        p("outage.trail"),
        "--key",
        join(TESTDATA, "certs", "rsa2048-a.key"),
        "--format",
        "raw",
      ],
      { cwd: dir },
    );
    expect(replay.stdout).toBe(
      [...Array.from({ length: 16 }, (_, i) => `line ${i}\r\n`), "bye\r\n"].join(""),
    );
    // Not requiring timestamps, the trail is valid.
    const lenient = await runCli(["verify", p("outage.trail"), "--require", "complete"], {
      cwd: dir,
    });
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain("unstamped: checkpoint 3 at 30s (");
  });

  it("warns about options of the other timestamp source instead of dropping them silently", async () => {
    await runCli(
      ["policy", "create", "--name", "local-ts", "--timestamp", "local", "-o", p("local.json")],
      { cwd: dir },
    );
    const local = await runCli(
      [
        "seal",
        "--policy",
        p("local.json"),
        "--tsa-cert",
        pki("tsa.pem"),
        "--tsa-key",
        pki("tsa.key"),
        "--tsa-url",
        proxyUrl,
        p("s.cast"),
        "-o",
        p("local.trail"),
      ],
      { cwd: dir },
    );
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toBe(
      "trailseal: warning: policy local-ts uses the local TSA; --tsa-url ignored\n",
    );
    await runCli(
      [
        "policy",
        "create",
        "--name",
        "remote-ts",
        "--timestamp",
        proxyUrl,
        "--interval",
        "100",
        "-o",
        p("remote.json"),
      ],
      { cwd: dir },
    );
    seen = 0;
    failing = new Set();
    const remote = await runCli(
      [
        "seal",
        "--policy",
        p("remote.json"),
        "--tsa-cert",
        pki("tsa.pem"),
        "--tsa-key",
        pki("tsa.key"),
        p("s.cast"),
        "-o",
        p("remote.trail"),
      ],
      { cwd: dir },
    );
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr).toBe(
      "trailseal: warning: policy remote-ts uses a remote TSA; --tsa-cert, --tsa-key ignored\n",
    );
  });

  it("reaches an https:// TSA behind a private TLS CA with --tsa-tls-ca; without it, the checkpoints stay unstamped", async () => {
    seen = 0;
    failing = new Set();
    const front = await startHttpsFront(dir, proxyUrl);
    try {
      await runCli(
        [
          "policy",
          "create",
          "--name",
          "https-ts",
          "--timestamp",
          front.url,
          "--interval",
          "30",
          "-o",
          p("https.json"),
        ],
        { cwd: dir },
      );
      const seal = (out: string, extra: string[]) =>
        runCli(
          [
            "seal",
            "--policy",
            p("https.json"),
            "--tsa-ca",
            pki("root-ca.pem"),
            ...extra,
            p("s.cast"),
            "-o",
            p(out),
          ],
          { cwd: dir },
        );
      const trusted = await seal("https.trail", ["--tsa-tls-ca", front.tlsCert]);
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(trusted.stderr).toBe("");
      const v = await verdictOf("https.trail");
      expect(v.code).toBe(0);
      expect(v.verdict.timestamp).toMatchObject({
        state: "valid",
        source: "remote",
        stamped: 3,
        unstamped: [],
      });
      // The system store alone does not trust the front: the seal goes on, every checkpoint unstamped.
      const untrusted = await seal("https-untrusted.trail", ["--tsa-timeout", "2"]);
      expect(untrusted.code, untrusted.stderr).toBe(0);
      const lines = untrusted.stderr.trim().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(
        /^trailseal: warning: checkpoint 1 is unstamped: TSA https:\/\/127\.0\.0\.1:\d+\/ is unreachable: self.signed certificate/,
      );
    } finally {
      await front.close();
    }
  });

  it("opens an encrypted --tsa-key with --tsa-passin, apart from the signing key's --passin", async () => {
    // The TSA key under its own passphrase; the signing key (signer-rsa.enc.key) under "trailseal".
    execFileSync(
      "openssl",
      [
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        pki("tsa.key"),
        "-out",
        p("tsa.enc.key"),
        "-passout",
        "pass:tsa-only",
      ],
      { stdio: "pipe" },
    );
    await runCli(
      [
        "policy",
        "create",
        "--name",
        "two-keys",
        "--sign-identity",
        "signer",
        "--timestamp",
        "local",
        "--interval",
        "30",
        "-o",
        p("two-keys.json"),
      ],
      { cwd: dir },
    );
    const args = [
      "seal",
      "--policy",
      p("two-keys.json"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
      "--sign-key",
      pki("signer-rsa.enc.key"),
      "--passin",
      "env:SIGN_PASS",
      "--tsa-cert",
      pki("tsa.pem"),
      "--tsa-key",
      p("tsa.enc.key"),
      p("s.cast"),
      "-o",
    ];
    const env = { SIGN_PASS: "trailseal", TSA_PASS: "tsa-only" };
    const both = await runCli([...args, p("two-keys.trail"), "--tsa-passin", "env:TSA_PASS"], {
      cwd: dir,
      env,
    });
    expect(both.code, both.stderr).toBe(0);
    const v = await runCli(
      [
        "verify",
        p("two-keys.trail"),
        "--ca",
        pki("root-ca.pem"),
        "--tsa-ca",
        pki("root-ca.pem"),
        "--require",
        "signature,timestamp,complete",
      ],
      { cwd: dir },
    );
    expect(v.code, v.stdout).toBe(0);
    // Without --tsa-passin the TSA key is tried with --passin, and the error names the file.
    const one = await runCli([...args, p("one-pass.trail")], { cwd: dir, env });
    expect(one.code).toBe(2);
    expect(one.stderr).toBe(
      `trailseal: error: wrong passphrase for the private key in ${p("tsa.enc.key")}\n` +
        "trailseal: hint: give the TSA key's passphrase with --tsa-passin (--passin is tried when it is absent)\n",
    );
    const wrong = await runCli([...args, p("wrong-pass.trail"), "--tsa-passin", "env:SIGN_PASS"], {
      cwd: dir,
      env,
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(
      `trailseal: error: wrong passphrase for the private key in ${p("tsa.enc.key")}\n` +
        "trailseal: hint: check the passphrase given with --tsa-passin\n",
    );
    // --tsa-passin without --tsa-key (the authority's keys are not encrypted) is a usage error.
    const stray = await runCli(
      [
        "seal",
        "--policy",
        p("two-keys.json"),
        "--sign-cert",
        pki("signer-rsa-chain.pem"),
        "--sign-key",
        pki("signer-rsa.key"),
        "--home",
        p("no-authority"),
        "--tsa-passin",
        "env:TSA_PASS",
        p("s.cast"),
        "-o",
        p("stray.trail"),
      ],
      { cwd: dir, env },
    );
    expect(stray.code).toBe(2);
    expect(stray.stderr).toBe(
      "trailseal: error: --tsa-passin goes with --tsa-key\n" +
        "trailseal: hint: the local authority's keys are not encrypted; --tsa-passin is for a --tsa-key file\n",
    );
  });

  it("seals against openssl ts -reply behind HTTP; verify accepts its tokens (ESS v1, policy asked)", async () => {
    // The reference TSA: one `openssl ts -reply` per request, with its default ESS signingCertificate.
    writeFileSync(
      p("ossl.cnf"),
      [
        "[ tsa ]",
        "default_tsa = tsa_config",
        "[ tsa_config ]",
        `serial = ${p("ossl.serial")}`,
        `signer_cert = ${pki("tsa.pem")}`,
        `signer_key = ${pki("tsa.key")}`,
        "signer_digest = sha256",
        "default_policy = 1.2.3.4.1",
        `other_policies = ${POLICY_OID}`,
        "digests = sha256",
        "accuracy = secs:1",
        "tsa_name = yes",
        "",
      ].join("\n"),
    );
    writeFileSync(p("ossl.serial"), "01\n");
    let n = 0;
    const ossl = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const q = p(`ossl-${++n}.tsq`);
        writeFileSync(q, Buffer.concat(chunks));
        const out = p(`ossl-${n}.tsr`);
        execFileSync(
          "openssl",
          ["ts", "-reply", "-config", p("ossl.cnf"), "-queryfile", q, "-out", out],
          { stdio: "ignore" },
        );
        res
          .writeHead(200, { "content-type": "application/timestamp-reply" })
          .end(readFileSync(out));
      });
    });
    await new Promise<void>((r) => ossl.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(ossl.address() as AddressInfo).port}/tsr`;
      await runCli(
        [
          "policy",
          "create",
          "--name",
          "ossl",
          "--timestamp",
          url,
          "--policy-oid",
          POLICY_OID,
          "--interval",
          "30",
          "-o",
          p("ossl.json"),
        ],
        { cwd: dir },
      );
      const seal = await runCli(
        [
          "seal",
          "--policy",
          p("ossl.json"),
          "--tsa-ca",
          pki("root-ca.pem"),
          p("s.cast"),
          "-o",
          p("ossl.trail"),
        ],
        { cwd: dir },
      );
      expect(seal.code, seal.stderr).toBe(0);
      expect(seal.stderr).toBe("");
      const { code, verdict } = await verdictOf("ossl.trail");
      expect(code).toBe(0);
      expect(verdict.timestamp).toMatchObject({
        state: "valid",
        source: "remote",
        policy: POLICY_OID,
        stamped: 3,
        unstamped: [],
        tsaName: "C=XX, O=trailseal test, CN=trailseal test TSA",
      });
      expect(n).toBe(3);
    } finally {
      await new Promise((r) => ossl.close(r));
    }
  });

  it("a TSA that never answers costs one deadline, not one per checkpoint; every record is there", async () => {
    const silent = createNetServer((socket) => socket.resume()); // reads, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      await runCli(
        [
          "policy",
          "create",
          "--name",
          "silent",
          "--timestamp",
          url,
          "--interval",
          "10",
          "-o",
          p("silent.json"),
        ],
        { cwd: dir },
      );
      const started = Date.now();
      const seal = await runCli(
        [
          "seal",
          "--policy",
          p("silent.json"),
          "--tsa-timeout",
          "1",
          p("s.cast"),
          "-o",
          p("silent.trail"),
        ],
        { cwd: dir },
      );
      // One deadline with its retry (about 2.3 s); it was 8 of them (18 s) before.
      expect(Date.now() - started).toBeLessThan(8000);
      expect(seal.code, seal.stderr).toBe(0);
      const warnings = seal.stderr.trim().split("\n");
      expect(warnings).toHaveLength(8);
      expect(warnings[0]).toMatch(/checkpoint 1 is unstamped: .*did not answer within 1000 ms/);
      expect(warnings[1]).toMatch(
        /checkpoint 2 is unstamped: .*timed out a moment ago; not asked again for \d+ s/,
      );
      const v = await runCli(["verify", "--json", p("silent.trail"), "--require", "complete"], {
        cwd: dir,
      });
      expect(v.code).toBe(0);
      const verdict = (JSON.parse(v.stdout) as Verdict[])[0]!;
      expect(verdict.integrity).toMatchObject({ state: "complete", checkpoints: 8 });
      expect(verdict.timestamp.unstamped.map((u) => u.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const strict = await runCli(["verify", p("silent.trail"), "--require", "timestamp"], {
        cwd: dir,
      });
      expect(strict.code).toBe(1);
      expect(strict.stderr).toBe("");
      const lines = strict.stdout.split("\n");
      expect(lines[0]).toBe(`${p("silent.trail")}: INVALID (failed: timestamp)`);
      expect(lines).toContain("  TIMESTAMP   not timestamped: no checkpoint carries a timestamp");
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });

  it("a fallback URL takes over when the first TSA is down", async () => {
    seen = 0;
    failing = new Set();
    await runCli(
      [
        "policy",
        "create",
        "--name",
        "fallback",
        "--timestamp",
        "http://127.0.0.1:9/",
        "--interval",
        "10",
        "-o",
        p("fb.json"),
      ],
      { cwd: dir },
    );
    const seal = await runCli(
      [
        "seal",
        "--policy",
        p("fb.json"),
        "--tsa-url",
        proxyUrl,
        "--tsa-ca",
        pki("root-ca.pem"),
        "--tsa-timeout",
        "2",
        p("s.cast"),
        "-o",
        p("fb.trail"),
      ],
      { cwd: dir },
    );
    expect(seal.code, seal.stderr).toBe(0);
    expect(seal.stderr).toBe("");
    expect((await verdictOf("fb.trail")).verdict.timestamp).toMatchObject({
      state: "valid",
      stamped: 8,
    });
  });
});
