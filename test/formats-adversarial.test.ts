/**
 * Importer edge cases: every malformed input fails with FORMAT_INVALID naming the source and
 * the line; chunk-boundary independence as a property; detection; raw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readAsciicast } from "../src/formats/asciicast.js";
import { detectFormat } from "../src/formats/detect.js";
import { openRecording, peek } from "../src/formats/open.js";
import { readRaw } from "../src/formats/raw.js";
import {
  readScript,
  readScriptAdvanced,
  readScriptClassic,
  parseScriptHeaderLine,
} from "../src/formats/script.js";
import type { SessionEvent } from "../src/events.js";
import { bytesOf, chunked, collect, once, str, text } from "./helpers/recordings.js";

async function readAll(cast: string, source = "bad.cast"): Promise<SessionEvent[]> {
  const rec = await readAsciicast(once(text(cast)), { source });
  return collect(rec.events);
}

const H2 = '{"version": 2, "width": 80, "height": 24}';
const H3 = '{"version": 3, "term": {"cols": 80, "rows": 24}}';

describe("asciicast: malformed input names the source and line", () => {
  const cases: [string, string, RegExp][] = [
    [
      "bad JSON line",
      `${H2}\n[0.1, "o", "a"]\n[0.2, "o", "b"\n`,
      /^bad\.cast: line 3: invalid JSON/,
    ],
    [
      "wrong version",
      `{"version": 1, "width": 80, "height": 24}\n`,
      /^bad\.cast: line 1: unsupported asciicast version 1/,
    ],
    [
      "missing version",
      `{"width": 80, "height": 24}\n`,
      /^bad\.cast: line 1: unsupported asciicast version \(missing\)/,
    ],
    ["header not an object", `[1, 2, 3]\n`, /^bad\.cast: line 1: the header must be a JSON object/],
    ["v2 without width", `{"version": 2, "height": 24}\n`, /^bad\.cast: line 1: header width/],
    [
      "v3 without term",
      `{"version": 3}\n`,
      /^bad\.cast: line 1: v3 header must have a term object/,
    ],
    [
      "non-monotonic v2 times",
      `${H2}\n[0.5, "o", "a"]\n[0.4, "o", "b"]\n`,
      /^bad\.cast: line 3: event time 0\.4 goes back/,
    ],
    [
      "bad resize",
      `${H2}\n[0.1, "o", "a"]\n[0.2, "m", ""]\n[0.3, "r", "80by24"]\n`,
      /^bad\.cast: line 4: bad resize "80by24"/,
    ],
    [
      "truncated last line",
      `${H2}\n[0.1, "o", "a"]\n[0.2, "o", "hel`,
      /^bad\.cast: line 3: truncated last line/,
    ],
    [
      "negative v3 interval",
      `${H3}\n[0.1, "o", "a"]\n[-0.2, "o", "b"]\n`,
      /^bad\.cast: line 3: event time must be a non-negative number/,
    ],
    ["unknown code", `${H2}\n[0.1, "z", "a"]\n`, /^bad\.cast: line 2: unknown event code "z"/],
    [
      "two-element event",
      `${H2}\n[0.1, "o"]\n`,
      /^bad\.cast: line 2: an event must be a 3-element JSON array/,
    ],
    [
      "output data not a string",
      `${H2}\n[0.1, "o", 5]\n`,
      /^bad\.cast: line 2: event data of "o" must be a string/,
    ],
    ["bad exit status", `${H3}\n[0.1, "x", "ok"]\n`, /^bad\.cast: line 2: bad exit status "ok"/],
  ];
  for (const [name, cast, message] of cases) {
    it(name, async () => {
      const err = await readAll(cast).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "FORMAT_INVALID" });
      expect((err as Error).message).toMatch(message);
    });
  }

  it("rejects invalid UTF-8 bytes in a line", async () => {
    const bytes = new Uint8Array([...text(`${H2}\n[0.1, "o", "`), 0xff, ...text(`"]\n`)]);
    await expect(
      collect((await readAsciicast(once(bytes), { source: "x.cast" })).events),
    ).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: "x.cast: line 2: not valid UTF-8",
    });
  });

  it("rejects empty input", async () => {
    await expect(
      readAsciicast(once(new Uint8Array(0)), { source: "e.cast" }),
    ).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: expect.stringMatching(/^e\.cast: empty input/),
    });
  });

  it("accepts a complete last line without newline, blank lines, CRLF, and v3 comments", async () => {
    expect(await readAll(`${H2}\r\n\n[0.1, "o", "a"]\r\n[0.1, "o", "b"]`)).toEqual([
      { type: "output", time: 100000, data: text("a") },
      { type: "output", time: 100000, data: text("b") },
    ]);
    expect(await readAll(`${H3}\n# c\n[0.1, "o", "a"]\n#\n[0.2, "i", "b"]\n`)).toEqual([
      { type: "output", time: 100000, data: text("a") },
      { type: "input", time: 300000, data: text("b") },
    ]);
  });

  it("takes user and host from a recorded env (asciinema rec --env USER,HOSTNAME)", async () => {
    const rec = await readAsciicast(
      once(
        text(
          '{"version": 2, "width": 1, "height": 1, "env": {"USER": "admin", "HOSTNAME": "db01"}}\n',
        ),
      ),
    );
    expect(rec.metadata).toMatchObject({
      user: "admin",
      host: "db01",
      env: { USER: "admin", HOSTNAME: "db01" },
    });
  });

  it("keeps unknown header fields in extra and maps the known ones", async () => {
    const rec = await readAsciicast(
      once(
        text(
          '{"version": 2, "width": 90, "height": 30, "timestamp": 1700000000, "idle_time_limit": 2.5, "command": "bash", "title": "t", "env": {"TERM": "xterm", "SHELL": null}, "theme": {"fg": "#fff"}}\n',
        ),
      ),
    );
    expect(rec.metadata).toEqual({
      source: "asciicast-v2",
      cols: 90,
      rows: 30,
      startTime: 1700000000,
      command: "bash",
      title: "t",
      env: { TERM: "xterm" },
      extra: { idle_time_limit: 2.5, theme: { fg: "#fff" } },
    });
  });
});

/** Arbitrary asciicast events, as lines of a v2 or v3 file. */
const castEvent = fc.oneof(
  fc.record({
    code: fc.constantFrom("o", "i"),
    data: fc.string({ unit: "grapheme", maxLength: 20 }),
  }),
  fc.record({
    code: fc.constant("r"),
    data: fc.tuple(fc.nat(500), fc.nat(500)).map(([c, r]) => `${c}x${r}`),
  }),
  fc.record({ code: fc.constant("m"), data: fc.string({ maxLength: 10 }) }),
);

