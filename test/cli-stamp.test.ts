import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTsaServer, type TsaServer } from "../src/timestamp/server.js";
import { runCli } from "./helpers/io.js";
import { pkiPath, sha256, tsaFixture, untrustedCopy, opensslIn } from "./helpers/tsa.js";
import { startHttpsFront } from "./helpers/https-front.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-clistamp-"));
const home = join(dir, "authority");
let server: TsaServer;

/** A 4 KiB tmpfs at `full` (one page, filled up at once), when this machine will mount one. */
const full = join(dir, "full");
mkdirSync(full);
const FULL_DISK = (() => {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4k,mode=0700", "tmpfs", full], {
      stdio: "pipe",
    });
  } catch {
    return false;
  }
  writeFileSync(join(full, "filler"), new Uint8Array(4096));
  return true;
})();

afterAll(async () => {
  await server.close();
  if (FULL_DISK) execFileSync("umount", [full]);
  rmSync(dir, { recursive: true, force: true });
});

const openssl = opensslIn(dir);

beforeAll(async () => {
  const r = await runCli(["init", "--home", home, "--key-type", "ec"]);
  expect(r.code).toBe(0);
  writeFileSync(join(dir, "report.txt"), "quarterly access report\n");
  writeFileSync(join(dir, "other.txt"), "something else\n");
  let serial = 100n;
  server = await startTsaServer({
    tsa: tsaFixture("tsa"),
    policyOid: "1.2.3.4.1",
    port: 0,
    clock: () => new Date(),
    serial: () => ++serial,
  });
}, 30_000);

