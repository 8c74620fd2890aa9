import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseResponse } from "../src/timestamp/client.js";
import { runCli } from "./helpers/io.js";
import { post, startServe } from "./helpers/tsa-serve.js";
import { pkiPath, untrustedCopy, opensslIn } from "./helpers/tsa.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-clitsa-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openssl = opensslIn(dir);

/** openssl runs in `dir`; see untrustedCopy for why -untrusted gets a copy there. */
const untrusted = (path: string): string => untrustedCopy(dir, path);

describe("trailseal tsa serve", () => {
  for (const [name, cert, key] of [
    ["RSA", pkiPath("tsa.pem"), pkiPath("tsa.key")],
    ["ECDSA", pkiPath("tsa-ec.pem"), pkiPath("tsa-ec.key")],
  ] as const) {
    it(`${name}: serves openssl ts -query; openssl ts -verify says OK; logs and stops cleanly`, async () => {
      const run = startServe(
        ["--cert", cert, "--key", key, "--port", "0", "--policy", "1.2.3.4.7"],
        { cwd: dir },
      );
      const url = await run.url;
      writeFileSync(join(dir, "data.txt"), "payload");
      openssl(["ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "q.tsq"]);
      const reply = await post(url, readFileSync(join(dir, "q.tsq")));
      writeFileSync(join(dir, "r.tsr"), reply);
      const out = openssl([
        "ts",
        "-verify",
        "-queryfile",
        "q.tsq",
        "-in",
        "r.tsr",
        "-CAfile",
        pkiPath("root-ca.pem"),
        "-untrusted",
        untrusted(cert),
      ]);
      expect(out.trim()).toBe("Verification: OK");
      expect(openssl(["ts", "-reply", "-in", "r.tsr", "-text"])).toContain("Policy OID: 1.2.3.4.7");
      run.stop("SIGTERM");
      expect(await run.code).toBe(0);
      expect(run.stderr()).toMatch(/ POST 200 granted serial=[0-9a-f]+ \d+ms\n/);
      expect(run.stderr()).toContain("trailseal: notice: TSA stopped (SIGTERM)\n");
    });
  }

  it("refuses a certificate without the timeStamping EKU (exit 2)", async () => {
    const r = await runCli([
      "tsa",
      "serve",
      "--cert",
      pkiPath("tsa-wrong-eku.pem"),
      "--key",
      pkiPath("tsa-wrong-eku.key"),
      "--port",
      "0",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: error: the TSA certificate C=XX, O=trailseal test, CN=trailseal test TSA with code-signing EKU lacks the timeStamping extended key usage\n" +
        "trailseal: hint: issue it with extendedKeyUsage = critical, timeStamping (or run 'trailseal init')\n",
    );
  });

  it("refuses usage errors with exit 2", async () => {
    const bare = await runCli(["tsa"]);
    expect([bare.code, bare.stdout, bare.stderr]).toEqual([
      2,
      "",
      `trailseal: error: missing subcommand\ntrailseal: hint: trailseal tsa serve --cert tsa.crt --key tsa.key\n`,
    ]);
    const frob = await runCli(["tsa", "frobnicate"]);
    expect([frob.code, frob.stderr]).toEqual([
      2,
      `trailseal: error: unknown subcommand 'frobnicate'\ntrailseal: hint: trailseal tsa serve --cert tsa.crt --key tsa.key\n`,
    ]);
    const r = await runCli([
      "tsa",
      "serve",
      "--cert",
      pkiPath("tsa.pem"),
      "--key",
      pkiPath("tsa.key"),
      "--port",
      "99999",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("trailseal: error: --port must be 0..65535, not 99999\n");
    const p = await runCli([
      "tsa",
      "serve",
      "--cert",
      pkiPath("tsa.pem"),
      "--key",
      pkiPath("tsa.key"),
      "--policy",
      "x.y",
    ]);
    expect(p.code).toBe(2);
    expect(p.stderr).toBe(
      "trailseal: error: policy OID 'x.y' is not a dotted object identifier\ntrailseal: hint: write it like 1.3.6.1.4.1.55555.1.1\n",
    );
  });

  it("shows examples in --help", async () => {
    const r = await runCli(["tsa", "serve", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("trailseal tsa serve --cert tsa.crt --key tsa.key --port 3161");
  });

  it("stops cleanly on a real SIGTERM (child process)", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "..", "src", "cli", "bin.ts"),
        "tsa",
        "serve",
        "--cert",
        pkiPath("tsa-ec.pem"),
        "--key",
        pkiPath("tsa-ec.key"),
        "--port",
        "0",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
        const m = /TSA listening on (\S+)/.exec(err);
        if (m !== null) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(err)));
    });
    openssl(["ts", "-query", "-digest", "00".repeat(32), "-sha256", "-out", "z.tsq"]);
    const reply = parseResponse(await post(url, readFileSync(join(dir, "z.tsq"))));
    expect(reply.status).toBe("granted");
    const exit = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(err).toContain("trailseal: notice: TSA stopped (SIGTERM)");
  }, 30_000);
});
