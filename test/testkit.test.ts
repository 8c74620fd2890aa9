/**
 * The conformance testkit (testdata/trails/*.vector, docs/TESTKIT.md): every vector verifies to
 * exactly its `expect:` and `verdict:`, whole, in one-byte chunks and in seeded random chunks;
 * and the generator is deterministic (regenerating gives the same bytes).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, decodeVector } from "../testdata/trails/vectors.js";
import { runVector } from "./helpers/testkit.js";

const DIR = join(ROOT, "testdata", "trails");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".vector"))
  .sort();

async function* whole(b: Uint8Array) {
  yield b;
}

async function* bytewise(b: Uint8Array) {
  for (let i = 0; i < b.byteLength; i++) yield b.subarray(i, i + 1);
}

/** Chunks of 1..4096 bytes from a seeded xorshift32, so a failure can be replayed. */
async function* randomChunks(b: Uint8Array, seed: number) {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.byteLength;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const n = 1 + ((x >>> 0) % 4096);
    yield b.subarray(i, i + n);
    i += n;
  }
}

const seedOf = (name: string) =>
  [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261);

describe("conformance vectors", () => {
  it("there are at least 30, covering every required case", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(30);
    const names = FILES.map((f) => f.replace(/\.vector$/, ""));
    for (const required of [
      "valid-clear",
      "valid-single",
      "valid-any-of",
      "valid-four-eyes",
      "valid-upstream-separate",
      "valid-upstream-only",
      "valid-signed-only",
      "valid-timestamp-only",
      "valid-remote-tsa",
      "truncated-inside-record",
      "truncated-at-record-boundary",
      "truncated-before-final-checkpoint",
      "flip-header",
      "flip-stanza",
      "flip-frame",
      "flip-checkpoint",
      "flip-signature",
      "flip-token",
      "record-dropped",
      "record-duplicated",
      "records-reordered",
      "record-foreign",
      "checkpoint-head-mismatch",
      "commitment-wrong",
      "upstream-removed",
      "stanzas-swapped",
      "signer-outside-anchors",
      "signer-expired",
      "token-other-data",
      "checkpoint-unstamped",
      "version-future",
    ])
      expect(names).toContain(required);
  });

  for (const file of FILES) {
    it(`${file}: whole, one byte at a time and in random chunks`, async () => {
      const { header, trail } = decodeVector(readFileSync(join(DIR, file)));
      const want = { expect: header.expect, verdict: header.verdict };
      for (const [how, source] of [
        ["whole", whole(trail)],
        ["bytewise", bytewise(trail)],
        ["random", randomChunks(trail, seedOf(file))],
      ] as const) {
        const got = await runVector(header, source, file);
        expect({ how, expect: got.expect, verdict: got.verdict }).toEqual({ how, ...want });
      }
    });
  }

  it("regenerating the vectors gives the same bytes", () => {
    const out = mkdtempSync(join(tmpdir(), "trailseal-vectors-"));
    execFileSync(
      join(ROOT, "node_modules", ".bin", "tsx"),
      [join(DIR, "generate.ts"), "--out", out],
      { cwd: ROOT, stdio: "pipe" },
    );
    const fresh = readdirSync(out).sort();
    expect(fresh).toEqual(FILES);
    for (const f of FILES) {
      expect(Buffer.compare(readFileSync(join(out, f)), readFileSync(join(DIR, f))), f).toBe(0);
    }
  }, 180_000);
});
