import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

describe("trailseal demo", () => {
  it("runs the whole story and leaves every artefact behind", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "trailseal-demo-")), "demo");
    const r = await runCli(["demo", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Every step prints its command before its output.
    for (const c of [
      "$ trailseal init --home authority",
      "$ trailseal policy create --name demo-audit --encrypt alice.crt,bob.crt --upstream officer.crt --sign-identity demo-signer --timestamp local --interval 10 -o policy.json",
      "$ trailseal verify session.trail --ca authority/ca.crt --tsa-ca authority/ca.crt",
      "$ trailseal replay session.trail --ca authority/ca.crt --key alice.key -o refused.cast",
    ]) {
      expect(r.stdout).toContain(`${c}\n`);
    }
    expect(r.stdout).toContain("  session.trail: VALID\n");
    expect(r.stdout).toMatch(
      / {4}INTEGRITY {3}complete: \d+ records, \d+ checkpoints, final checkpoint \d+ at /,
    );
    expect(r.stdout).toContain("  (exit status 1, as expected)\n");
    // Every replay checks the signatures first (--ca), as an auditor should.
    expect(r.stdout).not.toContain("were not checked");
    expect(r.stdout).toContain("  trailseal: notice: the keystrokes (upstream) are hidden");
    for (const f of [
      "authority/ca.crt",
      "policy.json",
      "session.trail",
      "replay.cast",
      "screen-only.cast",
      "evidence/VERIFY.txt",
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(existsSync(join(dir, "refused.cast"))).toBe(false);
    expect(statSync(join(dir, "alice.key")).mode & 0o777).toBe(0o600);
    // With the officer's key the replay has the keystrokes; without, none.
    const inputs = (f: string) =>
      readFileSync(join(dir, f), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => JSON.parse(l) as [number, string, string])
        .filter((e) => e[1] === "i");
    const withInput = inputs("replay.cast");
    const without = inputs("screen-only.cast");
    expect(withInput.length).toBeGreaterThan(100);
    expect(without).toEqual([]);
    // The replay is the bundled recording itself: every event, byte and microsecond.
    const events = (path: string) =>
      readFileSync(path, "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => JSON.parse(l) as [number, string, string])
        .map(([t, code, data]) => [Math.round(t * 1e6), code, data]);
    const sample = join(import.meta.dirname, "..", "testdata", "recordings", "admin-session.cast");
    expect(events(join(dir, "replay.cast"))).toEqual(events(sample));
    expect(events(join(dir, "screen-only.cast"))).toEqual(
      events(sample).filter(([, code]) => code !== "i"),
    );
  });

  it("refuses a file, or a path under one, as its directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-demo-"));
    writeFileSync(join(dir, "f"), "");
    for (const [arg, error] of [
      ["f", "f is not a directory"],
      ["f/demo", "cannot create the directory f/demo: part of its path is a file"],
    ] as const) {
      const r = await runCli(["demo", arg], { cwd: dir });
      expect(r).toMatchObject({ code: 2, stdout: "", stderr: `trailseal: error: ${error}\n` });
    }
  });

  it("refuses a directory that is not empty; with --force, runs again over an earlier demo", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-demo-"));
    expect((await runCli(["demo", dir])).code).toBe(0);
    const before = readFileSync(join(dir, "alice.key"), "utf8");
    const again = await runCli(["demo", dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(
      `trailseal: error: ${dir} is not empty\ntrailseal: hint: give a new directory (trailseal demo DIR) or pass --force\n`,
    );
    const forced = await runCli(["demo", dir, "--force"]);
    expect(forced.code, forced.stdout).toBe(0);
    expect(forced.stderr).toBe("");
    expect(forced.stdout).toContain("$ trailseal init --home authority --force\n");
    expect(forced.stdout).toContain("-o session.trail --force\n");
    // New keys, still 0600, and the new trail verifies against the new authority.
    expect(readFileSync(join(dir, "alice.key"), "utf8")).not.toBe(before);
    expect(statSync(join(dir, "alice.key")).mode & 0o777).toBe(0o600);
    const v = await runCli(
      ["verify", "session.trail", "--ca", "authority/ca.crt", "--tsa-ca", "authority/ca.crt"],
      { cwd: dir },
    );
    expect(v.code, v.stdout).toBe(0);
  });
});
