/**
 * `replay --format text` (replay/text.ts): the session as plain text through the terminal
 * emulator, on a synthetic session with a known screen and, in-process through the CLI, on the
 * real recording of testdata/recordings/scan sealed into a trail.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { writeText } from "../src/replay/text.js";
import { certSpkiFingerprint, TESTDATA } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { text } from "./helpers/recordings.js";

const certs = (n: string) => join(TESTDATA, "certs", n);
const rec = (n: string) => join(TESTDATA, "recordings", "scan", n);

async function* iter(events: readonly SessionEvent[]): AsyncGenerator<SessionEvent> {
  yield* events;
}

async function textOf(events: readonly SessionEvent[], cols = 20, rows = 3): Promise<string> {
  const parts: Uint8Array[] = [];
  await writeText({ cols, rows }, iter(events), (c) => void parts.push(c));
  return Buffer.concat(parts).toString("utf8");
}

const out = (time: number, s: string): SessionEvent => ({ type: "output", time, data: text(s) });

describe("writeText", () => {
  it("the screen as it scrolled, a cleared screen, a left alternate screen, then the final screen; colours and keystrokes gone", async () => {
    const events = [
      out(0, "$ ls\r\n\x1b[1;34mbin\x1b[0m  etc\r\n$ "),
      { type: "input", time: 1, data: text("secret typed\r") } as const,
      out(2, "less f\r\n\x1b[?1049h\x1b[Hpage one\x1b[?1049l"),
      out(3, "$ clear\r\n\x1b[H\x1b[2J$ echo é\r\né\r\n$ "),
    ];
    expect(await textOf(events)).toBe(
      ["$ ls", "page one", "bin  etc", "$ less f", "$ clear", "$ echo é", "é", "$", ""].join("\n"),
    );
  });

  it("an empty session writes nothing", async () => {
    expect(await textOf([])).toBe("");
  });
});

describe("trailseal replay --format text", () => {
  const dir = mkdtempSync(join(tmpdir(), "trailseal-text-"));
  const p = (n: string) => join(dir, n);
  beforeAll(async () => {
    const policy = ["policy", "create", "--name", "t", "--encrypt", certs("rsa2048-a.crt")];
    expect(
      (await runCli([...policy, "--upstream", certs("rsa2048-c.crt"), "-o", p("p.json")])).code,
    ).toBe(0);
    const seal = await runCli([
      "seal",
      "--policy",
      p("p.json"),
      rec("shell.log"),
      "--timing",
      rec("shell.tm"),
      "-o",
      p("s.trail"),
    ]);
    expect(seal.code).toBe(0);
  });

  const HEAD = [
    "admin@db01:~$ echo hello world",
    "hello world",
    "admin@db01:~$ seq -f 'row %g' 1 30",
    ...Array.from({ length: 25 }, (_, i) => `row ${i + 1}`),
    "notes for db01",
    "rotate the backup key",
    ...Array<string>(21).fill("~"),
    "row 26",
  ];
  const TAIL = [
    "admin@db01:~$ clear",
    "admin@db01:~$ printf '%075d 5555555555554444\\n' 0",
    `${"0".repeat(75)} 5555555555554444`,
    "admin@db01:~$ echo done",
    "done",
    "admin@db01:~$ echo completed",
    "completed",
    "admin@db01:~$ echo completed",
    "completed",
    "admin@db01:~$ exit",
    "exit",
  ];

  it("the sealed real session as text: its head and tail exactly, 126 lines; the password typed blind is not in it", async () => {
    const r = await runCli([
      "replay",
      p("s.trail"),
      "--key",
      certs("rsa2048-a.key"),
      "--key",
      certs("rsa2048-c.key"),
      "--format",
      "text",
      "-o",
      p("s.txt"),
    ]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const lines = readFileSync(p("s.txt"), "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(126);
    expect(lines.slice(0, HEAD.length)).toEqual(HEAD);
    expect(lines.slice(-TAIL.length)).toEqual(TAIL);
    expect(lines.filter((l) => l.includes("s3cret"))).toEqual([]);
  });

  it("without the upstream key: the same text (it is the screen), with the notice that keystrokes are hidden", async () => {
    const full = await runCli([
      "replay",
      p("s.trail"),
      "--key",
      certs("rsa2048-a.key"),
      "--key",
      certs("rsa2048-c.key"),
      "-f",
      "text",
    ]);
    const screen = await runCli([
      "replay",
      p("s.trail"),
      "--key",
      certs("rsa2048-a.key"),
      "-f",
      "text",
    ]);
    expect(screen.code).toBe(0);
    expect(screen.stdout).toBe(full.stdout);
    expect(screen.stderr).toBe(
      `trailseal: notice: the keystrokes (upstream) are hidden: no key given opens them; any one of these would:\n  entry 0: sha256:${certSpkiFingerprint("certs/rsa2048-c.crt")} (O=trailseal tests, CN=trailseal test recipient rsa2048-c)\n`,
    );
  });
});
