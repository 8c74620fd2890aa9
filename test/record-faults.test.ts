/**
 * Faults of live recording: `trailseal record` killed with SIGKILL at many points of a session,
 * and ended by SIGTERM, SIGINT and SIGHUP. The recorder is the built CLI in a process of its own
 * with a fast session clock (test/helpers/fast-clock.mjs: 40x), so a 10 s checkpoint interval
 * passes in a quarter of a second of real time and each run sees several checkpoints. Nothing
 * is asserted about timing: every wait polls for a state of the trail file.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { TrailReader, type CheckpointRecord } from "../src/trail/reader.js";
import { openTrail } from "../src/trail/open.js";
import { TESTDATA, chunks, stanzaKey } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import {
  alive,
  groupAlive,
  groupMembers,
  killGroup,
  killStarted,
  startRecorder,
  waitUntil,
} from "./helpers/live-record.js";

const PKI = join(TESTDATA, "pki");
const KEY = join(TESTDATA, "certs", "rsa2048-a.key");
const ROOT_CA = join(PKI, "root-ca.pem");
let dir: string;
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trailseal-record-faults-"));
  const policy = await runCli([
    "policy",
    "create",
    "--name",
    "faults",
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
});

afterAll(async () => {
  killStarted();
  await rm(dir, { recursive: true, force: true });
});

const SIGNING = [
  "--sign-cert",
  join(PKI, "signer-rsa-chain.pem"),
  "--sign-key",
  join(PKI, "signer-rsa.key"),
];

/** A command that prints numbered lines until it is stopped, after saving its pid. */
function ticker(pidFile: string, traps = ""): string[] {
  return [
    "sh",
    "-c",
    `${traps}echo $$ > '${pidFile}'; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.02; done`,
  ];
}

/** The checkpoints a reader finds in `bytes` so far (none while the header is incomplete). */
async function checkpointsIn(bytes: Uint8Array): Promise<CheckpointRecord[]> {
  const found: CheckpointRecord[] = [];
  try {
    const reader = await TrailReader.open(chunks(bytes, 65536), "snapshot");
    for await (const r of reader.records()) if (r.type === "checkpoint") found.push(r);
  } catch (e) {
    if (!(e instanceof Error && /header is cut short/.test(e.message))) throw e;
  }
  return found;
}

const readTrail = (path: string): Promise<Uint8Array> =>
  readFile(path).then(
    (b) => new Uint8Array(b),
    () => new Uint8Array(0),
  );

/** Output bytes of events, as one latin1 string. */
function output(evs: readonly SessionEvent[]): string {
  return Buffer.concat(evs.flatMap((e) => (e.type === "output" ? [e.data] : []))).toString(
    "latin1",
  );
}

/**
 * Where run `i` of the SIGKILL test is killed: once the file shows `checkpoints` checkpoints
 * (0..7), then right away, after two more records, or half an interval (125 ms) later.
 */
function killPoint(i: number): { checkpoints: number; then: "now" | "records" | "pause" } {
  return { checkpoints: Math.floor(i / 3), then: (["now", "records", "pause"] as const)[i % 3]! };
}

interface Killed {
  readonly trail: string;
  /** The file as a reader saw it just before the kill. */
  readonly before: Uint8Array;
  readonly checkpointsBefore: number;
}

