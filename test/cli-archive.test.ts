/**
 * Archive scale, end to end through the installed bin (dist/bin/trailseal.js, with its worker
 * threads): a mixed archive with the exact outcome of each trail; --jsonl, --json and the human
 * report; --files-from with -0; N shard processes whose union is the one-process result, each
 * trail exactly once; `trailseal summary` over their outputs; a worker stopped in the middle of
 * a trail (--trail-timeout).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { open } from "node:fs/promises";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

const REPO = join(import.meta.dirname, "..");
const BIN = join(REPO, "dist", "bin", "trailseal.js");
const dir = mkdtempSync(join(tmpdir(), "trailseal-archive-cli-"));
const p = (...n: string[]) => join(dir, ...n);
const ARCHIVE = p("archive");

function bin(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: "utf8",
    input: input ?? "",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function ok(argv: string[]) {
  const r = await runCli(argv, { cwd: dir });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
}

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000 }),
  ...Array.from({ length: 40 }, (_, i) => JSON.stringify([i * 2 + 0.5, "o", `line ${i}\r\n`])),
  "",
].join("\n");

/** Every trail of the archive and the outcome it must get. */
const EXPECTED: Record<string, string> = {};

beforeAll(async () => {
  writeFileSync(p("s.cast"), CAST);
  await ok(["init", "--home", p("auth")]);
  await ok(["init", "--home", p("other")]);
  await ok([
    "policy",
    "create",
    "--name",
    "archive",
    "--sign-identity",
    "x",
    "--timestamp",
    "local",
    "--interval",
    "10",
    "-o",
    p("policy.json"),
  ]);
  const seal = (home: string, out: string) =>
    ok([
      "seal",
      "--policy",
      p("policy.json"),
      "--home",
      p(home),
      "--sign-cert",
      p(home, "signer.crt"),
      "--sign-key",
      p(home, "signer.key"),
      p("s.cast"),
      "-o",
      out,
    ]);
  await seal("auth", p("good.trail"));
  await seal("other", p("foreign.trail"));
  const good = readFileSync(p("good.trail"));
  // 24 valid trails in nested directories, then one of each failure.
  for (let i = 0; i < 24; i++) {
    const sub = ["", "2026-11", "2026-11/db1", "2026-12"][i % 4]!;
    mkdirSync(join(ARCHIVE, sub), { recursive: true });
    const name = join(sub, `session-${String(i).padStart(2, "0")}.trail`);
    copyFileSync(p("good.trail"), join(ARCHIVE, name));
    EXPECTED[name] = "valid";
  }
  writeFileSync(join(ARCHIVE, "cut.trail"), good.subarray(0, good.byteLength - 300));
  EXPECTED["cut.trail"] = "truncated";
  const flipped = Buffer.from(good);
  flipped[Math.floor(good.byteLength / 2)]! ^= 0x01;
  writeFileSync(join(ARCHIVE, "flipped.trail"), flipped);
  EXPECTED["flipped.trail"] = "tampered";
  copyFileSync(p("foreign.trail"), join(ARCHIVE, "foreign.trail"));
  EXPECTED["foreign.trail"] = "invalid";
  writeFileSync(join(ARCHIVE, "notes.txt"), "not a trail, not taken");
});

const ANCHORS = () => ["--ca", p("auth", "ca.crt"), "--tsa-ca", p("auth", "ca.crt")];

interface Line {
  type: string;
  key: string;
  outcome?: string;
  failed?: string[];
  code?: string;
}

function lines(stdout: string): Line[] {
  return stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
}

