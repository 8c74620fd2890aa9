/**
 * Importers against REAL recordings made here, in a temp dir, with the Debian `asciinema`
 * (2.2, which writes asciicast v2 only) and util-linux `script`, all under a pseudo-terminal.
 * asciicast v3 recordings are crafted from the real v2 ones by `toV3` below, written from the
 * asciicast v3 spec (https://docs.asciinema.org/manual/asciicast/v3/) independently of our writer.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAsciicast } from "../src/formats/asciicast.js";
import { readScriptAdvanced, readScriptClassic } from "../src/formats/script.js";
import { micros, type SessionEvent } from "../src/events.js";
import { runCli } from "./helpers/io.js";
import {
  bytesOf,
  chunked,
  collect,
  file,
  ioBytes,
  logBody,
  once,
  sh,
  shellQuote as q,
  str,
  tempDir,
  text,
} from "./helpers/recordings.js";

let dir: string;
let cleanup: () => void;

/** A real v2 recording's text converted to v3 by the spec: term object, relative intervals. */
function toV3(v2: string, extraLines: string[] = []): string {
  const [headerLine, ...rest] = v2.split("\n");
  const h = JSON.parse(headerLine!) as Record<string, unknown>;
  const env = h["env"] as Record<string, string> | undefined;
  const header: Record<string, unknown> = {
    version: 3,
    term: {
      cols: h["width"],
      rows: h["height"],
      ...(env?.["TERM"] === undefined ? {} : { type: env["TERM"] }),
    },
    timestamp: h["timestamp"],
    ...(h["command"] === undefined ? {} : { command: h["command"] }),
    env,
    tags: ["test"],
  };
  const out = [JSON.stringify(header), "# crafted from a real asciinema 2.2 recording"];
  let prev = 0;
  for (const line of rest) {
    if (line === "") continue;
    const [t, code, data] = JSON.parse(line) as [number, string, string];
    const us = micros(t);
    out.push(JSON.stringify([(us - prev) / 1e6, code, data]));
    prev = us;
  }
  out.push(...extraLines);
  return out.join("\n") + "\n";
}

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  // asciinema rec without --stdin, inside script (which also logs what reached the terminal).
  const plainCmd = String.raw`printf 'hello \303\251\n'; sleep 0.2; printf '\033[1mbold\033[0m\n'; sleep 0.2; printf bye`;
  sh(
    dir,
    `script -q --log-out outer-plain.log -ec ${q(`stty cols 100 rows 30; asciinema rec -q -c ${q(plainCmd)} plain.cast`)} > /dev/null`,
  );
  // asciinema rec --stdin: keystrokes are typed only once the command's prompt has reached the
  // outer terminal (script -f flushes its log), so asciinema has the terminal in raw mode.
  // "\162eady" so the command line (in the log's header) does not itself contain "ready".
  const stdinCmd = String.raw`printf '\162eady> '; read x; echo "got $x"; printf '\303\251 caf\303\251\n'`;
  sh(
    dir,
    `(for i in $(seq 300); do grep -q ready outer-stdin.log 2>/dev/null && break; sleep 0.05; done; sleep 0.3; printf 'secret\\r'; sleep 1) | ` +
      `script -qf --log-out outer-stdin.log -ec ${q(`stty cols 100 rows 30; asciinema rec --stdin -q -c ${q(stdinCmd)} stdin.cast`)} > /dev/null`,
  );
  // script --log-io / --log-timing (advanced) with typed input.
  const ioCmd = String.raw`read x; echo "got $x"; printf '\303\251\n'; exit 3`;
  sh(
    dir,
    `(sleep 0.5; printf 'secret\\r'; sleep 1) | script -q --log-io io.log --log-timing io.tm -c ${q(ioCmd)} > /dev/null`,
  );
  // classic script -t.
  const classicCmd = String.raw`printf hello; sleep 0.2; printf ' \303\251\n'; sleep 0.1; printf done`;
  sh(dir, `script -q -t 2>classic.tm -c ${q(classicCmd)} classic.ts > /dev/null`);
}, 60_000);

afterAll(() => cleanup());

