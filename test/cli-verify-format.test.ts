import { describe, expect, it } from "vitest";
import { formatVerdict } from "../src/cli/verify.js";
import type { Verdict } from "../src/verify.js";

describe("verify's human output", () => {
  it("escapes control characters from the trail (no terminal escapes reach the screen)", () => {
    const v: Verdict = {
      file: "x.trail",
      trail: "0".repeat(32),
      valid: false,
      required: ["timestamp", "complete"],
      failed: ["timestamp"],
      outcome: "invalid",
      downstream: { state: "clear", frames: 1 },
      upstream: { state: "clear", frames: 0 },
      signature: { state: "not-signed", signers: [], signed: 0, error: null },
      timestamp: {
        state: "invalid",
        stamped: 0,
        unstamped: [{ index: 1, timeUs: 10_000_000, reason: "down\x1b]0;pwned\x07" }],
        error: {
          code: "TIMESTAMP_INVALID",
          message: "checkpoint 1 (record 3): the TSA says \x1b[2J",
          checkpoint: 1,
          record: 3,
        },
      },
      integrity: {
        state: "complete",
        records: 4,
        checkpoints: 1,
        final: { index: 1, timeUs: 10_000_000 },
      },
      checkpoints: [],
      warnings: [],
    };
    const text = formatVerdict(v);
    // eslint-disable-next-line no-control-regex -- the point: no control characters but newlines
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(text).toContain("unstamped: checkpoint 1 at 10s (down\\x1b]0;pwned\\x07)");
    expect(text).toContain("TIMESTAMP   invalid: checkpoint 1 (record 3): the TSA says \\x1b[2J\n");
  });
});
