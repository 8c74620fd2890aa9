/**
 * A full disk during `seal` and `record`. Where the test can mount a small tmpfs (root, Linux)
 * the built CLI writes onto it and runs out of space for real; elsewhere the same failure is
 * simulated through the library API, with a sink that fails with ENOSPC. The test's name says
 * which one ran.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrailReader, type CheckpointRecord } from "../src/trail/reader.js";
import { sealEvents } from "../src/trail/session.js";
import type { SessionEvent } from "../src/events.js";
import { TESTDATA, chunks, counterRandom } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { BIN, FAST_CLOCK } from "./helpers/live-record.js";

const PKI = join(TESTDATA, "pki");
const SIGNING = [
  "--sign-cert",
  join(PKI, "signer-rsa-chain.pem"),
  "--sign-key",
  join(PKI, "signer-rsa.key"),
];
const dir = mkdtempSync(join(tmpdir(), "trailseal-seal-faults-"));
const p = (name: string) => join(dir, name);
const full = p("full");
mkdirSync(full);

/** A 256 KiB tmpfs at `full`, or null when this machine will not mount one for us. */
function mountTmpfs(): "tmpfs" | "simulated" {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", full], {
      stdio: "pipe",
    });
    return "tmpfs";
  } catch {
    return "simulated";
  }
}
const MODE = mountTmpfs();

beforeAll(async () => {
  const policy = await runCli([
    "policy",
    "create",
    "--name",
    "disk",
    "--encrypt",
    join(TESTDATA, "certs", "rsa2048-a.crt"),
    "--sign-identity",
    "signer",
    "--interval",
    "10",
    "-o",
    p("policy.json"),
  ]);
  expect(policy.code, policy.stderr).toBe(0);
  // The simulated runs go through the library without a signer.
  const clear = await runCli([
    "policy",
    "create",
    "--name",
    "disk-clear",
    "--encrypt",
    join(TESTDATA, "certs", "rsa2048-a.crt"),
    "-o",
    p("clear.json"),
  ]);
  expect(clear.code, clear.stderr).toBe(0);
  // 1 MB of output: four times what the disk holds.
  await writeFile(
    p("big.bin"),
    new Uint8Array(1_000_000).map((_, i) => (i * 7919) % 251),
  );
});

afterAll(() => {
  if (MODE === "tmpfs") execFileSync("umount", [full]);
  rmSync(dir, { recursive: true, force: true });
});

async function checkpointsOf(bytes: Uint8Array, name: string) {
  const reader = await TrailReader.open(chunks(bytes, 65536), name);
  const found: CheckpointRecord[] = [];
  for await (const r of reader.records()) if (r.type === "checkpoint") found.push(r);
  return { found, end: reader.end };
}

/**
 * Runs the built CLI (bare PATH) writing `out` on the full tmpfs: it must exit 2 with the one
 * line naming `out`, and leave nothing there, neither the output nor its temporary.
 */
async function failsOnFullDisk(args: readonly string[], out: string): Promise<void> {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env["PATH"] } });
  expect([r.status, r.stdout.toString(), r.stderr.toString()]).toEqual([
    2,
    "",
    `trailseal: error: cannot write ${out}: no space left on device\n`,
  ]);
  expect(await readdir(full)).toEqual([]);
}

/** An errno error as fs raises it when the disk is full. */
function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), {
    code: "ENOSPC",
    errno: -28,
    syscall: "write",
  });
}