describe("asciicast: chunk-boundary independence (property)", () => {
  it("parses to the same events however the bytes are split", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(2, 3),
        fc.array(fc.tuple(fc.nat(3_000_000), castEvent), { maxLength: 15 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        async (version, evs, sizes) => {
          let t = 0;
          const lines = [version === 2 ? H2 : H3];
          for (const [dt, e] of evs) {
            t += dt;
            lines.push(JSON.stringify([(version === 2 ? t : dt) / 1e6, e.code, e.data]));
          }
          const bytes = text(lines.join("\n") + "\n");
          const whole = await collect((await readAsciicast(once(bytes))).events);
          const split = await collect((await readAsciicast(chunked(bytes, sizes))).events);
          const bytewise = await collect((await readAsciicast(chunked(bytes, [1]))).events);
          expect(split).toEqual(whole);
          expect(bytewise).toEqual(whole);
          expect(whole.map((e) => e.time)).toEqual(
            evs.reduce<number[]>((acc, [dt]) => [...acc, (acc[acc.length - 1] ?? 0) + dt], []),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("script logs: malformed input", () => {
  const log = text(
    'Script started on 2026-01-01 00:00:00+00:00 [COMMAND="x"]\nabcdef\nScript done\n',
  );
  it("unknown entry type", async () => {
    const rec = await readScriptAdvanced(
      once(log),
      once(text("H 0.000000 COMMAND x\nO 0.1 3\nQ 0.1 3\n")),
      { timingSource: "t.tm" },
    );
    await expect(collect(rec.events)).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: 't.tm: line 3: unknown timing entry type "Q"; expected O, I, S or H',
    });
  });
  it("log shorter than the timing says", async () => {
    const rec = await readScriptAdvanced(once(log), once(text("O 0.1 3\nI 0.1 100\n")), {
      source: "io.log",
      timingSource: "t.tm",
    });
    await expect(collect(rec.events)).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: expect.stringMatching(
        /^t\.tm: line 2: io\.log ends 84 bytes short of this input entry/,
      ),
    });
  });
  it("log bytes that no timing entry covers are refused, script's trailer is not", async () => {
    const body = 'Script started on 2026-01-01 00:00:00+00:00 [COMMAND="x"]\nabcdef\n';
    const done = '\nScript done on 2026-01-01 00:00:01+00:00 [COMMAND_EXIT_CODE="0"]\n';
    // The timing file of a session cut short covers "abc" only: "def\n" would be lost.
    for (const [read, timing] of [
      [readScriptAdvanced, "O 0.1 3\n"],
      [readScriptClassic, "0.1 3\n"],
    ] as const) {
      const rec = await read(once(text(body + done)), once(text(timing)), {
        source: "s.log",
        timingSource: "s.tm",
      });
      await expect(collect(rec.events)).rejects.toMatchObject({
        code: "FORMAT_INVALID",
        message: `s.log: ${4 + done.length} bytes from log offset ${body.length - 4} on are not covered by any entry of s.tm (is the timing file cut short?)`,
      });
    }
    // Covered to the end: no trailer, the trailer, a trailer cut short, the old plain one.
    for (const tail of ["", done, done.slice(0, 9), "Script done on Thu Jan  1 00:00:01 2026\n"]) {
      const rec = await readScriptAdvanced(once(text(body + tail)), once(text("O 0.1 7\n")));
      expect(str(bytesOf(await collect(rec.events), "output"))).toBe("abcdef\n");
    }
  });

  it("bad delay and bad size", async () => {
    const r1 = await readScriptClassic(once(log), once(text("0.1 3\nx 3\n")), {
      timingSource: "c.tm",
    });
    await expect(collect(r1.events)).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: 'c.tm: line 2: bad delay "x"; expected seconds.microseconds',
    });
    const r2 = await readScriptClassic(once(log), once(text("0.1 -3\n")), { timingSource: "c.tm" });
    await expect(collect(r2.events)).rejects.toMatchObject({
      code: "FORMAT_INVALID",
      message: 'c.tm: line 1: bad byte count "-3"',
    });
  });
  it("parses the header line, including <not executed on terminal>", () => {
    expect(
      parseScriptHeaderLine(
        'Script started on 2026-11-23 01:07:13+00:00 [COMMAND="printf "a"; b" <not executed on terminal>]',
      ),
    ).toEqual({
      startTime: Date.UTC(2026, 10, 23, 1, 7, 13) / 1000,
      fields: { COMMAND: 'printf "a"; b' },
    });
    expect(
      parseScriptHeaderLine(
        'Script started on 2026-11-23 01:07:13+01:00 [TERM="xterm" COLUMNS="80" LINES="24"]',
      ),
    ).toEqual({
      startTime: Date.UTC(2026, 10, 23, 0, 7, 13) / 1000,
      fields: { TERM: "xterm", COLUMNS: "80", LINES: "24" },
    });
  });
  it("reads the classic pair byte by byte", async () => {
    const rec = await readScriptClassic(
      chunked(log, [1]),
      chunked(text("0.100000 3\n1.000001 4\n"), [1]),
    );
    const events = await collect(rec.events);
    expect(events.map((e) => [e.time, e.type === "output" ? str(e.data) : ""])).toEqual([
      [100000, "abc"],
      [1100001, "def\n"],
    ]);
  });
  it("splits a long step into events of at most maxEventBytes", async () => {
    const rec = await readScriptClassic(once(log), once(text("0.5 7\n")), { maxEventBytes: 3 });
    const events = await collect(rec.events);
    expect(events.map((e) => (e.type === "output" ? [e.time, str(e.data)] : []))).toEqual([
      [500000, "abc"],
      [500000, "def"],
      [500000, "\n"],
    ]);
  });
});

describe("detectFormat and readRaw", () => {
  it.each([
    ['{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "a"]\n', "asciicast"],
    ['{"version": 3, "term": {"cols": 80, "rows": 24}}\n', "asciicast"],
    ['{"version": 2, "width": 80, "height": 24, "env": {"A": "', "asciicast"],
    ['{"version": 1, "width": 80}\n', "raw"],
    ['{"other": true}\n', "raw"],
    ['Script started on 2026-11-23 01:03:40+00:00 [COMMAND="ls"]\nfoo', "script"],
    ["\u001b[1mhello\r\n", "raw"],
    ["", "raw"],
  ])("%j is %s", (head, format) => {
    expect(detectFormat(text(head))).toBe(format);
  });

  it("readRaw yields every byte as output at time 0", async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x1b, 0x41, 0xc3]);
    const rec = readRaw(chunked(bytes, [2]));
    expect(rec.metadata).toEqual({ source: "raw" });
    const events = await collect(rec.events);
    expect(events.every((e) => e.type === "output" && e.time === 0)).toBe(true);
    expect(
      Buffer.concat(events.map((e) => (e.type === "output" ? e.data : new Uint8Array()))),
    ).toEqual(Buffer.from(bytes));
  });
});