async function killOnce(i: number): Promise<Killed> {
  const trail = p(`killed-${i}.trail`);
  const pidFile = p(`killed-${i}.pid`);
  const rec = startRecorder([
    "--policy",
    p("policy.json"),
    ...SIGNING,
    "-o",
    trail,
    "-q",
    "--",
    ...ticker(pidFile),
  ]);
  const pgid = rec.child.pid!;
  try {
    const point = killPoint(i);
    const before = await waitUntil(`run ${i}: ${point.checkpoints} checkpoints`, async () => {
      const bytes = await readTrail(trail);
      if (bytes.byteLength === 0) return undefined;
      const cps = await checkpointsIn(bytes);
      return cps.length >= point.checkpoints ? { bytes, cps } : undefined;
    });
    let snapshot = before.bytes;
    if (point.then === "records") {
      // A frame record of one line is about 60 bytes: wait for two of them.
      snapshot = await waitUntil(`run ${i}: two more records`, async () => {
        const bytes = await readTrail(trail);
        return bytes.byteLength > before.bytes.byteLength + 100 ? bytes : undefined;
      });
    } else if (point.then === "pause") {
      await new Promise((r) => setTimeout(r, 125));
      snapshot = await readTrail(trail);
    }
    const checkpointsBefore = (await checkpointsIn(snapshot)).length;
    process.kill(pgid, "SIGKILL");
    expect((await rec.exited).signal).toBe("SIGKILL");
    // Neither `script` (in the recorder's group) nor the command may outlive the recorder.
    await waitUntil(`run ${i}: script to end`, async () =>
      (await groupAlive(pgid)) ? undefined : true,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}; still running: ${(await groupMembers(pgid)).join(", ")}`);
    });
    const pid = Number(await readFile(pidFile, "utf8").catch(() => "0"));
    if (pid > 0)
      await waitUntil(`run ${i}: the command to end`, async () =>
        (await alive(pid)) ? undefined : true,
      );
    return { trail, before: snapshot, checkpointsBefore };
  } finally {
    killGroup(pgid);
  }
}

/** Checks one killed trail: prefix kept, truncated to its last checkpoint, replay = prefix. */
async function checkKilled({ trail, before, checkpointsBefore }: Killed): Promise<number> {
  const after = await readTrail(trail);
  // Nothing the reader saw before the kill is lost or changed.
  expect(Buffer.from(after.subarray(0, before.byteLength)).equals(before)).toBe(true);
  const cps = await checkpointsIn(after);
  expect(cps.length).toBeGreaterThanOrEqual(checkpointsBefore);
  expect(cps.map((c) => c.statement.index)).toEqual(cps.map((_, k) => k + 1));
  expect(cps.map((c) => c.statement.time)).toEqual(cps.map((_, k) => (k + 1) * 10_000_000));
  expect(cps.every((c) => !c.statement.final)).toBe(true);

  const verify = await runCli(["verify", trail, "--ca", ROOT_CA, "--json"]);
  expect(verify.code).toBe(1);
  const opened = await openTrail(chunks(after, 65536), trail, [stanzaKey("certs/rsa2048-a.key")]);
  const all: SessionEvent[] = [];
  for await (const e of opened.events()) all.push(e);
  const end = opened.end;
  expect(end.state).toBe("truncated");
  if (end.state !== "truncated") return 0;
  const last = cps.at(-1) ?? null;
  const [verdict] = JSON.parse(verify.stdout) as [Record<string, unknown>];
  expect(verdict).toMatchObject({
    valid: false,
    // Before its first checkpoint nothing is signed yet, so the required signature fails too.
    failed: cps.length === 0 ? ["signature", "complete"] : ["complete"],
    integrity: {
      state: "truncated",
      checkpoints: cps.length,
      lastCheckpoint:
        last === null
          ? null
          : {
              index: last.statement.index,
              timeUs: last.statement.time,
              records: last.statement.records,
            },
      uncoveredFrames: end.uncoveredFrames,
      reason: end.reason,
    },
    signature: { signed: cps.length },
  });

  const replay = await runCli(["replay", trail, "--key", KEY, "--format", "raw", "--ca", ROOT_CA]);
  expect(replay.code).toBe(1);
  const upTo = last === null ? 0 : last.statement.records;
  const prefix: SessionEvent[] = [];
  const again = await openTrail(chunks(after, 65536), trail, [stanzaKey("certs/rsa2048-a.key")]);
  for await (const e of again.events({ upTo })) prefix.push(e);
  const shown = output(prefix);
  expect(replay.stdout).toBe(shown);
  // The prefix is the command's output from its first line, none missing, all before the checkpoint.
  const lines = shown.split("\r\n").slice(0, -1);
  expect(lines).toEqual(lines.map((_, k) => `tick ${k}`));
  expect(prefix.every((e) => last !== null && e.time <= last.statement.time)).toBe(true);
  expect(output(all).startsWith(shown)).toBe(true);
  return cps.length;
}

describe("trailseal record killed with SIGKILL", () => {
  it("at 24 points over the session: each trail keeps what was written and verifies to its last checkpoint", async () => {
    const runs = Array.from({ length: 24 }, (_, i) => i);
    const seen: number[] = [];
    // Four recorders at a time: a short test on a shared machine, kill points still spread.
    for (let k = 0; k < runs.length; k += 4) {
      const killed = await Promise.all(runs.slice(k, k + 4).map(killOnce));
      for (const one of killed) seen.push(await checkKilled(one));
    }
    // The kills landed before the first checkpoint and after as many as seven of them.
    expect(seen.filter((n) => n === 0).length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(7);
  }, 180_000);
});

describe("trailseal record ended by a signal", () => {
  const TRAPS =
    `trap 'echo got HUP; exit 7' HUP; trap 'echo got INT; exit 8' INT; ` +
    `trap 'echo got TERM; exit 9' TERM; `;
  const cases: [NodeJS.Signals, string, number, string][] = [
    // The recorder hangs the command up, as a terminal that goes away does: whatever ended the
    // recorder, the command gets SIGHUP (its trap says so, exit 7; without a trap, 128 + 1).
    ["SIGTERM", TRAPS, 7, "got HUP\r\n"],
    ["SIGINT", TRAPS, 7, "got HUP\r\n"],
    ["SIGHUP", TRAPS, 7, "got HUP\r\n"],
    ["SIGTERM", "", 129, ""],
    // A command that ignores the hangup is killed at the second signal: 128 + 9.
    ["SIGINT", `trap '' HUP; `, 137, ""],
  ];
  for (const [signal, traps, status, last] of cases) {
    const name = `${signal}${traps === "" ? "" : traps === TRAPS ? " (traps)" : " (ignores HUP)"}`;
    it(`${name}: the command gets the hangup, exits ${status}, and the trail is complete`, async () => {
      const file = name.replace(/\W+/g, "-");
      const trail = p(`${file}.trail`);
      const pidFile = p(`${file}.pid`);
      const rec = startRecorder([
        "--policy",
        p("policy.json"),
        ...SIGNING,
        "-o",
        trail,
        "--",
        ...ticker(pidFile, traps),
      ]);
      const pgid = rec.child.pid!;
      try {
        // Two checkpoints in, so the traps are set and the session has something to close.
        await waitUntil("two checkpoints", async () =>
          (await checkpointsIn(await readTrail(trail))).length >= 2 ? true : undefined,
        );
        process.kill(pgid, signal);
        if (status === 137) {
          // The first signal's hangup is ignored; the command is seen still printing, then:
          const size = (await stat(trail)).size;
          await waitUntil("more output", async () =>
            (await stat(trail)).size > size + 200 ? true : undefined,
          );
          process.kill(pgid, signal);
        }
        expect(await rec.exited).toEqual({ code: status, signal: null });
      } finally {
        killGroup(pgid);
      }
      expect(rec.stderr()).toMatch(
        new RegExp(`\\ntrailseal: notice: session ended \\(exit status ${status}\\); `),
      );
      const bytes = await readTrail(trail);
      const opened = await openTrail(chunks(bytes, 65536), trail, [
        stanzaKey("certs/rsa2048-a.key"),
      ]);
      const evs: SessionEvent[] = [];
      for await (const e of opened.events()) evs.push(e);
      expect(opened.end.state).toBe("complete");
      const shown = output(evs);
      // Every line the command printed, none lost, then what its trap said (sh may report its
      // `sleep` hung up first).
      expect(shown).toMatch(/^(tick \d+\r\n)+(Hangup\r\n)?/);
      const ticks = shown
        .match(/^(tick \d+\r\n)+/)![0]
        .split("\r\n")
        .slice(0, -1);
      expect(ticks).toEqual(ticks.map((_, k) => `tick ${k}`));
      expect(shown.slice(shown.match(/^(tick \d+\r\n)+(Hangup\r\n)?/)![0].length)).toBe(last);
      expect(evs.at(-1)).toMatchObject({ type: "exit", status });
      expect(rec.stdout()).toBe(shown);

      const verify = await runCli(["verify", trail, "--ca", ROOT_CA]);
      const cps = await checkpointsIn(bytes);
      const final = cps.at(-1)!;
      expect(final.statement.final).toBe(true);
      expect(verify.code).toBe(0);
      expect(verify.stdout.split("\n")[0]).toBe(`${trail}: VALID`);
      expect(verify.stdout).toContain(
        `  INTEGRITY   complete: ${final.statement.records + 1} records, ${cps.length} checkpoints, final checkpoint ${cps.length} at ${final.statement.time / 1e6}s\n`,
      );
      expect(verify.stdout).toContain(
        `  SIGNATURE   valid: C=XX, O=trailseal test, CN=trailseal test signer RSA (code signing), ${cps.length} checkpoints signed\n`,
      );
    }, 60_000);
  }
});