describe(`disk full (${MODE === "tmpfs" ? "a real 256 KiB tmpfs" : "simulated ENOSPC through the library"})`, () => {
  it("seal fails naming the file and leaves nothing under the final name (nor a temporary)", async () => {
    const out = join(full, "s.trail");
    if (MODE === "tmpfs") {
      const seal = ["seal", "--policy", p("policy.json"), ...SIGNING, "--from", "raw"];
      await failsOnFullDisk([...seal, p("big.bin"), "-o", out], out);
      return;
    }
    let written = 0;
    const events = (async function* (): AsyncGenerator<SessionEvent> {
      for (let i = 0; i < 100; i++)
        yield { type: "output", time: i * 1_000_000, data: new Uint8Array(10_000) };
    })();
    await expect(
      sealEvents({ cols: 80, rows: 24 } as never, events, {
        plan: JSON.parse(await readFile(p("clear.json"), "utf8")) as never,
        sink: (b) => {
          written += b.byteLength;
          if (written > 256 * 1024) throw enospc();
        },
        random: counterRandom(),
        clock: () => new Date(),
        awaitStamps: true,
      }),
    ).rejects.toMatchObject({ code: "ENOSPC" });
  });

  it("record hangs up, says which file failed, and what it wrote verifies to its last checkpoint", async () => {
    const trail = join(full, "r.trail");
    if (MODE === "simulated") {
      // Without a mount the CLI cannot be made to fail its writes; the library's contract is
      // tested instead: the sink's failure ends the recording and rejects `finished`.
      const { LiveRecorder } = await import("../src/record/recorder.js");
      const { PassThrough, Readable } = await import("node:stream");
      const kept: Uint8Array[] = [];
      let size = 0;
      const rec = await LiveRecorder.start({
        plan: JSON.parse(await readFile(p("clear.json"), "utf8")) as never,
        random: counterRandom(),
        clock: () => new Date(),
        sink: (b) => {
          if (size + b.byteLength > 256 * 1024) throw enospc();
          size += b.byteLength;
          kept.push(b.slice());
        },
        command: ["sh", "-c", "while :; do head -c 3000 /dev/zero | od; done"],
        cols: 80,
        rows: 24,
        env: { PATH: process.env["PATH"] },
        cwd: dir,
        input: Readable.from([]),
        output: new PassThrough().resume(),
      });
      await expect(rec.finished).rejects.toMatchObject({ code: "ENOSPC" });
      const { end } = await checkpointsOf(new Uint8Array(Buffer.concat(kept)), "simulated");
      expect(end.state).toBe("truncated");
      return;
    }
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        FAST_CLOCK,
        BIN,
        "record",
        "--policy",
        p("policy.json"),
        ...SIGNING,
        "-o",
        trail,
        "--",
        "sh",
        "-c",
        "i=0; while :; do echo line $i; head -c 3000 /dev/zero | od -v | head -c 3000; i=$((i+1)); sleep 0.02; done",
      ],
      { env: { PATH: process.env["PATH"] }, stdio: ["ignore", "ignore", "pipe"] },
    );
    expect([r.status, r.stderr.toString()]).toEqual([
      2,
      `trailseal: notice: recording to ${trail} (policy disk, checkpoint every 10 s); the session ends when the command exits\n` +
        `trailseal: warning: the trail cannot be written (cannot write ${trail}: no space left on device); hanging up the session\n` +
        `trailseal: error: cannot write ${trail}: no space left on device\n`,
    ]);
    const bytes = new Uint8Array(await readFile(trail));
    const { found, end } = await checkpointsOf(bytes, trail);
    expect(end.state).toBe("truncated");
    if (end.state !== "truncated") return;
    expect(end.reason).toMatch(
      /^(record \d+ is cut short at byte \d+|the trail has no final checkpoint)$/,
    );
    // The fast clock (40x) puts several checkpoints on the disk before it fills.
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(found.map((c) => c.statement.index)).toEqual(found.map((_, k) => k + 1));
    const last = found.at(-1)!;
    const verify = await runCli(["verify", trail, "--json", "--ca", join(PKI, "root-ca.pem")]);
    expect(verify.code).toBe(1);
    const [verdict] = JSON.parse(verify.stdout) as [Record<string, unknown>];
    expect(verdict).toMatchObject({
      failed: ["complete"],
      signature: { state: "valid", signed: found.length },
      integrity: {
        state: "truncated",
        checkpoints: found.length,
        lastCheckpoint: {
          index: last.statement.index,
          timeUs: last.statement.time,
          records: last.statement.records,
        },
        reason: end.reason,
      },
    });
  }, 60_000);

  // Replay writes each 1 MiB batch while it decrypts the next: the write that fails is one the
  // command no longer waits on, and its failure must still end the command, named, with nothing
  // left behind. 3 MB of output against a 256 KiB disk: the first batch fails behind.
  it.runIf(MODE === "tmpfs")(
    "replay fails naming the file and leaves nothing, though the failed write ran behind",
    async () => {
      for (const f of await readdir(full)) rmSync(join(full, f)); // the record test's trail
      await writeFile(
        p("plain.bin"),
        new Uint8Array(3_000_000).map((_, i) => (i * 31) % 253),
      );
      const trail = p("three.trail");
      const sealed = await runCli([
        "seal",
        "--policy",
        p("clear.json"),
        "--from",
        "raw",
        p("plain.bin"),
        "-o",
        trail,
      ]);
      expect(sealed.code, sealed.stderr).toBe(0);
      const out = join(full, "plain.out");
      const key = join(TESTDATA, "certs", "rsa2048-a.key");
      await failsOnFullDisk(["replay", trail, "--key", key, "--format", "raw", "-o", out], out);
    },
  );
});
