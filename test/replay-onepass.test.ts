/**
 * One-pass replay of a trail file (src/verify/replay.ts, src/trail/spool.ts): verified while it is
 * decrypted, and nothing unverified reaches the output. A file output is published only if the
 * trail verifies (its verified prefix when truncated); stdout gets exactly what verified
 * checkpoints cover before the fault, and nothing else; held frames spill to a 0600 temporary file
 * that is removed.
 */
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chainBrokenAt } from "./helpers/chain.js";
import { runCli } from "./helpers/io.js";
import { TESTDATA } from "./helpers/fixtures.js";
import { FrameSpool } from "../src/trail/spool.js";
import { EventDecoder, openTrail, unlockChannels, type FrameBytes } from "../src/trail/open.js";
import { TrailReader, type FrameRecord } from "../src/trail/reader.js";
import { VerifiedReplay } from "../src/verify/replay.js";
import type { SessionEvent } from "../src/events.js";

const certs = (n: string) => join(TESTDATA, "certs", n);
const dir = mkdtempSync(join(tmpdir(), "trailseal-onepass-"));
const p = (n: string) => join(dir, n);
const KEY = ["--key", certs("rsa2048-a.key")];
const RAW = ["--format", "raw"];

/** Output at 1 s, 15 s and 25 s with checkpoints every 10 s: "a" under 1, "b" under 2, "c" under the final. */
const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24 }),
  JSON.stringify([1, "o", "a"]),
  JSON.stringify([15, "o", "b"]),
  JSON.stringify([25, "o", "c"]),
  "",
].join("\n");

async function ok(argv: string[]) {
  const r = await runCli(argv, { cwd: dir });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
}

/** The records of a trail file: offset, time and type of each. */
async function layout(path: string): Promise<{ offset: number; time: number; type: string }[]> {
  const reader = await TrailReader.open(createReadStream(path), path);
  const out = [];
  for await (const r of reader.records())
    out.push({ offset: r.offset, time: r.time, type: r.type });
  return out;
}

/** What is left in `dir` besides the files the tests made: a temporary file would show here. */
const leftovers = () => readdirSync(dir).filter((n) => !/\.(trail|json|cast)$/.test(n));

beforeAll(async () => {
  writeFileSync(p("t.cast"), CAST);
  await ok([
    "policy",
    "create",
    "--name",
    "ten",
    "--interval",
    "10",
    "--encrypt",
    certs("rsa2048-a.crt"),
    "-o",
    p("enc.json"),
  ]);
  await ok(["seal", "--policy", p("enc.json"), p("t.cast"), "-o", p("t.trail")]);
  await ok(["policy", "create", "--name", "clear", "--interval", "10", "-o", p("clear.json")]);
  await ok(["seal", "--policy", p("clear.json"), p("t.cast"), "-o", p("c.trail")]);
  // The frame "b" (15 s, covered by checkpoint 2), one ciphertext byte flipped.
  const whole = Buffer.from(readFileSync(p("t.trail")));
  const b = (await layout(p("t.trail"))).find((r) => r.type === "frame" && r.time === 15_000_000)!;
  whole[b.offset + 24 + 3]! ^= 0x01;
  writeFileSync(p("bent.trail"), whole);
  const intact = readFileSync(p("t.trail"));
  writeFileSync(p("cut.trail"), intact.subarray(0, intact.byteLength - 10)); // inside the final checkpoint
});

