/**
 * The real recording of testdata/recordings/scan (a bash session under `script --log-io` in
 * tmux), sealed as the scan tests use it, and the report lines of its `read -rsp` command.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { TESTDATA } from "./fixtures.js";
import { runCli } from "./io.js";

const rec = (n: string) => join(TESTDATA, "recordings", "scan", n);
const pki = (n: string) => join(TESTDATA, "pki", n);

/** Seals the recording: downstream to rsa2048-a, upstream to rsa2048-c, signed, 10 s interval. */
export async function sealRecording(into: string): Promise<void> {
  const policy = join(into, "p.json");
  const create = await runCli([
    ...[
      "policy",
      "create",
      "--name",
      "scan",
      "--encrypt",
      join(TESTDATA, "certs", "rsa2048-a.crt"),
    ],
    ...["--upstream", join(TESTDATA, "certs", "rsa2048-c.crt"), "--sign-identity", "signer"],
    ...["--interval", "10", "-o", policy],
  ]);
  expect(create.code).toBe(0);
  const seal = await runCli([
    ...["seal", "--policy", policy, "--sign-cert", pki("signer-rsa-chain.pem")],
    ...["--sign-key", pki("signer-rsa.key"), rec("shell.log"), "--timing", rec("shell.tm")],
    ...["-o", join(into, "s.trail")],
  ]);
  expect([seal.code, seal.stderr]).toEqual([0, ""]);
  expect(seal.stdout).toMatch(/: 147 records, 3 checkpoints; .* signed, not timestamped\n$/);
  const whole = readFileSync(join(into, "s.trail"));
  // Cut inside the final checkpoint: the records after checkpoint 2 are covered by nothing.
  writeFileSync(join(into, "cut.trail"), whole.subarray(0, whole.byteLength - 10));
}

/** The human report of the recording's `read -rsp` command as a hit of `rule` ("rule 0 of …"). */
export function readHit(rule: string, from: "keystrokes" | "screen", actions: string): string[] {
  const where = from === "keystrokes" ? "record 72 (upstream)" : "record 73 (downstream)";
  return [
    `s.trail: ${rule} (command, from the ${from}) at 14.812s, ${where}, checkpoint 2: verified`,
    "  matched: read ",
    `  in:      read -rsp 'Password: ' pw; echo; echo "got \${#pw} characters"`,
    `  actions: ${actions}`,
  ];
}
