import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

describe("cli", () => {
  it("lists every command with an example under --help", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trailseal <command>/);
    expect(r.stdout).toContain("Commands:");
    expect(r.stdout).toContain("Examples:");
  });

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
