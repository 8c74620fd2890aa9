/**
 * Which file an error is about is data (`details.file`), never read back from its message: the
 * trail reader marks its header errors, and the CLI names a trail only in errors that name no file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TrailsealError } from "../src/errors.js";
import { ByteSource } from "../src/bytes.js";
import { readHeader } from "../src/trail/reader.js";
import { namingTrail } from "../src/cli/common.js";
import { once } from "./helpers/recordings.js";
import { runCli } from "./helpers/io.js";
import { pkiPath } from "./helpers/tsa.js";

describe("errors name their file once", () => {
  it("a header error names the trail in its message and in details.file", async () => {
    const err = await readHeader(new ByteSource(once(new Uint8Array([1, 2, 3]))), "a.trail").catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: "TRAIL_INVALID",
      message: "a.trail is not a trailseal trail (bad magic)",
      details: { file: "a.trail" },
    });
    // Named already: namingTrail leaves it as it is.
    expect(namingTrail("a.trail", err)).toBe(err);
  });

  it("a record error gets the trail's name, its details and hint kept, and details.file set", () => {
    const e = new TrailsealError("RECORD_INVALID", "record 7: bad frame channel or flags", {
      record: 7,
      missing: "trust-anchor",
      hint: "look at record 7",
    });
    const named = namingTrail("b.trail", e) as TrailsealError;
    expect(named).toBeInstanceOf(TrailsealError);
    expect(named.code).toBe("RECORD_INVALID");
    expect(named.message).toBe("b.trail: record 7: bad frame channel or flags");
    expect(named.details).toEqual({ file: "b.trail", record: 7, missing: "trust-anchor" });
    expect(named.hint).toBe("look at record 7");
    expect(named.cause).toBe(e);
  });

  it("a message that merely starts with the name is not taken for a named file", () => {
    const e = new TrailsealError("RECORD_INVALID", "c.trail-like text, but no file detail");
    expect((namingTrail("c.trail", e) as Error).message).toBe(
      "c.trail: c.trail-like text, but no file detail",
    );
  });

  it("leaves anything that is not a TrailsealError alone", () => {
    const e = new Error("boom");
    expect(namingTrail("d.trail", e)).toBe(e);
  });
});

describe("TrailsealError.amend: the one way to add context on the way up", () => {
  it("keeps the code and details, lays the changes over them, and keeps the original as cause", () => {
    const e = new TrailsealError("KEY_INVALID", "a.key: no certificate", {
      file: "a.key",
      missing: "certificate",
      hint: "give a certificate",
    });
    const restated = e.amend({ message: "token: a.key: no certificate", record: 3 });
    expect([restated.code, restated.message, restated.hint, restated.cause]).toEqual([
      "KEY_INVALID",
      "token: a.key: no certificate",
      "give a certificate",
      e,
    ]);
    expect(restated.details).toEqual({ file: "a.key", missing: "certificate", record: 3 });
    const hinted = e.amend({ hint: "pass --cert FILE" });
    expect([hinted.message, hinted.hint]).toEqual(["a.key: no certificate", "pass --cert FILE"]);
    expect(e.withFile("b.key").details).toEqual({ file: "b.key", missing: "certificate" });
  });
});

describe("replay --ca names a trail whose header it refuses once", () => {
  it("bad magic: the reader's message (it names the trail) and the hint to run verify, exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-naming-"));
    try {
      writeFileSync(join(dir, "bad.trail"), "garbage, not a trail: the magic is wrong".repeat(2));
      const r = await runCli(
        ["replay", "bad.trail", "--key", pkiPath("signer-rsa.key")].concat([
          "--ca",
          pkiPath("root-ca.pem"),
          "-o",
          "out.cast",
        ]),
        { cwd: dir },
      );
      expect([r.code, r.stdout, r.stderr]).toEqual([
        1,
        "",
        "trailseal: error: bad.trail is not a trailseal trail (bad magic)\ntrailseal: hint: run 'trailseal verify' for the full verdict\n",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
