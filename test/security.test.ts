/**
 * The project's security standards, checked through the CLI as a user meets them: passphrases on
 * the command line are warned about, files holding secrets are not left readable by others.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

const CERTS = join(import.meta.dirname, "..", "testdata", "certs");
const PASS = "trailseal-test";
const NOW = new Date("2030-01-01T00:00:00Z");
const PASS_WARNING =
  "trailseal: warning: --passin pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH\n";

describe("--passin pass:TEXT", () => {
  it("is accepted with a warning that does not repeat the secret", async () => {
    const r = await runCli(["pem", "variants/modern.p12", "--passin", `pass:${PASS}`], {
      cwd: CERTS,
      now: NOW,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(PASS_WARNING);
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it("is not warned about as env:VAR or file:PATH", async () => {
    const r = await runCli(["pem", "variants/modern.p12", "--passin", "env:P"], {
      cwd: CERTS,
      now: NOW,
      env: { P: PASS },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("warns before a wrong passphrase fails, and neither line holds the passphrase", async () => {
    const r = await runCli(
      [
        "policy",
        "create",
        "--name",
        "x",
        "--encrypt",
        "variants/modern.p12",
        "--passin",
        "pass:Wr0ngSecret",
      ],
      { cwd: CERTS, now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith(PASS_WARNING)).toBe(true);
    expect(r.stderr).not.toContain("Wr0ngSecret");
    expect(r.stdout).not.toContain("Wr0ngSecret");
  });

  it("warns once per option even when the command reads it twice (share)", async () => {
    const r = await runCli(
      [
        "share",
        "missing.trail",
        "-k",
        "keys/rsa-pkcs8-encrypted.pem",
        "--passin",
        `pass:${PASS}`,
        "--to",
        "rsa2048-b.crt",
        "-o",
        "-",
      ],
      { cwd: CERTS, now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${PASS_WARNING}trailseal: error: no such file: missing.trail\n`);
  });
});
