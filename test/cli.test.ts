import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Io } from "../src/cli/io.js";
import { COMMAND_NAMES, run } from "../src/cli/main.js";
import { runCli } from "./helpers/io.js";

// Every command, in the order --help lists them: a command that lands is added here too.
const COMMANDS = [
  "demo",
  "pem",
  "policy",
  "seal",
  "record",
  "replay",
  "inspect",
  "share",
  "unwrap",
  "verify",
  "scan",
  "summary",
  "export",
  "init",
  "stamp",
  "keys",
  "tsa",
];

describe("cli", () => {
  it("lists every command with an example under --help", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trailseal <command>/);
    expect(r.stdout).toContain("Commands:");
    expect(r.stdout).toContain("Examples:");
    // The usage text and the loaders are two lists in src/cli/main.ts: the same names, in order.
    expect(COMMAND_NAMES).toEqual(COMMANDS);
    const [commands, examples] = r.stdout.split("\nExamples:\n");
    const listed = [...commands!.matchAll(/^ {2}([a-z]+) {2,}\S/gm)].map((m) => m[1]);
    expect(listed).toEqual(COMMANDS);
    const exampled = [...examples!.matchAll(/^ {2}trailseal ([a-z]+) /gm)].map((m) => m[1]);
    expect(exampled).toEqual(COMMANDS);
    // The summaries line up in one column after the longest name.
    const width = Math.max(...COMMANDS.map((c) => c.length));
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`\\n  ${c.padEnd(width)}  \\S`));
  });

  for (const c of COMMANDS) {
    it(`trailseal ${c} --help exits 0 and shows examples`, async () => {
      const r = await runCli(
        c === "tsa"
          ? [c, "serve", "--help"]
          : c === "policy"
            ? [c, "create", "--help"]
            : c === "keys"
              ? [c, "list", "--help"]
              : [c, "--help"],
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: trailseal /);
      expect(r.stdout).toMatch(/\nExamples?( \([^)\n]+\))?:\n/);
      expect(r.stdout).toContain("\nExit status: ");
      // A lost line continuation glues two example lines into one with a run of spaces.
      const examples = r.stdout
        .split("\n")
        // unwrap's examples say who runs each line: "  bob$   trailseal …".
        .map((l) => l.replace(/^ {2}[a-z]+\$ +/, "  "))
        .filter((l) => /^ {2}(trailseal|npx trailseal|cat) /.test(l));
      expect(examples.length).toBeGreaterThan(0);
      for (const line of examples) expect(line).not.toMatch(/\S {3,}\S/);
    });
  }

  it("--help marks the options a command cannot run without as (required), and only those", async () => {
    const r = await runCli(["seal", "--help"]);
    const text = r.stdout.replace(/\s+/g, " ");
    expect(text).toContain(
      "--policy <file> audit policy (as 'trailseal policy create' writes it) (required)",
    );
    expect(text).toContain("-o, --output <file> the trail to write (- for stdout) (required)");
    expect(text).toContain("--force overwrite the output file -h");
    expect(r.stdout.match(/\(required\)/g)).toHaveLength(2);
  });

  it("prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(
      readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"),
    ) as { version: string };
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it("with no command: the usage on stderr, nothing on stdout, exit 2", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: trailseal <command>/);
    // The same usage --help prints, on the other stream.
    expect(r.stderr).toBe((await runCli(["--help"])).stdout);
  });

  it("an unknown option before any command is called an option", async () => {
    const r = await runCli(["--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: error: unknown option '--frobnicate'\ntrailseal: hint: run 'trailseal --help' for the list of commands\n",
    );
  });

  for (const name of ["frobnicate", "toString", "__proto__"]) {
    it(`refuses the unknown command '${name}' with exit 2 and a hint`, async () => {
      const r = await runCli([name]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `trailseal: error: unknown command '${name}'\ntrailseal: hint: run 'trailseal --help' for the list of commands\n`,
      );
    });
  }
});

describe("cli: output that cannot be written", () => {
  /** Runs the CLI with a stdout whose every write fails with `code`. */
  async function runFailingStdout(argv: string[], code: string) {
    const stdout = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error(`${code}: write failed`), { code }));
      },
    });
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on("data", (c: Buffer) => err.push(c));
    const io: Io = {
      stdin: Readable.from([]),
      stdout,
      stderr,
      env: {},
      cwd: process.cwd(),
      stderrIsTTY: false,
      stdoutIsTTY: false,
      now: () => new Date(),
    };
    const exit = await run(argv, io);
    await new Promise((r) => setImmediate(r));
    return { code: exit, stderr: Buffer.concat(err).toString("utf8") };
  }
  const cert = "testdata/certs/rsa2048-a.crt";

  it("a full disk is an I/O error: exit 2 in the one voice, no unhandled 'error' event", async () => {
    const r = await runFailingStdout(["pem", cert], "ENOSPC");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("trailseal: error: cannot write to stdout: ENOSPC: write failed\n");
  });

  it("a closed pipe (| head) ends the output quietly with the command's own status", async () => {
    const r = await runFailingStdout(["pem", cert], "EPIPE");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const check = await runFailingStdout(
      ["policy", "check", "testdata/policies/invalid-several-errors.json"],
      "EPIPE",
    );
    expect(check.code).toBe(1);
    expect(check.stderr).toBe("");
  });

  it("--help to a full disk: exit 2", async () => {
    const r = await runFailingStdout(["--help"], "ENOSPC");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("trailseal: error: cannot write to stdout: ENOSPC: write failed\n");
  });
});
