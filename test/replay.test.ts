/**
 * Exporters and the player. The asciicast and script exports are checked by the real players:
 * `asciinema cat` (Debian asciinema 2.2) and util-linux `scriptreplay`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent, SessionMetadata } from "../src/events.js";
import { readAsciicast } from "../src/formats/asciicast.js";
import { readScriptAdvanced, readScriptClassic } from "../src/formats/script.js";
import { writeAsciicastV2, writeAsciicastV3 } from "../src/replay/asciicast.js";
import { writeJsonl } from "../src/replay/jsonl.js";
import { play } from "../src/replay/player.js";
import { writeRaw } from "../src/replay/raw.js";
import { writeScript } from "../src/replay/script.js";
import {
  bytesOf,
  collect,
  concatBytes,
  file,
  once,
  sh,
  shellQuote as q,
  str,
  tempDir,
  text,
} from "./helpers/recordings.js";
import { runCli } from "./helpers/io.js";

let dir: string;
let cleanup: () => void;
let real: { metadata: SessionMetadata; events: SessionEvent[] };

async function* iter(events: readonly SessionEvent[]): AsyncGenerator<SessionEvent> {
  yield* events;
}

function sink(): { parts: Uint8Array[]; write: (c: Uint8Array) => void; bytes: () => Uint8Array } {
  const parts: Uint8Array[] = [];
  return { parts, write: (c) => void parts.push(c), bytes: () => concatBytes(parts) };
}

const out = (time: number, data: Uint8Array | string): SessionEvent => ({
  type: "output",
  time,
  data: typeof data === "string" ? text(data) : data,
});

/** Output with multibyte characters split across events, and a resize, input, marker, exit. */
const SPLIT: SessionEvent[] = (() => {
  const s = text("é € 😀 done\r\n");
  return [
    out(0, s.subarray(0, 1)),
    out(100_000, s.subarray(1, 5)), // ends inside "€"
    { type: "input", time: 150_000, data: text("x") },
    out(200_000, s.subarray(5, 9)), // ends inside 😀
    { type: "resize", time: 250_000, cols: 100, rows: 40 },
    out(300_000, s.subarray(9, 10)),
    { type: "marker", time: 350_000, label: "here" },
    out(1_400_000, s.subarray(10)),
    { type: "exit", time: 1_500_000, status: 2 },
  ];
})();
const SPLIT_OUT = bytesOf(SPLIT, "output");

/** `asciinema cat FILE` run under a pty (it opens /dev/tty), stdout captured byte-exact. */
function asciinemaCat(path: string): Uint8Array {
  sh(dir, `script -qec ${q(`asciinema cat ${q(path)} > cat.out`)} /dev/null`);
  return file(join(dir, "cat.out"));
}

/** scriptreplay prints one "\n" of its own after the last step. */
function withoutFinalNewline(b: Uint8Array): Uint8Array {
  expect(b[b.byteLength - 1]).toBe(0x0a);
  return b.subarray(0, b.byteLength - 1);
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  const cmd = String.raw`read x; echo "got $x"; printf '\033[1m\303\251t\303\251\033[0m\n'; exit 4`;
  sh(
    dir,
    `(sleep 0.3; printf 'pw\\r'; sleep 1) | script -q --log-io io.log --log-timing io.tm -c ${q(cmd)} > /dev/null`,
  );
  const rec = await readScriptAdvanced(
    once(file(join(dir, "io.log"))),
    once(file(join(dir, "io.tm"))),
  );
  real = { metadata: rec.metadata, events: await collect(rec.events) };
}, 60_000);

afterAll(() => cleanup());

