import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Io } from "../src/cli/io.js";
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
});
