/**
 * `trailseal record` with real processes and a real pseudo-terminal (util-linux script), and no
 * terminal on stdin. The pty's line discipline is the default one: "\n" written by the command
 * reaches us as "\r\n" (ONLCR), and typed input is echoed back (ECHO) — the expected bytes below
 * say so explicitly.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyDetached } from "../src/sign.js";
import { TrailReader, type CheckpointRecord } from "../src/trail/reader.js";
import { openTrail } from "../src/trail/open.js";
import type { SessionEvent } from "../src/events.js";
import { ScriptPty, commandLine } from "../src/record/pty.js";
import { runCli } from "./helpers/io.js";

const ROOT = resolve(import.meta.dirname, "..");
const PKI = join(ROOT, "testdata", "pki");
let dir: string;
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trailseal-record-test-"));
  expect(
    (
      await runCli([
        "policy",
        "create",
        "--name",
        "clear",
        "--interval",
        "10",
        "-o",
        p("clear.json"),
      ])
    ).code,
  ).toBe(0);
  expect(
    (
      await runCli([
        "policy",
        "create",
        "--name",
        "signed",
        "--sign-identity",
        "signer",
        "--interval",
        "10",
        "-o",
        p("signed.json"),
      ])
    ).code,
  ).toBe(0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function events(path: string): Promise<{
  header: Awaited<ReturnType<typeof openTrail>>["reader"]["parsed"]["header"];
  events: SessionEvent[];
}> {
  const opened = await openTrail(createReadStream(path), path, []);
  const all: SessionEvent[] = [];
  for await (const e of opened.events()) all.push(e);
  expect(opened.end.state).toBe("complete");
  return { header: opened.reader.parsed.header, events: all };
}

function bytes(evs: readonly SessionEvent[], type: "output" | "input"): string {
  return Buffer.concat(evs.flatMap((e) => (e.type === type ? [e.data] : []))).toString("latin1");
}

async function checkpoints(
  path: string,
): Promise<{ records: CheckpointRecord[]; end: TrailReader["end"] }> {
  const reader = await TrailReader.open(createReadStream(path), path);
  const records: CheckpointRecord[] = [];
  for await (const r of reader.records()) if (r.type === "checkpoint") records.push(r);
  return { records, end: reader.end };
}

/**
 * The header's user as liveMetadata finds it: none when the uid has no password-database entry
 * (a container run with an arbitrary uid), since the env given here has no USER either.
 */
function userName(): { user?: string } {
  try {
    return { user: userInfo().username };
  } catch {
    return {};
  }
}

/**
 * The environment of the CLI run as a child process: PATH only, not the runner's. NODE_OPTIONS or
 * NODE_EXTRA_CA_CERTS there would make Node print warnings into the terminal the tests compare.
 */
const CHILD_ENV = { PATH: process.env["PATH"] };

/** The CLI in a process of its own (and its own process group), with no terminal at all. */
function recorder(args: readonly string[]) {
  return spawn(
    process.execPath,
    [
      "--import",
      join(ROOT, "node_modules", "tsx", "dist", "esm", "index.mjs"),
      join(ROOT, "src", "cli", "bin.ts"),
      "record",
      ...args,
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true, env: CHILD_ENV },
  );
}

