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
      downstream: { state: "clear", frames: 1, openedBy: null, alternatives: [], decrypted: 0 },
      upstream: { state: "clear", frames: 0, openedBy: null, alternatives: [], decrypted: 0 },
      signature: {
        state: "not-signed",
        signers: [],
        signer: null,
        signed: 0,
        code: null,
        message: null,
      },
      timestamp: {
        state: "partial",
        source: "remote",
        tsaName: null,
        policy: null,
        firstGenTime: null,
        lastGenTime: null,
        stamped: 0,
        unstamped: [{ index: 1, time: 10, reason: "down\x1b]0;pwned\x07" }],
        code: "TIMESTAMP_INVALID",
        message: "1 of 1 checkpoints are unstamped",
      },
      integrity: {
        state: "complete",
        records: 4,
        checkpoints: 1,
        final: { index: 1, time: 10 },
        lastCheckpoint: null,
        unsignedRecords: 0,
        firstBadRecord: null,
        code: null,
        message: null,
      },
      checkpoints: [],
      warnings: [],
    };
    const text = formatVerdict(v);
    // eslint-disable-next-line no-control-regex -- the point: no control characters but newlines
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(text).toContain("unstamped: checkpoint 1 at 10s (down\\x1b]0;pwned\\x07)");
  });
});