describe("asciicast export", () => {
  it("asciinema cat of our v2 output prints exactly the downstream bytes (real recording)", async () => {
    const s = sink();
    await writeAsciicastV2(real.metadata, iter(real.events), s.write);
    writeFileSync(join(dir, "real.cast"), s.bytes());
    expect(str(asciinemaCat("real.cast"))).toBe(str(bytesOf(real.events, "output")));
    expect(str(bytesOf(real.events, "output"))).toContain("got pw");
  });

  it("carries UTF-8 split across events over, so asciinema cat and play print the exact bytes", async () => {
    const s = sink();
    await writeAsciicastV2({ cols: 80, rows: 24 }, iter(SPLIT), s.write);
    const cast = Buffer.from(s.bytes()).toString("utf8");
    expect(cast).toBe(
      [
        '{"version":2,"width":80,"height":24}',
        '[0.100000, "o", "é "]',
        '[0.150000, "i", "x"]',
        '[0.200000, "o", "€ "]',
        '[0.250000, "r", "100x40"]',
        // the event at 0.3 s held only a piece of 😀: carried over, not written
        '[0.350000, "m", "here"]',
        '[1.400000, "o", "😀 done\\r\\n"]',
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "split.cast"), s.bytes());
    expect(str(asciinemaCat("split.cast"))).toBe(str(SPLIT_OUT));
    // And asciinema play (fast: idle limit 10 ms, speed 10) shows the same bytes.
    sh(dir, `script -qec ${q("asciinema play -i 0.01 -s 10 split.cast > play.out")} /dev/null`);
    expect(str(file(join(dir, "play.out")))).toBe(str(SPLIT_OUT));
  });

  it("writes v3 with relative intervals, x and term, which our reader reads back", async () => {
    const s = sink();
    await writeAsciicastV3(
      { cols: 80, rows: 24, env: { TERM: "xterm" }, startTime: 1.7e9 },
      iter(SPLIT),
      s.write,
    );
    const lines = Buffer.from(s.bytes()).toString("utf8").split("\n");
    expect(lines[0]).toBe(
      '{"version":3,"term":{"cols":80,"rows":24,"type":"xterm"},"timestamp":1700000000,"env":{"TERM":"xterm"}}',
    );
    expect(lines.slice(1, 3)).toEqual(['[0.100000, "o", "é "]', '[0.050000, "i", "x"]']);
    expect(lines[6]).toBe('[1.050000, "o", "😀 done\\r\\n"]');
    expect(lines[7]).toBe('[0.100000, "x", "2"]');
    const back = await collect((await readAsciicast(once(s.bytes()))).events);
    expect(str(bytesOf(back, "output"))).toBe(str(SPLIT_OUT));
    expect(back.filter((e) => e.type !== "output" && e.type !== "input")).toEqual(
      SPLIT.filter((e) => e.type !== "output" && e.type !== "input"),
    );
  });

  it("moves the terminal theme between v2's top-level theme and v3's term.theme, both ways", async () => {
    const theme = { fg: "#d0d0d0", bg: "#212121", palette: Array(16).fill("#000000").join(":") };
    const header = async (cast: string, write: typeof writeAsciicastV2): Promise<unknown> => {
      const rec = await readAsciicast(once(text(cast)));
      const s = sink();
      await write(rec.metadata, rec.events, s.write);
      return JSON.parse(Buffer.from(s.bytes()).toString("utf8").split("\n")[0]!);
    };
    const v3 = `${JSON.stringify({ version: 3, term: { cols: 90, rows: 30, type: "xterm-256color", theme }, idle_time_limit: 2 })}\n[0.5, "o", "hi"]\n`;
    const v2 = `${JSON.stringify({ version: 2, width: 90, height: 30, theme, idle_time_limit: 2 })}\n[0.5, "o", "hi"]\n`;
    expect(await header(v3, writeAsciicastV2)).toEqual({
      version: 2,
      width: 90,
      height: 30,
      idle_time_limit: 2,
      theme,
    });
    expect(await header(v2, writeAsciicastV3)).toEqual({
      version: 3,
      term: { cols: 90, rows: 30, theme },
      idle_time_limit: 2,
    });
    expect(await header(v3, writeAsciicastV3)).toEqual({
      version: 3,
      term: { cols: 90, rows: 30, type: "xterm-256color", theme },
      idle_time_limit: 2,
    });
    expect(await header(v2, writeAsciicastV2)).toEqual(JSON.parse(v2.split("\n")[0]!));
    // asciinema 2.2 reads the v2 header with the theme and prints the output.
    const s = sink();
    const rec = await readAsciicast(once(text(v3)));
    await writeAsciicastV2(rec.metadata, rec.events, s.write);
    writeFileSync(join(dir, "theme.cast"), s.bytes());
    expect(str(asciinemaCat("theme.cast"))).toBe("hi");
  });

  it("round-trips any output split at any byte through v2 and v3 (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 60 }),
        fc.array(fc.nat(80), { maxLength: 10 }),
        fc.array(fc.nat(2_000_000), { minLength: 12, maxLength: 12 }),
        async (s, cuts, gaps) => {
          const bytes = text(s);
          const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort(
            (a, b) => a - b,
          );
          const events: SessionEvent[] = [];
          let prev = 0;
          let t = 0;
          for (const [i, p] of [...points, bytes.byteLength].entries()) {
            t += gaps[i % gaps.length]!;
            events.push(out(t, bytes.slice(prev, p)));
            prev = p;
          }
          for (const write of [writeAsciicastV2, writeAsciicastV3]) {
            const k = sink();
            await write({}, iter(events), k.write);
            const back = await collect((await readAsciicast(once(k.bytes()))).events);
            expect(Buffer.from(bytesOf(back, "output"))).toEqual(Buffer.from(bytes));
            // Every written event keeps the time of the event that completed its text.
            for (const e of back) expect(events.some((x) => x.time === e.time)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("raw and jsonl export", () => {
  const binary: SessionEvent[] = [
    out(0, new Uint8Array([0xff, 0x00, 0xc3])),
    out(10, new Uint8Array([0xa9, 0x41])),
    { type: "input", time: 20, data: text("pässwörd\r") },
    { type: "resize", time: 30, cols: 1, rows: 2 },
    { type: "marker", time: 40, label: 'a "q"' },
    { type: "exit", time: 1_000_050, status: 0 },
  ];

  it("raw is the output bytes exactly, nothing else", async () => {
    const s = sink();
    await writeRaw({}, iter(binary), s.write);
    expect(Buffer.from(s.bytes())).toEqual(Buffer.from([0xff, 0x00, 0xc3, 0xa9, 0x41]));
  });

  it("jsonl is one event per line, UTF-8 as text, anything else as base64, exact times", async () => {
    const s = sink();
    await writeJsonl({ command: "bash" }, iter(binary), s.write, { header: true });
    const lines = Buffer.from(s.bytes()).toString("utf8").trimEnd().split("\n");
    expect(lines).toEqual([
      '{"type":"metadata","command":"bash"}',
      '{"t":0.000000,"type":"output","data":"/wDD","encoding":"base64"}',
      '{"t":0.000010,"type":"output","data":"qUE=","encoding":"base64"}',
      '{"t":0.000020,"type":"input","data":"pässwörd\\r"}',
      '{"t":0.000030,"type":"resize","cols":1,"rows":2}',
      '{"t":0.000040,"type":"marker","label":"a \\"q\\""}',
      '{"t":1.000050,"type":"exit","status":0}',
    ]);
    // Decoding gives back exactly the recorded bytes.
    const decoded = lines.slice(1, 4).map((l) => {
      const o = JSON.parse(l) as { data: string; encoding?: string };
      return o.encoding === "base64" ? Buffer.from(o.data, "base64") : Buffer.from(o.data, "utf8");
    });
    expect(decoded).toEqual([
      Buffer.from([0xff, 0x00, 0xc3]),
      Buffer.from([0xa9, 0x41]),
      Buffer.from("pässwörd\r"),
    ]);
  });
});

describe("script export", () => {
  it("scriptreplay plays our classic typescript + timing as exactly the downstream bytes", async () => {
    const ts = sink();
    const tm = sink();
    await writeScript(real.metadata, iter(real.events), ts.write, tm.write);
    writeFileSync(join(dir, "ours.ts"), ts.bytes());
    writeFileSync(join(dir, "ours.tm"), tm.bytes());
    const played = execFileSync(
      "scriptreplay",
      ["--timing", "ours.tm", "--divisor", "1000", "--maxdelay", "0.01", "ours.ts"],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(str(withoutFinalNewline(new Uint8Array(played)))).toBe(
      str(bytesOf(real.events, "output")),
    );
    // And our own classic reader gets the same output and times back.
    const back = await collect(
      (await readScriptClassic(once(ts.bytes()), once(tm.bytes()))).events,
    );
    const outputs = real.events.filter((e) => e.type === "output");
    expect(back).toEqual(outputs);
    expect(str(readFileSync(join(dir, "ours.ts")).subarray(0, 18))).toBe("Script started on ");
  });

  it("scriptreplay --log-io plays our advanced export; our reader gets every event back", async () => {
    const ts = sink();
    const tm = sink();
    await writeScript(
      real.metadata,
      iter([
        ...real.events,
        { type: "resize", time: real.events.at(-1)!.time, cols: 70, rows: 20 },
      ]),
      ts.write,
      tm.write,
      { format: "advanced" },
    );
    writeFileSync(join(dir, "adv.log"), ts.bytes());
    writeFileSync(join(dir, "adv.tm"), tm.bytes());
    const played = execFileSync(
      "scriptreplay",
      ["--log-io", "adv.log", "--log-timing", "adv.tm", "--divisor", "1000", "--maxdelay", "0.01"],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(str(withoutFinalNewline(new Uint8Array(played)))).toBe(
      str(bytesOf(real.events, "output")),
    );
    const back = await readScriptAdvanced(once(ts.bytes()), once(tm.bytes()));
    expect(back.metadata).toMatchObject({
      command: real.metadata.command,
      startTime: Math.floor(real.metadata.startTime!),
    });
    const events = await collect(back.events);
    const exit = real.events.find((e) => e.type === "exit")!;
    expect(events.filter((e) => e.type !== "exit")).toEqual([
      ...real.events.filter((e) => e.type !== "exit"),
      { type: "resize", time: real.events.at(-1)!.time, cols: 70, rows: 20 },
    ]);
    expect(events.find((e) => e.type === "exit")).toMatchObject({
      type: "exit",
      status: (exit as { status: number }).status,
    });
  });
});

describe("player", () => {
  function capture(): { stream: PassThrough; text: () => string } {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
  }
  const events: SessionEvent[] = [
    out(0, "a"),
    { type: "input", time: 500_000, data: text("k") },
    out(1_000_000, "b"),
    out(1_000_400, "c"), // sub-millisecond gap: accumulated
    out(1_001_000, "d"), // 1 ms in all since b (0.5 ms at speed 2: carried into the next wait)
    out(61_001_000, "e"), // a minute idle
  ];

  it("sleeps the recorded gaps divided by speed, with idle time capped", async () => {
    const sleeps: number[] = [];
    const o = capture();
    await play(iter(events), {
      out: o.stream,
      speed: 2,
      idleLimit: 5,
      sleep: async (ms) => void sleeps.push(ms),
    });
    expect(o.text()).toBe("abcde");
    expect(sleeps.map((x) => Math.round(x * 1000) / 1000)).toEqual([500, 2500.5]);
  });

  it("sleeps the full gaps at speed 1 without a limit", async () => {
    const sleeps: number[] = [];
    const o = capture();
    await play(iter(events), { out: o.stream, sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps.map((x) => Math.round(x))).toEqual([1000, 1, 60000]);
  });

  it("stops cleanly when aborted during a wait", async () => {
    const controller = new AbortController();
    const o = capture();
    let returned = false;
    const p = play(iter(events), { out: o.stream, signal: controller.signal }).then(
      () => (returned = true),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(o.text()).toBe("a");
    controller.abort();
    await p;
    expect(returned).toBe(true);
    expect(o.text()).toBe("a");
  });

  it("plays without any wait at an infinite speed (--speed Infinity)", async () => {
    const sleeps: number[] = [];
    const o = capture();
    await play(iter(events), {
      out: o.stream,
      speed: Infinity,
      sleep: async (ms) => void sleeps.push(ms),
    });
    expect(o.text()).toBe("abcde");
    expect(sleeps).toEqual([]);
  });

  it("refuses a non-positive speed", async () => {
    await expect(play(iter(events), { out: new PassThrough(), speed: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe("replay --play in a terminal (tmux)", () => {
  it("stops on Ctrl-C and leaves no mode of the recording behind: alternate screen, hidden cursor, mouse, keypad", async () => {
    const root = join(import.meta.dirname, "..");
    // Enters every mode a full-screen program may set, then idles for a minute.
    const modes = String.raw`\u001b[?1049h\u001b[?25l\u001b[?1000h\u001b[?1006h\u001b[?1h\u001b=\u001b[?2004h`;
    writeFileSync(
      join(dir, "modes.cast"),
      '{"version": 2, "width": 80, "height": 24}\n' +
        `[0.1, "o", "${modes}FULL SCREEN"]\n[60.0, "o", "never shown"]\n`,
    );
    for (const argv of [
      ["policy", "create", "--name", "clear", "--interval", "10", "-o", "clear.json"],
      ["seal", "--policy", "clear.json", "modes.cast", "-o", "modes.trail"],
    ])
      expect(await runCli(argv, { cwd: dir })).toMatchObject({ code: 0, stderr: "" });
    const sock = `trailseal-play-${process.pid}`;
    const tmux = (args: string) => str(sh(dir, `tmux -L ${sock} ${args}`)).trim();
    const flags = () =>
      tmux(
        "display -p -t play 'alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag} mouse-sgr=#{mouse_sgr_flag} keypad=#{keypad_flag} cursor-keys=#{keypad_cursor_flag}'",
      );
    const player = [
      process.execPath,
      "--import",
      join(root, "node_modules", "tsx", "dist", "esm", "index.mjs"),
      join(root, "src", "cli", "bin.ts"),
      "replay",
      "modes.trail",
      "--play",
    ];
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      tmux(
        `-f /dev/null new-session -d -s play -x 80 -y 24 -c ${q(dir)} ` +
          q(`${player.map(q).join(" ")}; echo $? > play.rc; sleep 60`),
      );
      await until("the recording's modes", () => flags().startsWith("alt=1 cursor=0 mouse=1"));
      expect(flags()).toBe("alt=1 cursor=0 mouse=1 mouse-sgr=1 keypad=1 cursor-keys=1");
      tmux("send-keys -t play C-c");
      await until("the player to stop", () => existsSync(join(dir, "play.rc")));
      expect(flags()).toBe("alt=0 cursor=1 mouse=0 mouse-sgr=0 keypad=0 cursor-keys=0");
      expect(tmux("capture-pane -p -t play")).not.toContain("never shown");
    } finally {
      sh(dir, `tmux -L ${sock} kill-server 2>/dev/null || true`);
    }
  }, 40_000);
});
