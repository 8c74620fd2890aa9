/**
 * The committed recordings in testdata/recordings (made by its generate.sh with the real
 * asciinema and script) import as the real players see them.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectFormat } from "../src/formats/detect.js";
import { readAsciicast } from "../src/formats/asciicast.js";
import { readScriptAdvanced, readScriptClassic } from "../src/formats/script.js";
import {
  bytesOf,
  chunked,
  collect,
  file,
  once,
  sh,
  shellQuote as q,
  str,
  tempDir,
  text,
} from "./helpers/recordings.js";

const DIR = join(import.meta.dirname, "..", "testdata", "recordings");
const at = (name: string): string => join(DIR, name);

describe("testdata/recordings", () => {
  it("admin-session.cast: a KB-sized v2 admin session of 20-40 s with keystrokes; passwords only upstream", async () => {
    const bytes = file(at("admin-session.cast"));
    expect(statSync(at("admin-session.cast")).size).toBeLessThan(64 * 1024);
    expect(detectFormat(bytes.subarray(0, 4096))).toBe("asciicast");
    const rec = await readAsciicast(once(bytes), { source: "admin-session.cast" });
    expect(rec.metadata).toMatchObject({ source: "asciicast-v2", cols: 80, rows: 24 });
    const events = await collect(rec.events);
    const last = events[events.length - 1]!.time;
    expect(last).toBeGreaterThan(20_000_000);
    expect(last).toBeLessThan(40_000_000);
    const input = str(bytesOf(events, "input"));
    const output = str(bytesOf(events, "output"));
    expect(input).toContain("Tr0ub4dor&3\r");
    expect(input).toContain("s3cret-Passw0rd\r");
    expect(output).not.toContain("Tr0ub4dor");
    expect(output).not.toContain("s3cret");
    for (const s of [
      "uname -a",
      "uid=1000(admin)",
      "[sudo] password for admin: ",
      "User admin may run",
      "PermitRootLogin no",
    ]) {
      expect(output).toContain(s);
    }
    // Read byte by byte: the same events.
    expect(await collect((await readAsciicast(chunked(bytes, [1]))).events)).toEqual(events);
  });

  it("admin-session.cast: asciinema cat prints exactly our imported output bytes", async () => {
    const bytes = file(at("admin-session.cast"));
    const events = await collect((await readAsciicast(once(bytes))).events);
    const { dir, cleanup } = tempDir();
    try {
      sh(
        dir,
        `script -qec ${q(`asciinema cat ${q(at("admin-session.cast"))} > cat.out`)} /dev/null`,
      );
      expect(Buffer.from(file(join(dir, "cat.out")))).toEqual(
        Buffer.from(bytesOf(events, "output")),
      );
    } finally {
      cleanup();
    }
  });

  it("short-v3.cast (converted per the v3 spec) reads to the same events as short.cast", async () => {
    const v2 = await collect((await readAsciicast(once(file(at("short.cast"))))).events);
    const v3rec = await readAsciicast(once(file(at("short-v3.cast"))));
    expect(v3rec.metadata).toMatchObject({ source: "asciicast-v3", cols: 80, rows: 24 });
    const v3 = await collect(v3rec.events);
    expect(v3.slice(0, -1)).toEqual(v2);
    expect(v3[v3.length - 1]).toEqual({
      type: "exit",
      time: v2[v2.length - 1]!.time + 100_000,
      status: 0,
    });
    expect(str(bytesOf(v2, "input"))).toBe("root\r");
    expect(str(bytesOf(v2, "output"))).toBe("name? root\r\nhello root\r\n");
  });

  it("script-io.log/.tm and script-classic.ts/.tm", async () => {
    expect(detectFormat(file(at("script-io.log")))).toBe("script");
    const io = await readScriptAdvanced(
      once(file(at("script-io.log"))),
      once(file(at("script-io.tm"))),
    );
    expect(io.metadata).toMatchObject({
      source: "script-advanced",
      startTime: expect.any(Number),
      env: { SHELL: "/bin/bash" },
    });
    const ioEvents = await collect(io.events);
    expect(str(bytesOf(ioEvents, "input"))).toBe("yes\r");
    expect(str(bytesOf(ioEvents, "output"))).toBe(
      str(text("continue? yes\r\nanswer: yes\r\nété €\r\n")),
    );
    expect(ioEvents[ioEvents.length - 1]).toMatchObject({ type: "exit", status: 0 });
    const classic = await readScriptClassic(
      once(file(at("script-classic.ts"))),
      once(file(at("script-classic.tm"))),
    );
    const cEvents = await collect(classic.events);
    expect(str(bytesOf(cEvents, "output"))).toBe(str(text("step 1\r\nstep 2 é\r\n")));
  });
});