describe("verify over an archive", () => {
  it("walks the directory and gives each trail its exact outcome, on 2 workers, summary last", () => {
    const r = bin(["verify", "archive", "--jobs", "2", "--jsonl", ...ANCHORS()]);
    expect(r.code).toBe(1);
    const all = lines(r.stdout);
    const summary = all.pop()!;
    const outcomes = Object.fromEntries(all.map((l) => [l.key, l.outcome]));
    expect(outcomes).toEqual(EXPECTED);
    expect(all.find((l) => l.key === "foreign.trail")!.failed).toEqual(["signature", "timestamp"]);
    expect(summary).toMatchObject({
      type: "summary",
      trails: 27,
      valid: 24,
      invalid: 1,
      failedChecks: { signature: 1, timestamp: 1, complete: 0, decrypt: 0 },
      truncated: 1,
      tampered: 1,
      unreadable: 0,
    });
    expect(r.stderr).toMatch(
      /^trailseal: summary: 27 trails: 24 valid, 1 invalid \(failed: signature 1, timestamp 1\), 1 truncated, 1 tampered, 0 unreadable; [\d.]+ [KM]iB in [\d.]+ s, [\d.]+ trails\/s\n$/,
    );
  });

  it("keeps the input order in the human report and --json, whatever the workers' order", () => {
    const human = bin(["verify", "archive", "--jobs", "2", ...ANCHORS()]);
    const heads = human.stdout.split("\n").filter((l) => /^\S.*: (VALID|INVALID)/.test(l));
    const sorted = Object.keys(EXPECTED).sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    expect(heads.map((l) => l.replace(/^archive\//, "").replace(/: .*/, ""))).toEqual(sorted);
    const json = bin(["verify", "archive", "--jobs", "2", "--json", ...ANCHORS()]);
    const files = (JSON.parse(json.stdout) as { file: string }[]).map((v) => v.file);
    expect(files).toEqual(sorted.map((k) => `archive/${k}`));
  });

  it("takes --files-from - with -0 (find -print0), and reports a missing trail without stopping the others", () => {
    const list = execFileSync("find", ["archive", "-name", "*.trail", "-print0"], { cwd: dir });
    const input = `${list.toString("latin1")}archive/missing.trail\0`;
    const r = bin(["verify", "--files-from", "-", "-0", "--jsonl", ...ANCHORS()], input);
    expect(r.code).toBe(2);
    const all = lines(r.stdout);
    const summary = all.pop()!;
    expect(all.filter((l) => l.type === "error")).toEqual([
      {
        type: "error",
        file: "archive/missing.trail",
        key: "archive/missing.trail",
        code: "IO",
        message: "no such file: archive/missing.trail",
      },
    ]);
    expect(all.filter((l) => l.type === "verdict")).toHaveLength(27);
    expect(summary).toMatchObject({ trails: 28, valid: 24, unreadable: 1 });
    expect(r.stderr.split("\n")[0]).toBe("trailseal: error: no such file: archive/missing.trail");
  });

  it("N shard processes verify every trail exactly once; summary merges their outputs", () => {
    const one = lines(bin(["verify", "archive", "--jsonl", ...ANCHORS()]).stdout);
    const whole = one.pop()!;
    const outputs: string[] = [];
    const seen: string[] = [];
    for (let k = 0; k < 3; k++) {
      const r = bin(["verify", "archive", "--shard", `${k}/3`, "--jsonl", ...ANCHORS()]);
      writeFileSync(p(`shard-${k}.jsonl`), r.stdout);
      outputs.push(p(`shard-${k}.jsonl`));
      const shard = lines(r.stdout);
      expect(shard.pop()).toMatchObject({ type: "summary", shard: `${k}/3` });
      seen.push(...shard.map((l) => l.key));
    }
    expect([...seen].sort()).toEqual(one.map((l) => l.key).sort());
    expect(new Set(seen).size).toBe(seen.length);
    const merged = bin(["summary", "--json", ...outputs]);
    expect(merged.code).toBe(1);
    expect(merged.stderr).toBe("");
    // Times differ from run to run; every count must agree.
    const counts = (s: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(s).filter(([k]) => k !== "elapsedMs" && k !== "trailsPerSecond"),
      );
    expect(counts(JSON.parse(merged.stdout) as Record<string, unknown>)).toEqual(
      counts(whole as unknown as Record<string, unknown>),
    );
    // Overlapping or unfinished shards make the result doubtful: warned, exit 2.
    writeFileSync(p("twice.jsonl"), readFileSync(outputs[0]!));
    writeFileSync(
      p("unfinished.jsonl"),
      readFileSync(outputs[1]!, "utf8").split("\n").slice(0, 2).join("\n"),
    );
    const bad = bin(["summary", outputs[0]!, p("twice.jsonl"), p("unfinished.jsonl")]);
    expect(bad.code).toBe(2);
    const warnings = bad.stderr.trim().split("\n");
    expect(warnings.at(-1)).toBe(
      `trailseal: warning: ${p("unfinished.jsonl")}: no summary line: that run did not finish, so trails may be missing`,
    );
    expect(warnings[0]).toMatch(
      new RegExp(
        `^trailseal: warning: ${p("twice.jsonl")}:1: \\S+ was already counted \\(shards overlap\\?\\)$`,
      ),
    );
  });

  it("refuses what cannot work, naming the option", () => {
    const cases: [string[], string][] = [
      [["verify", "--jobs", "0", "archive"], "--jobs takes a whole number from 1 to 256, not '0'"],
      [
        ["verify", "--shard", "3/3", "archive"],
        "a shard is K/N with 0 <= K < N <= 1000000 (K counts from 0), not '3/3'",
      ],
      [["verify", "--json", "--jsonl", "archive"], "--json and --jsonl cannot be combined"],
      [
        ["verify", "-0", "archive"],
        "-0 (--null) says how --files-from lists are separated; give --files-from",
      ],
      [["verify"], "no trail given"],
      [["verify", "-", "archive"], "a trail on stdin ('-') is verified alone"],
      [
        ["verify", "--trail-timeout", "0.5", "archive"],
        "--trail-timeout takes a whole number from 1 to 86400, not '0.5'",
      ],
      [
        ["verify", "--trail-timeout", "5", "-"],
        "--trail-timeout stops a worker thread; a trail on stdin ('-') is read in the command's own",
      ],
    ];
    for (const [args, message] of cases) {
      const r = bin(args);
      expect([r.code, r.stderr.split("\n")[0]]).toEqual([2, `trailseal: error: ${message}`]);
    }
  });

  it("stops a worker stuck in the middle of a trail (--trail-timeout): that trail is WORKER_FAILED, every other gets its exact verdict, exit 2", async () => {
    // A share that stops answering in the middle of a file, played by a FIFO: the worker opens
    // it, reads the first 100 bytes of a trail, and waits for the rest, which never comes in
    // time. Its time limit stops that worker; a new one takes its place.
    const stuck = p("stuck");
    mkdirSync(stuck);
    copyFileSync(p("good.trail"), join(stuck, "a.trail"));
    copyFileSync(p("foreign.trail"), join(stuck, "c.trail"));
    copyFileSync(p("good.trail"), join(stuck, "d.trail"));
    execFileSync("mkfifo", [join(stuck, "b.trail")]);
    const args = ["verify", "a.trail", "b.trail", "c.trail", "d.trail", ...ANCHORS()];
    const child = spawn(process.execPath, [BIN, ...args, "--jobs", "2", "--trail-timeout", "1"], {
      cwd: stuck,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const writer = await open(join(stuck, "b.trail"), "w"); // returns once the worker opened it
    await writer.write(readFileSync(p("good.trail")).subarray(0, 100));
    // Well past the limit. A read blocked in the kernel cannot be interrupted: the stopped
    // worker's thread ends when it returns, here when the writer closes (end of file).
    await new Promise((r) => setTimeout(r, 3000));
    await writer.close();
    expect(await exited).toBe(2);
    const failed =
      "the worker on b.trail died (stopped after 1 s without finishing); the other inputs go on";
    // Input order: the stuck trail in its place, the others as without it.
    expect(stdout.split("\n").filter((l) => /^\S/.test(l))).toEqual([
      "a.trail: VALID",
      "c.trail: INVALID (failed: signature, timestamp)",
      "d.trail: VALID",
    ]);
    expect(stderr.split("\n")).toEqual([
      `trailseal: error: ${failed}`,
      expect.stringMatching(
        /^trailseal: summary: 4 trails: 2 valid, 1 invalid \(failed: signature 1, timestamp 1\), 0 truncated, 0 tampered, 1 unreadable; [\d.]+ KiB in [\d.]+ s, [\d.]+ trails\/s$/,
      ),
      "",
    ]);
  }, 30_000);
});
