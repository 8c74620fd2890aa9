import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

const COMMANDS = [
  "demo",
  "pem",
  "policy",
  "seal",
  "record",
  "replay",
  "inspect",
  "share",
  "verify",
  "export",
  "init",
  "stamp",
  "tsa",
];

describe("cli", () => {
  it("lists every command with an example under --help", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trailseal <command>/);
    expect(r.stdout).toContain("Commands:");
    expect(r.stdout).toContain("Examples:");
    for (const c of COMMANDS) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${c} +\\S`));
      expect(r.stdout).toContain(`\n  trailseal ${c} `);
    }
  });

  for (const c of COMMANDS) {
    it(`trailseal ${c} --help exits 0 and shows examples`, async () => {
      const r = await runCli(
        c === "tsa"
          ? [c, "serve", "--help"]
          : c === "policy"
            ? [c, "create", "--help"]
            : [c, "--help"],
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: trailseal /);
      expect(r.stdout).toMatch(/Examples?:/);
    });
  }

  it("prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("refuses an unknown command with exit 2 and a hint", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: error: unknown command 'frobnicate'\ntrailseal: hint: run 'trailseal --help' for the list of commands\n",
    );
  });
});
