/**
 * The memory bound of issues 3 and 9: sealing, replaying or verifying 1 GiB keeps peak RSS under
 * 150 MB. Replay to stdout holds back what no checkpoint covers yet (here: everything, a raw
 * recording has only its final checkpoint), so this also runs its spill to a temporary file.
 *
 * The built CLI (dist/, which `npm test` builds first) runs in a child process whose own
 * `process.resourceUsage().maxRSS` is written to a file when it exits. Input is streamed from a
 * generator into `seal -` and replay's output is streamed back out, each hashed here, so the
 * round trip is checked byte for byte without a 1 GiB input file. Not timed: speed is measured
 * by `npm run bench`.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..");
const DIST = join(REPO, "dist", "cli");
const CERT = join(REPO, "testdata", "certs", "rsa2048-a.crt");
const KEY = join(REPO, "testdata", "certs", "rsa2048-a.key");

const GIB = 2 ** 30;
const LIMIT_BYTES = 150_000_000;

/** Runs the CLI's `run()` as the process does and records the process's peak RSS at exit. */
const WRAPPER = `
import { writeFileSync } from "node:fs";
const [mainUrl, ioUrl, rssPath, ...args] = process.argv.slice(1);
const { run } = await import(mainUrl);
const { processIo } = await import(ioUrl);
process.on("exit", () => writeFileSync(rssPath, String(process.resourceUsage().maxRSS)));
process.exitCode = await run(args, processIo());
`;

interface ChildRun {
  code: number | null;
  stderr: string;
  /** Peak RSS of the child in bytes (maxRSS is in KiB). */
  peakRss: number;
  /** SHA-256 and length of what the child wrote to stdout. */
  stdoutSha256: string;
  stdoutBytes: number;
}

let dir: string;

/** Runs `trailseal args…` in a child; `feed` writes its stdin. */
async function cli(
  args: readonly string[],
  feed: (stdin: NodeJS.WritableStream) => Promise<void>,
): Promise<ChildRun> {
  const rssFile = join(dir, `rss-${args[0]}.txt`);
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      WRAPPER,
      "--",
      pathToFileURL(join(DIST, "main.js")).href,
      pathToFileURL(join(DIST, "process-io.js")).href,
      rssFile,
      ...args,
    ],
    { cwd: dir, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s: string) => {
    if (stderr.length < 8000) stderr += s;
  });
  const hash = createHash("sha256");
  let stdoutBytes = 0;
  child.stdout.on("data", (c: Buffer) => {
    hash.update(c);
    stdoutBytes += c.byteLength;
  });
  const closed = once(child, "close") as Promise<[number | null]>;
  await feed(child.stdin);
  const [code] = await closed;
  return {
    code,
    stderr,
    peakRss: Number(readFileSync(rssFile, "utf8")) * 1024,
    stdoutSha256: hash.digest("hex"),
    stdoutBytes,
  };
}

/**
 * Writes `total` incompressible bytes: a random 1 MiB block with a counter XORed into its first
 * 8 bytes, so no two blocks repeat. Returns the SHA-256 of what was written.
 */
async function generate(stdin: NodeJS.WritableStream, total: number): Promise<string> {
  const block = randomBytes(2 ** 20);
  const hash = createHash("sha256");
  let n = 0n;
  for (let written = 0; written < total; written += block.byteLength) {
    const chunk = Buffer.from(block);
    chunk.writeBigUInt64BE(chunk.readBigUInt64BE(0) ^ n++, 0);
    hash.update(chunk);
    if (!stdin.write(chunk)) await once(stdin, "drain");
  }
  stdin.end();
  return hash.digest("hex");
}

const noInput = async (stdin: NodeJS.WritableStream): Promise<void> => {
  stdin.end();
};

beforeAll(() => {
  if (!existsSync(join(DIST, "main.js"))) {
    throw new Error("dist/cli/main.js is missing: run 'npm run build' (npm test does it first)");
  }
  dir = mkdtempSync(join(tmpdir(), "trailseal-memory-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("memory bound: 1 GiB through the built CLI", () => {
  it(
    "seals, replays and verifies 1 GiB of raw data with peak RSS under 150 MB each, byte for byte",
    { timeout: 600_000 },
    async () => {
      const policy = await cli(
        ["policy", "create", "--name", "memory", "--encrypt", CERT, "-o", "policy.json"],
        noInput,
      );
      expect(policy.code, policy.stderr).toBe(0);

      let inputSha256 = "";
      const seal = await cli(
        ["seal", "--policy", "policy.json", "--from", "raw", "-", "-o", "big.trail"],
        async (stdin) => {
          inputSha256 = await generate(stdin, GIB);
        },
      );
      expect(seal.code, seal.stderr).toBe(0);
      expect(statSync(join(dir, "big.trail")).size).toBeGreaterThan(GIB);

      const replay = await cli(
        ["replay", "big.trail", "--key", KEY, "--format", "raw", "-o", "-"],
        noInput,
      );
      expect(replay.code, replay.stderr).toBe(0);
      expect(replay.stdoutBytes).toBe(GIB);
      expect(replay.stdoutSha256).toBe(inputSha256);

      // No key: every record digest and the chain, in one pass.
      const verify = await cli(["verify", "big.trail"], noInput);
      expect(verify.code, verify.stderr).toBe(0);

      const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
      process.stderr.write(
        `memory.test: peak RSS seal ${mb(seal.peakRss)}, replay ${mb(replay.peakRss)}, verify ${mb(verify.peakRss)} (limit 150 MB)\n`,
      );
      expect(verify.peakRss, `verify of 1 GiB peaked at ${mb(verify.peakRss)}`).toBeLessThan(
        LIMIT_BYTES,
      );
      expect(seal.peakRss, `seal of 1 GiB peaked at ${mb(seal.peakRss)}`).toBeLessThan(LIMIT_BYTES);
      expect(replay.peakRss, `replay of 1 GiB peaked at ${mb(replay.peakRss)}`).toBeLessThan(
        LIMIT_BYTES,
      );
    },
  );
});