describe("openRecording, peek and readScript", () => {
  const cast = text(`${H2}\n[0.1, "o", "hi"]\n[0.2, "i", "q"]\n`);
  const log = text('Script started on 2026-01-01 00:00:00+00:00 [COMMAND="x"]\nabcdef\n');

  it("peek returns the head and the whole input again", async () => {
    const p = await peek(chunked(cast, [3]), 10);
    expect(str(p.head)).toBe(str(cast.subarray(0, 10)));
    expect(Buffer.concat(await collect(p.input))).toEqual(Buffer.from(cast));
    const short = await peek(once(text("ab")), 10);
    expect(str(short.head)).toBe("ab");
    expect(str(Buffer.concat(await collect(short.input)))).toBe("ab");
  });

  it("detects and imports each format from a stream", async () => {
    const a = await openRecording(chunked(cast, [1]), { source: "a.cast" });
    expect(a.format).toBe("asciicast");
    expect((await collect(a.events)).map((e) => e.type)).toEqual(["output", "input"]);
    const s = await openRecording(once(log), { timing: once(text("O 0.5 3\nI 0.1 3\n")) });
    expect(s.format).toBe("script");
    expect(s.metadata.source).toBe("script-advanced");
    expect((await collect(s.events)).map((e) => [e.type, e.time])).toEqual([
      ["output", 500000],
      ["input", 600000],
    ]);
    const r = await openRecording(once(text("\u001b[1mplain")));
    expect(r.format).toBe("raw");
    expect(
      str(
        Buffer.concat(
          (await collect(r.events)).map((e) => (e.type === "output" ? e.data : new Uint8Array())),
        ),
      ),
    ).toBe("\u001b[1mplain");
  });

  it("readScript tells classic timing from advanced as scriptreplay does", async () => {
    const c = await readScript(once(log), chunked(text("0.5 7\n"), [1]));
    expect(c.metadata.source).toBe("script-classic");
    expect((await collect(c.events)).map((e) => e.time)).toEqual([500000]);
    // Empty chunks before the first byte do not hide it.
    async function* emptyFirst(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(0);
      yield new Uint8Array(0);
      yield text("0.5 7\n");
    }
    const late = await readScript(once(log), emptyFirst());
    expect(late.metadata.source).toBe("script-classic");
    expect((await collect(late.events)).map((e) => e.time)).toEqual([500000]);
  });

  it("a script log without timing is a usage error with a hint", async () => {
    await expect(openRecording(once(log), { source: "s.log" })).rejects.toMatchObject({
      code: "USAGE",
      message: "s.log is a util-linux script log; its timing file is needed",
    });
  });
});