describe("one-pass replay of a tampered trail", () => {
  /** CHAIN_BROKEN at checkpoint 2 (the record after "b"), as verification reports it. */
  const chainBroken = (name: string, hint: string) =>
    `trailseal: error: ${name}: ${chainBrokenAt(readFileSync(name), 2)}\ntrailseal: hint: ${hint}\n`;
  const altered = "a record before this checkpoint was altered, inserted or removed";

  it("to a file: exit 1, the chain error, and no output file nor temporary file", async () => {
    const r = await runCli(["replay", p("bent.trail"), ...KEY, ...RAW, "-o", p("out.bin")], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(chainBroken(p("bent.trail"), altered));
    expect(r.stdout).toBe("");
    expect(existsSync(p("out.bin"))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it("to stdout: exactly what checkpoint 1 covers ('a'), no byte of 'b' or after", async () => {
    const r = await runCli(["replay", p("bent.trail"), ...KEY, ...RAW], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(chainBroken(p("bent.trail"), altered));
    expect(r.stdout).toBe("a");
    const cast = await runCli(["replay", p("bent.trail"), ...KEY], { cwd: dir });
    expect(cast.code).toBe(1);
    expect(cast.stdout).toBe(
      `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n[1.000000, "o", "a"]\n`,
    );
    expect(leftovers()).toEqual([]);
  });

  it("with --ca: refused the same way (the hint points at verify)", async () => {
    const r = await runCli(
      ["replay", p("bent.trail"), ...KEY, ...RAW, "--ca", join(TESTDATA, "pki", "root-ca.pem")],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      chainBroken(p("bent.trail"), "run 'trailseal verify' for the full verdict"),
    );
  });

  it("the header's stanza altered: nothing written, as verification first refused it", async () => {
    const t = Buffer.from(readFileSync(p("t.trail")));
    t[20]! ^= 0x01; // inside the sealed header JSON (its digest starts the chain)
    writeFileSync(p("head.trail"), t);
    const r = await runCli(["replay", p("head.trail"), ...KEY, ...RAW], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    // Byte 20 is the "a" of the header's first key, "format": the header names no format.
    expect(r.stderr).toBe(
      `trailseal: error: ${p("head.trail")}: header names format undefined, not trailseal/1\n`,
    );
  });
});

describe("one-pass replay of a truncated trail", () => {
  const warning = (name: string) =>
    `trailseal: warning: ${name} is truncated (record N is cut short at byte N): verification stops at checkpoint 2 (session time 20s); 3 frames after it are not covered by any checkpoint\n`;
  const normalized = (s: string) =>
    s.replace(/record \d+ is cut short at byte \d+/, "record N is cut short at byte N");
  const hint =
    "trailseal: hint: only the verified prefix is replayed; pass --unverified-tail for the rest\n";

  it("to a file: only the verified prefix is published ('ab'), exit 1", async () => {
    const r = await runCli(["replay", p("cut.trail"), ...KEY, ...RAW, "-o", p("cut.bin")], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(normalized(r.stderr)).toBe(warning(p("cut.trail")) + hint);
    expect(readFileSync(p("cut.bin"), "utf8")).toBe("ab");
    expect(statSync(p("cut.bin")).mode & 0o777).toBe(0o600);
    const tail = await runCli(
      ["replay", p("cut.trail"), ...KEY, ...RAW, "-o", p("tail.bin"), "--unverified-tail"],
      { cwd: dir },
    );
    expect(tail.code).toBe(1);
    expect(readFileSync(p("tail.bin"), "utf8")).toBe("abc");
    expect(leftovers().sort()).toEqual(["cut.bin", "tail.bin"]);
  });

  it("to stdout: 'ab', and 'abc' only with --unverified-tail", async () => {
    const r = await runCli(["replay", p("cut.trail"), ...KEY, ...RAW], { cwd: dir });
    expect([r.code, r.stdout]).toEqual([1, "ab"]);
    expect(normalized(r.stderr)).toBe(warning(p("cut.trail")) + hint);
    const tail = await runCli(["replay", p("cut.trail"), ...KEY, ...RAW, "--unverified-tail"], {
      cwd: dir,
    });
    expect([tail.code, tail.stdout]).toEqual([1, "abc"]);
  });

  it("a complete trail: everything, exit 0, nothing said", async () => {
    const r = await runCli(["replay", p("t.trail"), ...KEY, ...RAW], { cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "abc", ""]);
  });
});

describe("held frames beyond the memory bound", () => {
  async function events(gen: AsyncIterable<SessionEvent>): Promise<SessionEvent[]> {
    const out = [];
    for await (const e of gen) out.push(e);
    return out;
  }

  it("spill to a 0600 file, come back byte for byte in order, and the file is removed", async () => {
    const parent = mkdtempSync(join(tmpdir(), "trailseal-spool-"));
    const spool = new FrameSpool(0, parent);
    const reader = await TrailReader.open(createReadStream(p("c.trail")), "c.trail");
    const frames: FrameRecord[] = [];
    for await (const r of reader.records()) {
      if (r.type !== "frame") continue;
      frames.push(r);
      await spool.add(r);
    }
    expect(spool.size).toBe(frames.length);
    const [sub] = readdirSync(parent);
    expect(sub).toMatch(/^trailseal-replay-/);
    expect(statSync(join(parent, sub!, "held.frames")).mode & 0o777).toBe(0o600);
    const back: FrameBytes[] = [];
    for await (const f of spool.drain()) back.push(f);
    const fields = (f: FrameBytes) => ({
      channel: f.channel,
      seq: f.seq,
      time: f.time,
      last: f.last,
      continued: f.continued,
      prefix: Buffer.from(f.prefix).toString("hex"),
      body: Buffer.from(f.body).toString("hex"),
    });
    expect(back.map(fields)).toEqual(frames.map(fields));
    expect(spool.size).toBe(0);
    await spool.close();
    expect(readdirSync(parent)).toEqual([]);
  });

  it("a spool file cut short (inside a record prefix) is the IO error that names it", async () => {
    const parent = mkdtempSync(join(tmpdir(), "trailseal-spool-"));
    const spool = new FrameSpool(0, parent);
    const reader = await TrailReader.open(createReadStream(p("c.trail")), "c.trail");
    for await (const r of reader.records()) if (r.type === "frame") await spool.add(r);
    const [sub] = readdirSync(parent);
    const held = join(parent, sub!, "held.frames");
    // Something else shortened the file: only 5 bytes of the first record's prefix are left.
    truncateSync(held, 5);
    const read = async () => {
      for await (const f of spool.drain()) void f;
    };
    await expect(read()).rejects.toMatchObject({
      code: "IO",
      message: `the replay spool ${held} is cut short`,
    });
    await spool.close();
    expect(readdirSync(parent)).toEqual([]);
  });

  it("a replay holding everything back in the spool gives the same events as a plain read", async () => {
    const parent = mkdtempSync(join(tmpdir(), "trailseal-spool-"));
    const reader = await TrailReader.open(createReadStream(p("c.trail")), "c.trail");
    const unlocked = await unlockChannels(reader.parsed, []);
    const replay = await VerifiedReplay.start(
      reader,
      {},
      new EventDecoder(reader.parsed, unlocked.keys),
      {
        holdBack: true,
        release: () => true,
        spool: new FrameSpool(0, parent),
      },
    );
    const got = await events(replay.events());
    await replay.close();
    const plain = await openTrail(createReadStream(p("c.trail")), "c.trail", []);
    expect(got).toEqual(await events(plain.events()));
    expect(replay.verification.verdict().integrity.state).toBe("complete");
    expect([replay.held, replay.decodeFault]).toEqual([0, null]);
    expect(readdirSync(parent)).toEqual([]);
  });
});
