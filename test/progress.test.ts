import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Io } from "../src/cli/io.js";
import { ArchiveProgress } from "../src/cli/archive.js";
import { Progress, counted } from "../src/cli/progress.js";

function ttyIo(tty: boolean): { io: Io; err: () => string } {
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  stderr.on("data", (c: Buffer) => out.push(c));
  const io: Io = {
    stdin: Readable.from([]),
    stdout: new PassThrough(),
    stderr,
    env: {},
    cwd: process.cwd(),
    stderrIsTTY: tty,
    stdoutIsTTY: false,
    now: () => new Date(0),
  };
  return { io, err: () => Buffer.concat(out).toString() };
}

describe("progress", () => {
  it("is silent when stderr is not a terminal", async () => {
    const { io, err } = ttyIo(false);
    expect(await Progress.forFile(io, "sealing x", "package.json")).toBeNull();
    const bytes: Uint8Array[] = [];
    for await (const c of counted(Readable.from([new Uint8Array(10)]), null)) bytes.push(c);
    expect(bytes).toHaveLength(1);
    expect(err()).toBe("");
  });

  it("shows bytes, percentage, rate and time left on a terminal, then clears the line", async () => {
    const { io, err } = ttyIo(true);
    let now = 0;
    const p = (await Progress.forFile(io, "sealing big.bin", "package.json", () => now))!;
    // package.json's size is the total; pretend 4 MiB of 8 MiB took 2 s.
    (p as unknown as { total: number }).total = 8 * 1024 * 1024;
    now = 2000;
    p.add(4 * 1024 * 1024);
    expect(err()).toBe(
      "\r\x1b[Ktrailseal: sealing big.bin: 4.0 MiB of 8.0 MiB (50%), 2.0 MiB/s, 2s left",
    );
    now = 2100; // redrawn at most every 200 ms
    p.add(1);
    expect(err().split("\r\x1b[K")).toHaveLength(2);
    p.finish();
    expect(err().endsWith("\r\x1b[K")).toBe(true);
  });

  it("many trails: count, bytes, rate, and once the listing is done, the total and time left", () => {
    const { io, err } = ttyIo(true);
    let now = 10_000;
    const p = ArchiveProgress.for(io, "verifying", () => now)!;
    now += 500;
    p.add(9368); // drawn at once: no quiet time for many trails
    now += 100;
    p.add(9368); // within 200 ms of the last draw: not drawn
    now += 1400;
    p.listed(10);
    p.add(1024 * 1024); // 3 of 10 in 2 s: 7 more take 4.7 s
    now += 200;
    p.finish();
    expect(err().split("\r\x1b[K")).toEqual([
      "",
      "trailseal: verifying: 1 trail, 9.1 KiB, 2.0 trails/s",
      "trailseal: verifying: 3 of 10 trails, 1.0 MiB, 1.5 trails/s, 5s left",
      "",
    ]);
    // Minutes past 60 s; no time left once every listed trail is done.
    expect(p.line(now + 200_000)).toBe(
      "trailseal: verifying: 3 of 10 trails, 1.0 MiB, 0.0 trails/s, 7m52s left",
    );
    for (let i = 0; i < 7; i++) p.add(10);
    expect(p.line(now + 1000)).toBe("trailseal: verifying: 10 of 10 trails, 1.0 MiB, 3.1 trails/s");
  });

  it("many trails: nothing at all when stderr is not a terminal", async () => {
    const { io, err } = ttyIo(false);
    expect(ArchiveProgress.for(io, "verifying")).toBeNull();
    expect(err()).toBe("");
  });
});