describe("trailseal init", () => {
  it("reports what it created and refuses to run twice without --force", async () => {
    const again = await runCli(["init", "--home", home, "--key-type", "ec"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(
      `trailseal: error: a local authority already exists in ${home} (6 of its files are there)\n` +
        "trailseal: hint: use --force to replace it (tokens and signatures made with the old one will no longer chain to the new CA)\n",
    );
    const other = await runCli(["init", "--key-type", "ec", "--json"], {
      env: { TRAILSEAL_HOME: join(dir, "env-home") },
    });
    expect(other.code).toBe(0);
    const json = JSON.parse(other.stdout) as { home: string; fingerprints: Record<string, string> };
    expect(json.home).toBe(join(dir, "env-home"));
    expect(json.fingerprints.tsa).toMatch(/^[0-9a-f]{64}$/);
    expect((await runCli(["init", "--home", join(dir, "x"), "--key-type", "dsa"])).stderr).toBe(
      "trailseal: error: --key-type must be rsa or ec, not dsa\n",
    );
  });
});

describe("trailseal stamp", () => {
  it("stamps with the local TSA; openssl ts -verify -data accepts the .tsr; --verify says valid", async () => {
    const r = await runCli(
      ["stamp", "report.txt", "--tsa", "local", "--home", home, "-o", "report.tsr"],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^stamped report\.txt \(sha256 [0-9a-f]{64}\) at \S+ by CN=trailseal local TSA, O=trailseal local authority \(local, serial [0-9a-f]+, policy 1\.3\.6\.1\.4\.1\.32473\.3161\.1\); wrote report\.tsr\n$/,
    );
    const out = openssl([
      "ts",
      "-verify",
      "-in",
      "report.tsr",
      "-data",
      "report.txt",
      "-CAfile",
      join(home, "ca.crt"),
    ]);
    expect(out.trim()).toBe("Verification: OK");

    const v = await runCli(
      ["stamp", "--verify", "report.tsr", "--data", "report.txt", "--tsa-ca", join(home, "ca.crt")],
      { cwd: dir },
    );
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      /^TIMESTAMP valid: report\.txt existed at \S+\n {2}TSA {7}CN=trailseal local TSA/,
    );

    const j = await runCli(
      ["stamp", "--verify", "report.tsr", "--data", "report.txt", "--home", home, "--json"],
      { cwd: dir },
    );
    expect(j.code).toBe(0);
    expect(j.stderr).toBe(
      `trailseal: notice: no --tsa-ca given: trusting the local authority's CA (${join(home, "ca.crt")})\n`,
    );
    const facts = JSON.parse(j.stdout) as Record<string, unknown>;
    expect(facts).toMatchObject({
      valid: true,
      imprintAlgorithm: "SHA-256",
      policy: "1.3.6.1.4.1.32473.3161.1",
      accuracy: { seconds: 1, millis: 0, micros: 0 },
    });
  });

  it("fails --verify with exit 1 for other data (TIMESTAMP_INVALID) and a foreign anchor (CHAIN_UNTRUSTED)", async () => {
    await runCli(["stamp", "report.txt", "--tsa", "local", "--home", home, "-o", "report2.tsr"], {
      cwd: dir,
    });
    const wrong = await runCli(
      [
        "stamp",
        "--verify",
        "report2.tsr",
        "--data",
        "other.txt",
        "--tsa-ca",
        join(home, "ca.crt"),
        "--json",
      ],
      { cwd: dir },
    );
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ valid: false, code: "TIMESTAMP_INVALID" });
    const hex = (f: string) => Buffer.from(sha256(readFileSync(join(dir, f)))).toString("hex");
    expect(wrong.stderr).toBe(
      `trailseal: error: report2.tsr: token imprint ${hex("report.txt")} does not match the data (${hex("other.txt")})\n`,
    );
    const foreign = await runCli(
      [
        "stamp",
        "--verify",
        "report2.tsr",
        "--data",
        "report.txt",
        "--tsa-ca",
        pkiPath("foreign-root-ca.pem"),
      ],
      { cwd: dir },
    );
    expect(foreign.code).toBe(1);
    // The local authority's keys are made per run, so its fingerprint is open, as is the time.
    expect(foreign.stderr).toMatch(
      new RegExp(
        String.raw`^trailseal: error: report2\.tsr: certificate "CN=trailseal local TSA, O=trailseal local authority" \(sha256:[0-9a-f]{64}\) is not trusted at \S+Z: ` +
          String.raw`no path to a trust anchor: "CN=trailseal local CA, O=trailseal local authority" is a root that is not a trust anchor\n` +
          String.raw`trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n$`,
      ),
    );
    // Neither a TimeStampResp nor a token: the error names the file.
    writeFileSync(join(dir, "garbage.tsr"), Buffer.from("3003010203ff", "hex"));
    const garbage = await runCli(
      [
        "stamp",
        "--verify",
        "garbage.tsr",
        "--data",
        "report.txt",
        "--tsa-ca",
        join(home, "ca.crt"),
      ],
      { cwd: dir },
    );
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toBe(
      "trailseal: error: garbage.tsr: time-stamp token is malformed: 1 byte of trailing data after the DER element\n",
    );
    const untrusted = await runCli(
      [
        "stamp",
        "--verify",
        "report2.tsr",
        "--data",
        "report.txt",
        "--tsa-ca",
        pkiPath("foreign-root-ca.pem"),
        "--json",
      ],
      { cwd: dir },
    );
    expect(JSON.parse(untrusted.stdout)).toMatchObject({ valid: false, code: "CHAIN_UNTRUSTED" });
  });

  it("stamps through a remote TSA URL with a policy, checked against --tsa-ca", async () => {
    const r = await runCli(
      [
        "stamp",
        "report.txt",
        "--tsa",
        server.url,
        "--policy-oid",
        "1.2.3.4.1",
        "--tsa-ca",
        pkiPath("root-ca.pem"),
        "-o",
        "remote.tsr",
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("(remote, serial ");
    const out = openssl([
      "ts",
      "-verify",
      "-in",
      "remote.tsr",
      "-data",
      "report.txt",
      "-CAfile",
      pkiPath("root-ca.pem"),
    ]);
    expect(out.trim()).toBe("Verification: OK");
    const v = await runCli(
      [
        "stamp",
        "--verify",
        "remote.tsr",
        "--data",
        "report.txt",
        "--tsa-ca",
        pkiPath("root-ca.pem"),
        "--policy-oid",
        "1.2.3.4.1",
      ],
      { cwd: dir },
    );
    expect(v.code).toBe(0);
  });

  it("stamps through an https:// TSA behind a private TLS CA with --tsa-tls-ca, and names the TLS failure without it", async () => {
    const front = await startHttpsFront(dir, server.url);
    try {
      const args = ["stamp", "report.txt", "--tsa", front.url, "--tsa-ca", pkiPath("root-ca.pem")];
      const r = await runCli([...args, "--tsa-tls-ca", front.tlsCert, "-o", "tls.tsr"], {
        cwd: dir,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain("(remote, serial ");
      expect(
        openssl([
          "ts",
          "-verify",
          "-in",
          "tls.tsr",
          "-data",
          "report.txt",
          "-CAfile",
          pkiPath("root-ca.pem"),
        ]).trim(),
      ).toBe("Verification: OK");
      // The system store does not know the private TLS CA: refused, and nothing written.
      const refused = await runCli([...args, "--timeout", "2", "-o", "untrusted.tsr"], {
        cwd: dir,
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^trailseal: error: TSA ${front.url.replace(/\./g, "\\.")} is unreachable: self.signed certificate`,
        ),
      );
      expect(existsSync(join(dir, "untrusted.tsr"))).toBe(false);
      // A TLS CA for plain http:// URLs does nothing: said, not silently dropped.
      const plain = await runCli(
        [
          "stamp",
          "report.txt",
          "--tsa",
          server.url,
          "--tsa-ca",
          pkiPath("root-ca.pem"),
          "--tsa-tls-ca",
          front.tlsCert,
          "-o",
          "plain.tsr",
        ],
        { cwd: dir },
      );
      expect(plain.code).toBe(0);
      expect(plain.stderr).toBe(
        "trailseal: warning: --tsa-tls-ca applies to https:// TSA URLs only; none is used here\n",
      );
    } finally {
      await front.close();
    }
  });

  it("verifies a bare token made by openssl ts -reply (SHA-512 imprint)", async () => {
    writeFileSync(
      join(dir, "tsa.cnf"),
      `[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ${join(dir, "serial")}\nsigner_cert = ${pkiPath("tsa.pem")}\nsigner_key = ${pkiPath("tsa.key")}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256, sha512\ness_cert_id_alg = sha256\n`,
    );
    writeFileSync(join(dir, "serial"), "01\n");
    openssl(["ts", "-query", "-data", "report.txt", "-sha512", "-cert", "-out", "o.tsq"]);
    openssl([
      "ts",
      "-reply",
      "-config",
      "tsa.cnf",
      "-queryfile",
      "o.tsq",
      "-token_out",
      "-out",
      "o.tok",
    ]);
    const v = await runCli(
      [
        "stamp",
        "--verify",
        "o.tok",
        "--data",
        "report.txt",
        "--tsa-ca",
        pkiPath("root-ca.pem"),
        "--json",
      ],
      { cwd: dir },
    );
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({
      valid: true,
      imprintAlgorithm: "SHA-512",
      policy: "1.2.3.4.1",
    });
  });

  it("reports a TSA that is down with exit 2 (TSA_UNAVAILABLE) and writes nothing", async () => {
    const r = await runCli(
      ["stamp", "report.txt", "--tsa", "http://127.0.0.1:9/", "--timeout", "2", "-o", "down.tsr"],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^trailseal: error: TSA http:\/\/127\.0\.0\.1:9\/ is unreachable/);
    expect(existsSync(join(dir, "down.tsr"))).toBe(false);
  });

  it.skipIf(!FULL_DISK)(
    "a .tsr that cannot be written (a full tmpfs) names the file, exit 2, and leaves no file behind, not even an empty or partial one",
    async () => {
      const r = await runCli(
        ["stamp", "report.txt", "--tsa", "local", "--home", home, "-o", "full/r.tsr"],
        { cwd: dir },
      );
      expect([r.code, r.stdout, r.stderr]).toEqual([
        2,
        "",
        "trailseal: error: cannot write full/r.tsr: no space left on device\n",
      ]);
      expect(readdirSync(full)).toEqual(["filler"]);
    },
  );

  it("refuses usage errors with exit 2", async () => {
    const cases: [string[], string][] = [
      [
        [
          "stamp",
          "report.txt",
          "--tsa",
          "local",
          "--home",
          home,
          "--policy-oid",
          "1.2.3",
          "-o",
          "x.tsr",
        ],
        "--policy-oid applies to a remote TSA; the local TSA stamps under its own policy",
      ],
      [
        ["stamp", "report.txt", "--tsa", "local", "--home", home],
        "give -o FILE.tsr (or -o - for stdout)",
      ],
      [["stamp", "report.txt", "-o", "x.tsr"], "give --tsa local or --tsa URL"],
      [
        ["stamp", "report.txt", "--tsa", "local", "--digest", "00", "-o", "x.tsr"],
        "--data, --digest and --json go with --verify",
      ],
      [
        ["stamp", "report.txt", "--tsa", "local", "--tsa-tls-ca", "ca.pem", "-o", "x.tsr"],
        "--tsa-tls-ca applies to a remote https:// TSA, not --tsa local",
      ],
      [
        ["stamp", "--verify", "report.tsr", "--data", "report.txt", "--tsa-tls-ca", "ca.pem"],
        "-o, --tsa and --tsa-tls-ca go with stamping, not with --verify",
      ],
      [
        ["stamp", "report.txt", "--tsa", "ftp://x/", "-o", "x.tsr"],
        "TSA URL 'ftp://x/' must be http:// or https://",
      ],
      [
        ["stamp", "--verify", "report.tsr", "--tsa-ca", join(home, "ca.crt")],
        "--verify needs --data FILE (the data that was stamped) or --digest HEX (its digest)",
      ],
      [
        ["stamp", "nope.txt", "--tsa", "local", "--home", home, "-o", "x.tsr"],
        "no such file: nope.txt",
      ],
      [
        ["stamp", "--verify", "report.tsr", "--digest", "abc", "--tsa-ca", join(home, "ca.crt")],
        "--digest must be an even number of hex digits, not abc",
      ],
      [
        ["stamp", "--verify", "report.tsr", "--digest", "0g", "--tsa-ca", join(home, "ca.crt")],
        "--digest must be an even number of hex digits, not 0g",
      ],
      [
        [
          ...["stamp", "--verify", "report.tsr", "--data", "report.txt", "--digest", "00"],
          ...["--tsa-ca", join(home, "ca.crt")],
        ],
        "give --data FILE or --digest HEX, not both",
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(argv, { cwd: dir });
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr).toBe(`trailseal: error: ${message}\n`);
    }
  });
});

/**
 * A front for the TSA that drops the request's certReq (RFC 3161 §2.4.1: the TSA then leaves
 * its certificate out), as a TSA does that never sends it.
 */
async function startNoCertReqFront(
  upstream: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const front = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const query = Buffer.concat(parts);
      // TimeStampReq SEQUENCE (short length) ending in certReq BOOLEAN TRUE (01 01 ff).
      expect([query[0], query[1], query.subarray(-3).toString("hex")]).toEqual([
        0x30,
        query.length - 2,
        "0101ff",
      ]);
      const stripped = Buffer.concat([
        Buffer.from([0x30, query.length - 5]),
        query.subarray(2, -3),
      ]);
      void fetch(upstream, {
        method: "POST",
        headers: { "content-type": "application/timestamp-query" },
        body: stripped,
      }).then(async (r) => {
        res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "" });
        res.end(Buffer.from(await r.arrayBuffer()));
      });
    });
  });
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(front.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => front.close(() => r())),
  };
}

describe("stamp's refusals hint at options stamp has (issue 15 item 11)", () => {
  const TSA_SUBJECT = "C=XX, O=trailseal test, CN=trailseal test TSA";
  const tsaFingerprint = () =>
    Buffer.from(
      sha256(new Uint8Array(new X509Certificate(readFileSync(pkiPath("tsa.pem"))).raw)),
    ).toString("hex");

  it("a remote TSA whose chain does not reach --tsa-ca: the hint names --tsa-ca, and nothing is written", async () => {
    const r = await runCli(
      [
        "stamp",
        "report.txt",
        "--tsa",
        server.url,
        "--tsa-ca",
        pkiPath("foreign-root-ca.pem"),
        "-o",
        "foreign.tsr",
      ],
      { cwd: dir },
    );
    const at = /is not trusted at (\S+): /.exec(r.stderr)?.[1];
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      "",
      `trailseal: error: token from TSA ${server.url}: certificate "${TSA_SUBJECT}" (sha256:${tsaFingerprint()}) is not trusted at ${at}: ` +
        `no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test root CA" of "${TSA_SUBJECT}" is neither a trust anchor nor among the 0 included certificate(s)\n` +
        "trailseal: hint: pass the CA that issued the TSA's certificate with --tsa-ca FILE\n",
    ]);
    expect(existsSync(join(dir, "foreign.tsr"))).toBe(false);
  });

  it("a remote TSA that leaves its certificate out: the hint names --untrusted, which stamping takes", async () => {
    const front = await startNoCertReqFront(server.url);
    try {
      const args = ["stamp", "report.txt", "--tsa", front.url, "--tsa-ca", pkiPath("root-ca.pem")];
      const bare = await runCli([...args, "-o", "bare.tsr"], { cwd: dir });
      expect([bare.code, bare.stdout, bare.stderr]).toEqual([
        1,
        "",
        `trailseal: error: token from TSA ${front.url}: the signer's certificate is not included in the signature, nor given\n` +
          "trailseal: hint: pass the signer's certificate (or the missing intermediate) with --untrusted FILE\n",
      ]);
      expect(existsSync(join(dir, "bare.tsr"))).toBe(false);

      const ok = await runCli([...args, "--untrusted", pkiPath("tsa.pem"), "-o", "bare.tsr"], {
        cwd: dir,
      });
      expect([ok.code, ok.stderr]).toEqual([0, ""]);
      expect(ok.stdout).toMatch(
        new RegExp(
          String.raw`^stamped report\.txt \(sha256 [0-9a-f]{64}\) at \S+Z by ${TSA_SUBJECT} \(remote, serial [0-9a-f]+, policy 1\.2\.3\.4\.1\); wrote bare\.tsr\n$`,
        ),
      );
      // The token has no certificate: openssl too needs the TSA's as -untrusted.
      const verify = [
        "ts",
        "-verify",
        "-in",
        "bare.tsr",
        "-data",
        "report.txt",
        "-CAfile",
        pkiPath("root-ca.pem"),
      ];
      // Without the TSA's certificate openssl cannot find the signer either: it fails, not errs.
      const refused = spawnSync("openssl", verify, { cwd: dir, encoding: "utf8" });
      expect([refused.status, refused.stdout.trim()]).toEqual([1, "Verification: FAILED"]);
      expect(refused.stderr).toMatch(/signer certificate not found/);
      expect(
        openssl([...verify, "-untrusted", untrustedCopy(dir, pkiPath("tsa.pem"))]).trim(),
      ).toBe("Verification: OK");
    } finally {
      await front.close();
    }
  });

  it("--untrusted with --tsa local is refused: the local TSA's tokens carry its chain", async () => {
    const r = await runCli(
      [
        "stamp",
        "report.txt",
        "--tsa",
        "local",
        "--home",
        home,
        "--untrusted",
        pkiPath("tsa.pem"),
        "-o",
        "x.tsr",
      ],
      { cwd: dir },
    );
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      "trailseal: error: --untrusted applies to --verify and a remote TSA; the local TSA's tokens carry its chain\n",
    ]);
  });
});