describe("asciicast v2 from asciinema rec", () => {
  it("imports output bytes exactly (without --stdin), matching what reached the terminal", async () => {
    const cast = file(join(dir, "plain.cast"));
    const rec = await readAsciicast(once(cast), { source: "plain.cast" });
    expect(rec.metadata).toMatchObject({ source: "asciicast-v2", cols: 100, rows: 30 });
    expect(rec.metadata.env?.["SHELL"]).toBe("/bin/bash");
    expect(typeof rec.metadata.startTime).toBe("number");
    const events = await collect(rec.events);
    const out = bytesOf(events, "output");
    expect(str(out)).toBe(str(text("hello é\r\n\x1b[1mbold\x1b[0m\r\nbye")));
    expect(bytesOf(events, "input").byteLength).toBe(0);
    // The outer script log holds what asciinema passed to the terminal: the same bytes.
    const outer = file(join(dir, "outer-plain.log"));
    expect(str(logBody(outer, out.byteLength))).toBe(str(out));
    // Times are the recording's own, to the microsecond, never going back.
    const lines = readFileSync(join(dir, "plain.cast"), "utf8").trim().split("\n").slice(1);
    expect(events.map((e) => e.time)).toEqual(
      lines.map((l) => micros((JSON.parse(l) as [number])[0])),
    );
  });

  it("imports --stdin keystrokes as input events", async () => {
    const rec = await readAsciicast(once(file(join(dir, "stdin.cast"))), { source: "stdin.cast" });
    const events = await collect(rec.events);
    expect(str(bytesOf(events, "input"))).toBe("secret\r");
    const out = bytesOf(events, "output");
    expect(str(out)).toBe(str(text("ready> secret\r\ngot secret\r\né café\r\n")));
    const outer = file(join(dir, "outer-stdin.log"));
    expect(str(logBody(outer, out.byteLength))).toBe(str(out));
    // The keystrokes come after the prompt and before the command's answer.
    const input = events.findIndex((e) => e.type === "input");
    const prompt = events.findIndex((e) => e.type === "output" && str(e.data).includes("ready> "));
    const answer = events.findIndex(
      (e) => e.type === "output" && str(e.data).includes("got secret"),
    );
    expect(prompt).toBeLessThan(input);
    expect(input).toBeLessThan(answer);
  });

  it("does not depend on chunking: whole, byte by byte, odd chunks", async () => {
    const cast = file(join(dir, "stdin.cast"));
    const whole = await collect((await readAsciicast(once(cast))).events);
    for (const sizes of [[1], [2, 3, 7], [4096]]) {
      const rec = await readAsciicast(chunked(cast, sizes));
      expect(await collect(rec.events)).toEqual(whole);
    }
  });

  it("reads a v3 recording crafted from the real one per the v3 spec to the same events", async () => {
    const v2 = readFileSync(join(dir, "stdin.cast"), "utf8");
    const v2events = await collect((await readAsciicast(once(text(v2)))).events);
    const v3 = toV3(v2, [
      '[0.25, "r", "90x20"]',
      '[0.5, "m", "checkpoint"]',
      "# a comment",
      '[0.125, "x", "0"]',
    ]);
    const rec = await readAsciicast(chunked(text(v3), [5]), { source: "stdin-v3.cast" });
    expect(rec.metadata).toMatchObject({
      source: "asciicast-v3",
      cols: 100,
      rows: 30,
      extra: { term: { type: "xterm" }, tags: ["test"] },
    });
    const events = await collect(rec.events);
    const last = v2events[v2events.length - 1]!.time;
    expect(events).toEqual([
      ...v2events,
      { type: "resize", time: last + 250_000, cols: 90, rows: 20 },
      { type: "marker", time: last + 750_000, label: "checkpoint" },
      { type: "exit", time: last + 875_000, status: 0 },
    ]);
  });
});

/** Sum of `<seconds>.<micros>` delays computed on the strings, independent of the reader. */
function delayMicros(d: string): number {
  const [s, f] = d.split(".");
  return Number(s) * 1_000_000 + Number((f ?? "").padEnd(6, "0"));
}