/** Whether a process runs (a zombie has ended: it only waits to be reaped). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return stat !== null && !/^\d+ \(.*\) Z /s.test(stat);
}

/** Ends what is left of a recorder's process group (`script`, if it outlived the recorder). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

describe("trailseal record", () => {
  it("with its TSA down, records everything and says how many checkpoints are unstamped", async () => {
    const policy = await runCli([
      "policy",
      "create",
      "--name",
      "down-tsa",
      "--timestamp",
      "http://127.0.0.1:9/",
      "--interval",
      "10",
      "-o",
      p("down-tsa.json"),
    ]);
    expect(policy.code, policy.stderr).toBe(0);
    const r = await runCli(
      ["record", "--policy", p("down-tsa.json"), "-o", p("down.trail"), "--", "printf", "kept"],
      { env: { TERM: "xterm-256color", SHELL: "/bin/bash", PATH: process.env["PATH"] } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("kept");
    expect(r.stderr).toMatch(
      /\ntrailseal: warning: checkpoint 1 is unstamped: TSA http:\/\/127\.0\.0\.1:9\/ is unreachable/,
    );
    expect(r.stderr).toMatch(
      /\ntrailseal: notice: session ended \(exit status 0\); .*down\.trail: \d+ records, 1 checkpoint \(1 unstamped\), \d+\.\d s\n$/,
    );
    const { events: evs } = await events(p("down.trail"));
    expect(bytes(evs, "output")).toBe("kept");
  });

  it("records the output bytes exactly, passes them through, and exits with the command's status", async () => {
    const argv = ["sh", "-c", "printf hello; sleep 0.2; printf world; exit 3"];
    const before = Date.now() / 1000;
    const r = await runCli(
      ["record", "--policy", p("clear.json"), "-o", p("hello.trail"), "--", ...argv],
      {
        env: { TERM: "xterm-256color", SHELL: "/bin/bash", PATH: process.env["PATH"] },
      },
    );
    expect(r.stderr).toBe(
      `trailseal: notice: recording to ${p("hello.trail")} (policy clear, checkpoint every 10 s); the session ends when the command exits\n` +
        `trailseal: notice: session ended (exit status 3); ${p("hello.trail")}: ${r.stderr.match(/: (\d+ records, 1 checkpoint, \d+\.\d s)\n$/)?.[1]}\n`,
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("helloworld");

    const { header, events: evs } = await events(p("hello.trail"));
    expect(bytes(evs, "output")).toBe("helloworld");
    expect(bytes(evs, "input")).toBe("");
    const exit = evs.filter((e) => e.type === "exit");
    expect(exit).toMatchObject([{ type: "exit", status: 3 }]);
    // The 0.2 s pause is in the recorded timing: "world" comes at least 200 ms after "hello".
    const out = evs.filter(
      (e): e is Extract<SessionEvent, { type: "output" }> => e.type === "output",
    );
    const world = out.find((e) => Buffer.from(e.data).toString().includes("w"))!;
    expect(world.time - out[0]!.time).toBeGreaterThanOrEqual(190_000);
    expect(exit[0]!.time).toBeGreaterThanOrEqual(world.time);
    const { startTime, ...session } = header.session;
    expect(session).toEqual({
      command: "sh -c 'printf hello; sleep 0.2; printf world; exit 3'",
      cols: 80,
      rows: 24,
      ...userName(),
      host: hostname(),
      env: { TERM: "xterm-256color", SHELL: "/bin/bash" },
      source: "live",
    });
    expect(startTime).toBeGreaterThanOrEqual(Math.floor(before));
    expect(startTime).toBeLessThanOrEqual(Date.now() / 1000);
    expect(header.policy).toMatchObject({
      name: "clear",
      signing: false,
      timestamping: null,
      interval: 10,
    });
    // The file is in place (no temporary), readable by the owner only.
    expect((await stat(p("hello.trail"))).mode & 0o777).toBe(0o600);
  }, 20_000);

  it("records typed input as upstream, sized to --cols/--rows", async () => {
    const r = await runCli(
      [
        "record",
        "-q",
        "--policy",
        p("clear.json"),
        "--cols",
        "100",
        "--rows",
        "30",
        "-o",
        p("input.trail"),
        "--",
        "sh",
        "-c",
        "read x; echo got:$x; stty size; exit 5",
      ],
      { stdin: "abc\n", env: { PATH: process.env["PATH"] } },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(5);
    const { header, events: evs } = await events(p("input.trail"));
    expect(bytes(evs, "input")).toBe("abc\n");
    // The pty echoes the line ("abc\r\n"), then the command's own output, ONLCR applied.
    expect(bytes(evs, "output")).toBe("abc\r\ngot:abc\r\n30 100\r\n");
    expect(r.stdout).toBe("abc\r\ngot:abc\r\n30 100\r\n");
    expect(header.session).toMatchObject({ cols: 100, rows: 30, env: {} });
    expect(evs.at(-1)).toMatchObject({ type: "exit", status: 5 });
  }, 20_000);

  it("refuses an existing output, an unsigned run of a signing policy, and a missing command", async () => {
    await writeFile(p("exists.trail"), "x");
    const exists = await runCli([
      "record",
      "--policy",
      p("clear.json"),
      "-o",
      p("exists.trail"),
      "--",
      "true",
    ]);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toBe(
      `trailseal: error: ${p("exists.trail")} already exists\ntrailseal: hint: choose another name or pass --force\n`,
    );
    expect(await readFile(p("exists.trail"), "utf8")).toBe("x");

    const unsigned = await runCli([
      "record",
      "--policy",
      p("signed.json"),
      "-o",
      p("unsigned.trail"),
      "--",
      "true",
    ]);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toBe(
      "trailseal: error: policy signed enables signing (identity signer), but no signing certificate and key were given\n" +
        "trailseal: hint: pass --sign-cert FILE --sign-key FILE, or --home DIR to use the signing identity 'trailseal init' made\n",
    );
    await expect(stat(p("unsigned.trail"))).rejects.toMatchObject({ code: "ENOENT" });

    const none = await runCli(["record", "--policy", p("clear.json"), "-o", p("none.trail")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      "trailseal: error: missing required argument 'command'\ntrailseal: hint: see --help\n",
    );
  });

  it("quotes the command line for the header as a shell would read it", () => {
    expect(commandLine(["ssh", "admin@db1"])).toBe("ssh admin@db1");
    expect(commandLine(["sh", "-c", "echo 'hi' $HOME"])).toBe(`sh -c 'echo '\\''hi'\\'' $HOME'`);
    expect(commandLine(["printf", ""])).toBe("printf ''");
  });

  it("names util-linux script when it is missing, with or without setpriv", async () => {
    for (const without of [{}, { setpriv: null }]) {
      await expect(
        ScriptPty.spawn({
          command: ["true"],
          cols: 80,
          rows: 24,
          env: process.env,
          cwd: dir,
          script: join(dir, "no-such-script"),
          ...without,
        }),
      ).rejects.toMatchObject({
        code: "IO",
        message: "cannot run 'script' (util-linux), which makes the pseudo-terminal",
      });
    }
  });

  it("does not start the command when the recorder is no longer script's parent", async () => {
    // A recorder killed before setpriv set the parent-death signal leaves `script` orphaned. A
    // stand-in setpriv that runs `script` as its child, not by exec, gives `script` the same
    // state: a parent that is not the recorder.
    const setpriv = p("setpriv-not-exec");
    await writeFile(setpriv, '#!/bin/sh\nshift 3\n"$@"\nexit $?\n', { mode: 0o755 });
    const marker = p("started.marker");
    const pty = await ScriptPty.spawn({
      command: ["sh", "-c", `echo started > '${marker}'`],
      cols: 80,
      rows: 24,
      env: process.env,
      cwd: dir,
      setpriv,
    });
    let out = "";
    pty.output.on("data", (c: Buffer) => (out += c.toString("latin1")));
    expect(await pty.exited).toBe(125);
    expect(out).toBe(
      "trailseal record: script's parent is no longer the recorder (it has ended?); the command was not started\r\n",
    );
    await expect(stat(marker)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("on SIGTERM hangs up the command and closes the trail with its final checkpoint", async () => {
    const trail = p("term.trail");
    const child = recorder([
      "--policy",
      p("clear.json"),
      "-o",
      trail,
      "--",
      "sh",
      "-c",
      'trap "echo hung up; exit 9" HUP; echo ready; while :; do sleep 0.1; done',
    ]);
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const deadline = Date.now() + 10_000;
      // "ready\r\n" as the command prints it through the pty (ONLCR): the bare word is already in
      // the header's command line, written before the command starts, and a SIGTERM then would
      // come before its trap is set.
      while (!(await readFile(trail).catch(() => Buffer.alloc(0))).includes("ready\r\n")) {
        if (Date.now() > deadline) throw new Error(`the command never started; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(child.pid!, "SIGTERM");
      expect(await exited).toBe(9);
    } finally {
      killGroup(child.pid!);
    }
    expect(stderr).toMatch(/\ntrailseal: notice: session ended \(exit status 9\)/);
    const { events: evs } = await events(trail); // complete: asserted inside
    // The whole job is hung up: sh may report its `sleep` killed ("Hangup") before its trap runs.
    expect(bytes(evs, "output")).toMatch(/^ready\r\n(Hangup\r\n)?hung up\r\n$/);
    expect(evs.at(-1)).toMatchObject({ type: "exit", status: 9 });
    const { records } = await checkpoints(trail);
    expect(records.map((c) => c.statement.final)).toEqual([true]);
  }, 20_000);

  it("in a terminal: raw mode without output post-processing, SIGWINCH as resize, terminal restored", async () => {
    // The user's terminal is an outer pty made by `script` too; the test plays the user: it
    // types into it and resizes it with `stty -F`, which sends SIGWINCH to the recorder.
    const trail = p("tty.trail");
    const ttyName = p("outer.tty");
    const node = [
      process.execPath,
      "--import",
      join(ROOT, "node_modules", "tsx", "dist", "esm", "index.mjs"),
      join(ROOT, "src", "cli", "bin.ts"),
    ];
    const inner = "stty size; read x; stty size; echo got:$x";
    const outer = [
      "stty cols 90 rows 20",
      `tty > ${commandLine([ttyName])}`,
      `stty -g > ${commandLine([p("before.stty")])}`,
      `${commandLine([...node, "record", "-q", "--policy", p("clear.json"), "-o", trail, "--", "sh", "-c", inner])}`,
      "status=$?",
      `stty -g > ${commandLine([p("after.stty")])}`,
      "exit $status",
    ].join("; ");
    const child = spawn("script", ["-q", "-e", "-c", outer, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...CHILD_ENV, SHELL: "/bin/sh" },
    });
    const screen: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => screen.push(c));
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    const waitFor = async (what: string) => {
      const deadline = Date.now() + 10_000;
      while (!Buffer.concat(screen).toString("latin1").includes(what)) {
        if (Date.now() > deadline)
          throw new Error(`never saw ${JSON.stringify(what)}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor("20 90\r\n");
      const tty = (await readFile(ttyName, "utf8")).trim();
      await new Promise<void>((ok, fail) =>
        spawn("stty", ["-F", tty, "cols", "100", "rows", "40"], { stdio: "ignore" }).once(
          "close",
          (c) => (c === 0 ? ok() : fail(new Error(`stty -F exited ${c}`))),
        ),
      );
      // The recorder sees the resize and passes it on before the line is typed.
      await new Promise((r) => setTimeout(r, 500));
      child.stdin.write("yes\r"); // raw mode: Enter arrives as "\r", the inner pty makes it "\n"
      await waitFor("got:yes\r\n");
      child.stdin.end();
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }

    const { header, events: evs } = await events(trail);
    expect(header.session).toMatchObject({ cols: 90, rows: 20 });
    // `stty -F … cols 100 rows 40` sets the width and the height with two ioctls, so the
    // recorder may see (and faithfully record) the 100x20 in between.
    const resizes = evs.filter((e) => e.type === "resize").map((e) => `${e.cols}x${e.rows}`);
    expect([["100x40"], ["100x20", "100x40"]]).toContainEqual(resizes);
    const recorded = bytes(evs, "output");
    expect(recorded).toBe("20 90\r\nyes\r\n40 100\r\ngot:yes\r\n");
    // What the user saw is exactly what was recorded: no "\r\r\n" from the outer terminal.
    expect(Buffer.concat(screen).toString("latin1")).toBe(recorded);
    expect(bytes(evs, "input")).toBe("yes\r");
    expect(await readFile(p("after.stty"), "utf8")).toBe(await readFile(p("before.stty"), "utf8"));
  }, 30_000);

  it("killed with SIGKILL mid-way, leaves a trail that verifies up to its last signed checkpoint", async () => {
    const trail = p("killed.trail");
    // The policy minimum is 10 s, so the first checkpoint lands 10 s into the session.
    const child = recorder([
      "--policy",
      p("signed.json"),
      "--sign-cert",
      join(PKI, "signer-rsa-chain.pem"),
      "--sign-key",
      join(PKI, "signer-rsa.key"),
      "-o",
      trail,
      "--",
      "sh",
      "-c",
      `echo $$ > ${commandLine([p("killed.pid")])}; ` +
        "i=0; while [ $i -lt 60 ]; do echo tick $i; i=$((i+1)); sleep 0.5; done",
    ]);
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const gone = new Promise<NodeJS.Signals | null>((r) =>
      child.once("exit", (_code, signal) => r(signal)),
    );
    try {
      // Wait for the first checkpoint on disk, then for a little output after it.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const size = await stat(trail).then(
          (s) => s.size,
          () => 0,
        );
        if (size > 0 && (await checkpoints(trail)).records.length > 0) break;
        if (Date.now() > deadline) throw new Error(`no checkpoint within 20 s; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 1200));
      process.kill(child.pid!, "SIGKILL");
      expect(await gone).toBe("SIGKILL");
      // The session must not outlive its recorder: nobody would record it.
      const pid = Number(await readFile(p("killed.pid"), "utf8"));
      const ended = Date.now() + 5_000;
      while (await alive(pid)) {
        if (Date.now() > ended) throw new Error(`the command (pid ${pid}) outlived the recorder`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      killGroup(child.pid!);
    }

    const { records, end } = await checkpoints(trail);
    expect(end.state).toBe("truncated");
    if (end.state !== "truncated") return;
    expect(end.reason).toBe("the trail has no final checkpoint");
    expect(records).toHaveLength(1);
    const cp = end.lastCheckpoint!;
    expect(cp.statement).toMatchObject({ index: 1, time: 10_000_000, final: false });
    expect(cp.time).toBe(10_000_000);
    const after = end.uncoveredFrames;
    expect(after).toBeGreaterThanOrEqual(1); // ticks after 10 s (two, unless the machine is slow)
    // The checkpoint is signed, during the session, by the given identity.
    expect(cp.signature.byteLength).toBeGreaterThan(0);
    const root = new Uint8Array(await readFile(join(PKI, "root-ca.der")));
    const facts = await verifyDetached(cp.signature, cp.content, { anchors: [root] });
    expect(facts.signer.subject).toMatch(/CN=/);
    expect(facts.codeSigning).toBe(true);

    // What the verified prefix holds: every tick before 10 s, none after.
    const opened = await openTrail(createReadStream(trail), trail, []);
    const prefix: SessionEvent[] = [];
    for await (const e of opened.events({ upTo: cp.statement.records })) prefix.push(e);
    const expected = bytes(prefix, "output");
    expect(expected).toMatch(/^tick 0\r\ntick 1\r\n(tick \d+\r\n)+$/);
    const ticks = expected.split("\r\n").length - 1;
    expect(ticks).toBeGreaterThanOrEqual(12); // 20 at 0.5 s each; fewer on a loaded machine
    expect(ticks).toBeLessThanOrEqual(21);
    expect(prefix.every((e) => e.time < 10_000_000)).toBe(true);

    // replay shows exactly that prefix, with the warning, and exits 1 (the trail is not complete).
    const r = await runCli(["replay", trail, "--format", "raw", "--ca", join(PKI, "root-ca.pem")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(expected);
    expect(r.stderr).toBe(
      `trailseal: warning: ${trail} is truncated (the trail has no final checkpoint): verification stops at checkpoint 1 (session time 10s); ${after} frames after it are not covered by any checkpoint\n` +
        "trailseal: hint: only the verified prefix is replayed; pass --unverified-tail for the rest\n",
    );
  }, 40_000);
});
