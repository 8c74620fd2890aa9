/**
 * The short fuzz run inside `npm test` (a few seconds per target; `npm run fuzz` is the long
 * one), the replay of every regression input kept under testdata/fuzz/, and proof that the
 * oracle catches what it must: a stray exception, a slow input, a big allocation.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TrailsealError } from "../src/errors.js";
import { check, fuzz, memoryLimit } from "./fuzz/harness.js";
import { TARGETS, TESTDATA, type Target } from "./fuzz/targets.js";

/** Regression inputs of bugs in files this suite does not own, until they are fixed. */
const KNOWN_BUGS: Record<string, string> = {};

const SHORT = { count: 400, timeBudgetMs: 3000 };

describe("fuzz targets (short run)", () => {
  for (const target of TARGETS) {
    it(`${target.name}: only TrailsealErrors, under a second, bounded memory`, async () => {
      const r = await fuzz(target, { seed: 20261123, ...SHORT });
      console.log(
        `fuzz ${r.target}: ${r.tried} inputs (${r.accepted} taken, ${r.refused} refused) in ${(r.ms / 1000).toFixed(1)} s`,
      );
      expect(r.failures.map((f) => `${f.kind}: ${f.detail.split("\n")[0]!}`)).toEqual([]);
      expect(r.tried).toBeGreaterThan(10);
    }, 60_000);
  }
});

describe("fuzz regressions (testdata/fuzz/)", () => {
  it("every kept input has its .txt saying why, and belongs to a target", () => {
    const root = join(TESTDATA, "fuzz");
    const dirs = existsSync(root) ? readdirSync(root) : [];
    for (const d of dirs) {
      expect(TARGETS.map((t) => t.name)).toContain(d);
      for (const f of readdirSync(join(root, d)).filter((f) => f.endsWith(".bin")))
        expect(existsSync(join(root, d, f.replace(/\.bin$/, ".txt"))), `${d}/${f}`).toBe(true);
    }
  });
  for (const target of TARGETS) {
    const dir = join(TESTDATA, "fuzz", target.name);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith(".bin"))
      .sort()) {
      const run = KNOWN_BUGS[`${target.name}/${file}`] === undefined ? it : it.fails;
      run(`${target.name}/${file}`, async () => {
        const input = new Uint8Array(readFileSync(join(dir, file)));
        await target.start?.();
        try {
          expect((await check(target, input)).failure).toBeNull();
        } finally {
          await target.stop?.();
        }
      });
    }
  }
});

describe("the oracle", () => {
  const fake = (run: Target["run"]): Target => ({
    name: "fake",
    seeds: () => Promise.resolve([new Uint8Array(8)]),
    arbitrary: fc.uint8Array(),
    run,
  });

  it("passes a TrailsealError, and catches any other exception with its stack", async () => {
    const refusing = await check(
      fake(() => Promise.reject(new TrailsealError("RECORD_INVALID", "x"))),
      new Uint8Array(1),
    );
    expect(refusing).toEqual({ failure: null, refused: true });
    const crashing = await check(
      fake(() => Promise.reject(new TypeError("cannot read properties of undefined"))),
      new Uint8Array(1),
    );
    expect(crashing.failure?.kind).toBe("exception");
    expect(crashing.failure?.detail).toMatch(
      /^TypeError: cannot read properties of undefined\n {4}at /,
    );
  });

  it("catches an input that takes more than a second of CPU, every time", async () => {
    // 1.1 s of CPU, however loaded the machine is
    const busy = () => {
      const start = process.cpuUsage();
      for (;;) {
        const used = process.cpuUsage(start);
        if (used.user + used.system > 1_100_000) break;
      }
      return Promise.resolve();
    };
    const slow = await check(fake(busy), new Uint8Array(3));
    expect(slow.failure).toEqual({
      target: "fake",
      kind: "slow",
      detail: expect.stringMatching(/^took \d{4,} ms of CPU on 3 bytes$/),
    });
  });

  it("catches an allocation far beyond the input's size (a length field believed)", async () => {
    const kept: Uint8Array[] = [];
    const greedy = await check(
      fake(async () => {
        kept.push(new Uint8Array(memoryLimit(new Uint8Array(16)) + 32 * 1024 * 1024).fill(1));
      }),
      new Uint8Array(16),
    );
    expect(greedy.failure?.kind).toBe("memory");
    expect(greedy.failure?.detail).toMatch(/^grew memory by \d+\.\d MiB on 16 bytes$/);
    kept.length = 0;
  });
});

describe("length fields that lie", () => {
  const trailTarget = TARGETS.find((t) => t.name === "trail")!;
  const base = () => {
    const file = readdirSync(join(TESTDATA, "trails")).find((f) => f === "valid-clear.vector")!;
    const bytes = readFileSync(join(TESTDATA, "trails", file));
    return new Uint8Array(bytes.subarray(bytes.indexOf("\n\n") + 2));
  };
  const withU32 = (b: Uint8Array, at: number, v: number) => {
    const out = b.slice();
    new DataView(out.buffer).setUint32(at, v);
    return out;
  };

  it.each([
    ["a header claiming 4 GiB", 10, 0xffffffff, "HEADER_INVALID"],
    ["a header claiming 16 MiB (the limit) in a small file", 10, 16 * 1024 * 1024, "TRUNCATED"],
  ])("%s is refused without holding the claim", async (_what, at, value, code) => {
    const input = withU32(base(), at, value);
    const r = await check(trailTarget, input);
    expect(r).toEqual({ failure: null, refused: true });
    await expect(trailTarget.run(input)).rejects.toMatchObject({ code });
  });

  it("a record claiming 4 GiB, or 1 MiB in a short file, is refused or read as cut short", async () => {
    const b = base();
    const sealedEnd = 14 + new DataView(b.buffer).getUint32(10);
    const first = sealedEnd + 4; // the annex is empty
    const huge = withU32(b, first + 20, 0xffffffff);
    await expect(trailTarget.run(huge)).rejects.toMatchObject({ code: "RECORD_INVALID" });
    expect((await check(trailTarget, huge)).failure).toBeNull();
    const big = withU32(b.subarray(0, first + 40), first + 20, 1024 * 1024);
    expect(await check(trailTarget, big)).toEqual({ failure: null, refused: false });
  });
});