describe("util-linux script logs", () => {
  it("imports --log-io/--log-timing: input and output bytes exactly as the log holds them", async () => {
    const log = file(join(dir, "io.log"));
    const timing = readFileSync(join(dir, "io.tm"), "utf8");
    const rec = await readScriptAdvanced(once(log), once(text(timing)), {
      source: "io.log",
      timingSource: "io.tm",
    });
    expect(rec.metadata).toMatchObject({
      source: "script-advanced",
      command: expect.stringContaining("read x"),
    });
    expect(rec.metadata.env?.["SHELL"]).toBe("/bin/bash");
    expect(typeof rec.metadata.startTime).toBe("number");
    const events = await collect(rec.events);
    expect(str(bytesOf(events, "input"))).toBe("secret\r");
    expect(str(bytesOf(events, "output"))).toBe(str(text("secret\r\ngot secret\r\né\r\n")));
    // Every I/O byte of the log, in log order, and the times to the microsecond.
    const entries = timing
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const total = entries
      .filter((e) => e[0] === "I" || e[0] === "O")
      .reduce((n, e) => n + Number(e[2]), 0);
    expect(str(ioBytes(events))).toBe(str(logBody(log, total)));
    let t = 0;
    const expected: number[] = [];
    for (const e of entries) {
      t += delayMicros(e[1]!);
      if (e[0] === "I" || e[0] === "O") expected.push(t);
    }
    expect(events.filter((e) => e.type !== "exit").map((e) => e.time)).toEqual(expected);
    expect(events[events.length - 1]).toMatchObject({ type: "exit", status: 3 });
  });

  it("imports the advanced log independently of chunking", async () => {
    const log = file(join(dir, "io.log"));
    const timing = file(join(dir, "io.tm"));
    const whole = await collect((await readScriptAdvanced(once(log), once(timing))).events);
    const bytewise = await collect(
      (await readScriptAdvanced(chunked(log, [1]), chunked(timing, [1]))).events,
    );
    expect(concatAll(bytewise)).toEqual(concatAll(whole));
    expect(bytewise.map((e) => e.time)).toEqual(whole.map((e) => e.time));
  });

  it("imports the classic typescript + timing pair, skipping the header line as scriptreplay does", async () => {
    const ts = file(join(dir, "classic.ts"));
    const timing = readFileSync(join(dir, "classic.tm"), "utf8");
    const rec = await readScriptClassic(once(ts), once(text(timing)), { source: "classic.ts" });
    expect(rec.metadata).toMatchObject({
      source: "script-classic",
      command: expect.stringContaining("printf hello"),
    });
    expect(typeof rec.metadata.startTime).toBe("number");
    const events = await collect(rec.events);
    expect(str(bytesOf(events, "output"))).toBe(str(text("hello é\r\ndone")));
    const entries = timing
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    let t = 0;
    expect(events.map((e) => e.time)).toEqual(entries.map((e) => (t += delayMicros(e[0]!))));
  });

  it("keeps TERM, terminal size and SIGWINCH resizes from a session run in tmux", async () => {
    const { dir: tdir, cleanup: tclean } = tempDir();
    const sock = `trailseal-test-${process.pid}`;
    try {
      sh(
        tdir,
        `tmux -L ${sock} -f /dev/null new-session -d -s rec -c ${q(tdir)} -x 90 -y 25 ${q("script -qf --log-io t.log --log-timing t.tm -c 'sleep 1.2; tput cols; sleep 0.3'")}; ` +
          // script buffers its timing file, so wait for the log file to exist, then a little.
          `for i in $(seq 100); do [ -e t.log ] && break; sleep 0.05; done; sleep 0.3; ` +
          `tmux -L ${sock} resize-window -t rec -x 70 -y 20; ` +
          `for i in $(seq 100); do grep -q EXIT_CODE t.tm 2>/dev/null && break; sleep 0.05; done; ` +
          `tmux -L ${sock} kill-server 2>/dev/null || true`,
      );
      expect(existsSync(join(tdir, "t.tm"))).toBe(true);
      const rec = await readScriptAdvanced(
        once(file(join(tdir, "t.log"))),
        once(file(join(tdir, "t.tm"))),
      );
      expect(rec.metadata).toMatchObject({ cols: 90, rows: 25 });
      expect(rec.metadata.env?.["TERM"]).toMatch(/tmux|screen/);
      expect(rec.metadata.extra?.["TTY"]).toMatch(/^\/dev\/pts\//);
      const events = await collect(rec.events);
      expect(events.filter((e) => e.type === "resize")).toEqual([
        expect.objectContaining({ cols: 70, rows: 20 }),
      ]);
      expect(str(bytesOf(events, "output"))).toBe("70\r\n");
    } finally {
      tclean();
    }
  }, 30_000);
});

function concatAll(events: SessionEvent[]): string[] {
  return events.map((e) =>
    e.type === "input" || e.type === "output" ? `${e.type}:${e.time}` : JSON.stringify(e),
  );
}

describe("real recordings through a trail", () => {
  const certs = (n: string) => join(import.meta.dirname, "..", "testdata", "certs", n);
  /** [type, microseconds, hex bytes] of every input and output event. */
  type Io = [string, number, string][];

  /** The events as the recording itself holds them, read without our importers. */
  function castEvents(name: string): Io {
    return readFileSync(join(dir, name), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string])
      .filter(([, code]) => code === "o" || code === "i")
      .map(([t, code, data]) => [
        code === "o" ? "output" : "input",
        micros(t),
        Buffer.from(data, "utf8").toString("hex"),
      ]);
  }
  function scriptEvents(log: string, timing: string): Io {
    const body = file(join(dir, log));
    let offset = body.indexOf(0x0a) + 1; // after "Script started on …"
    let t = 0;
    const out: Io = [];
    for (const line of readFileSync(join(dir, timing), "utf8").trim().split("\n")) {
      const f = line.split(" ");
      const classic = /^\d/.test(f[0]!);
      t += delayMicros(classic ? f[0]! : f[1]!);
      if (!classic && f[0] !== "I" && f[0] !== "O") continue;
      const n = Number(classic ? f[1] : f[2]);
      const type = classic || f[0] === "O" ? "output" : "input";
      out.push([type, t, Buffer.from(body.subarray(offset, offset + n)).toString("hex")]);
      offset += n;
    }
    return out;
  }

  beforeAll(async () => {
    const r = await runCli(
      [
        "policy",
        "create",
        "--name",
        "real",
        "--encrypt",
        certs("rsa2048-a.crt"),
        "--upstream",
        certs("rsa2048-c.crt"),
        "-o",
        "real.json",
      ],
      { cwd: dir },
    );
    expect(r).toMatchObject({ code: 0, stderr: "" });
  });

  it.each([
    ["asciinema rec --stdin", ["stdin.cast"], () => castEvents("stdin.cast"), true],
    ["asciinema rec", ["plain.cast"], () => castEvents("plain.cast"), false],
    [
      "script --log-io",
      ["io.log", "--timing", "io.tm"],
      () => scriptEvents("io.log", "io.tm"),
      true,
    ],
    [
      "script -t",
      ["classic.ts", "--timing", "classic.tm"],
      () => scriptEvents("classic.ts", "classic.tm"),
      false,
    ],
  ])(
    "%s: sealed, replays exactly its recorded output and input bytes and times",
    async (_, input, expected, typed) => {
      const trail = `${input[0]}.trail`;
      const sealed = await runCli(["seal", "--policy", "real.json", ...input, "-o", trail], {
        cwd: dir,
      });
      expect(sealed).toMatchObject({ code: 0, stderr: "" });
      const keys = ["--key", certs("rsa2048-a.key"), "--key", certs("rsa2048-c.key")];
      const r = await runCli(["replay", trail, ...keys, "--format", "jsonl"], { cwd: dir });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      const replayed: Io = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { t: number; type: string; data?: string; encoding?: string })
        .filter((e) => e.type === "output" || e.type === "input")
        .map((e) => [
          e.type,
          micros(e.t),
          Buffer.from(e.data!, e.encoding === "base64" ? "base64" : "utf8").toString("hex"),
        ]);
      const want = expected();
      expect(want.some(([type]) => type === "input")).toBe(typed);
      expect(replayed).toEqual(want);
    },
  );

  it("script --log-io, sealed: the script export plays in scriptreplay as exactly its output", async () => {
    const keys = ["--key", certs("rsa2048-a.key")];
    const sealed = await runCli(
      ["seal", "--policy", "real.json", "io.log", "--timing", "io.tm", "-o", "sr.trail"],
      { cwd: dir },
    );
    expect(sealed).toMatchObject({ code: 0, stderr: "" });
    const r = await runCli(
      [
        "replay",
        "sr.trail",
        ...keys,
        "--format",
        "script",
        "-o",
        "sr.ts",
        "--timing-output",
        "sr.tm",
      ],
      { cwd: dir },
    );
    expect(r).toMatchObject({ code: 0 });
    const played = sh(dir, "scriptreplay --timing sr.tm --divisor 100 sr.ts");
    const output = scriptEvents("io.log", "io.tm")
      .filter(([type]) => type === "output")
      .map(([, , hex]) => hex)
      .join("");
    expect(Buffer.from(played).toString("hex")).toBe(`${output}0a`); // scriptreplay adds "\n"
  });
});
