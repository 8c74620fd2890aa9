import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listedPaths, trailInputs, type TrailInput } from "../src/archive/inputs.js";
import { inOrder, runPool, type PoolOptions, type TaskOutcome } from "../src/archive/pool.js";
import { inShard, parseShard, shardOf } from "../src/archive/shard.js";

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of items) out.push(x);
  return out;
}

async function* bytes(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

function archive(): string {
  const dir = mkdtempSync(join(tmpdir(), "trailseal-archive-"));
  for (const f of [
    "b.trail",
    "a.trail",
    "notes.txt",
    "sub/z.trail",
    "sub/deep/y.trail",
    "c.d/x.trail",
  ]) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), f);
  }
  // A directory symlink pointing back up: followed, the walk would never end.
  symlinkSync(dir, join(dir, "sub", "loop"));
  return dir;
}

describe("trailInputs", () => {
  it("walks directories for *.trail in byte order, keys relative to the directory, files as given", async () => {
    const dir = archive();
    const inputs = await all(
      trailInputs([dir, "x/../single.bin", "./missing.trail"], { cwd: dir }),
    );
    expect(inputs).toEqual<TrailInput[]>([
      { path: join(dir, "a.trail"), key: "a.trail" },
      { path: join(dir, "b.trail"), key: "b.trail" },
      { path: join(dir, "c.d/x.trail"), key: "c.d/x.trail" },
      { path: join(dir, "sub/deep/y.trail"), key: "sub/deep/y.trail" },
      { path: join(dir, "sub/z.trail"), key: "sub/z.trail" },
      // Files are taken whatever their name; a missing one is still listed (its verdict says so).
      { path: "x/../single.bin", key: "single.bin" },
      { path: "./missing.trail", key: "missing.trail" },
    ]);
  });

  it("gives the same keys whichever path names the directory", async () => {
    const dir = archive();
    const a = await all(trailInputs([dir], { cwd: "/" }));
    const b = await all(trailInputs(["."], { cwd: dir }));
    expect(b.map((t) => t.key)).toEqual(a.map((t) => t.key));
    expect(b[0]).toEqual({ path: "a.trail", key: "a.trail" });
  });

  it("reads lists after the named paths, line by line or NUL-separated, across chunk boundaries", async () => {
    const lines = await all(
      trailInputs([], {
        cwd: "/",
        lists: [
          {
            name: "list",
            source: bytes("a/one.trail\n\ntw", "o.trail\nwith space.trail\n./three"),
          },
        ],
      }),
    );
    expect(lines).toEqual([
      { path: "a/one.trail", key: "a/one.trail" },
      { path: "two.trail", key: "two.trail" },
      { path: "with space.trail", key: "with space.trail" },
      { path: "./three", key: "three" },
    ]);
    const nul = await all(
      listedPaths({ name: "l", source: bytes("new\nline.trail\0b", ".trail\0") }, true),
    );
    expect(nul).toEqual(["new\nline.trail", "b.trail"]);
  });

  it("refuses a list that is not text, or whose entry is too long to be a path, naming the entry", async () => {
    const bad = all(
      listedPaths(
        {
          name: "paths.txt",
          source: (async function* () {
            yield new Uint8Array([0x61, 0x0a, 0xff, 0x0a]);
          })(),
        },
        false,
      ),
    );
    await expect(bad).rejects.toMatchObject({
      code: "USAGE",
      message: "paths.txt: entry 2 is not UTF-8 text",
    });
    const long = all(listedPaths({ name: "<stdin>", source: bytes("x".repeat(70_000)) }, false));
    await expect(long).rejects.toMatchObject({
      code: "USAGE",
      message: "<stdin>: entry 1 is longer than 65536 bytes: not a list of newline-separated paths",
    });
  });
});

describe("shards", () => {
  it("parses K/N and refuses anything else with the rule", () => {
    expect(parseShard("0/1")).toEqual({ index: 0, count: 1 });
    expect(parseShard("3/4")).toEqual({ index: 3, count: 4 });
    for (const bad of ["4/4", "1/0", "-1/3", "a/b", "1", "1/2/3", "1.5/3"]) {
      expect(() => parseShard(bad)).toThrow(
        expect.objectContaining({
          code: "USAGE",
          message: `a shard is K/N with 0 <= K < N <= 1000000 (K counts from 0), not '${bad}'`,
        }),
      );
    }
  });

  it("hashes the key as documented (first 8 bytes of SHA-256, big-endian, mod N)", () => {
    // sha256sum of "sub/z.trail", from coreutils, not node.
    const hex = execFileSync("sha256sum", { input: "sub/z.trail" }).toString().slice(0, 16);
    for (const n of [2, 7, 1000])
      expect(shardOf("sub/z.trail", n)).toBe(Number(BigInt(`0x${hex}`) % BigInt(n)));
  });

  it("splits any list exactly once across N shards", () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `dir${i % 13}/session-${i}.trail`);
    for (const n of [1, 2, 3, 8]) {
      const counts = new Array<number>(n).fill(0);
      for (const k of keys) {
        const owners = Array.from({ length: n }, (_, i) => i).filter((i) =>
          inShard(k, { index: i, count: n }),
        );
        expect(owners).toHaveLength(1);
        counts[owners[0]!]!++;
      }
      // Roughly even: no shard gets under half its share.
      for (const c of counts) expect(c).toBeGreaterThan(2000 / n / 2);
    }
  });
});

const WORKER = new URL("./helpers/pool-worker.ts", import.meta.url);

async function* tasks(list: { n: number; act?: string }[]) {
  yield* list;
}

describe("runPool", () => {
  it("runs every task on the workers and gives each outcome once; inOrder restores input order", async () => {
    const input = Array.from({ length: 40 }, (_, n) => ({
      n,
      ...(n % 7 === 0 ? { act: "slow" } : {}),
    }));
    const outcomes = await all(
      runPool(tasks(input), { size: 2, worker: WORKER, workerData: { offset: 1 } }),
    );
    expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
    const ordered = await all(
      inOrder(
        runPool(tasks(input), {
          size: 2,
          worker: WORKER,
          workerData: { offset: 1 },
        }),
      ),
    );
    expect(ordered).toEqual(
      input.map((t, index) => ({ index, input: t, ok: true, result: t.n * t.n + 1 })),
    );
  });

  /** Each input's result in input order on 2 workers, or its failure as "CODE: message". */
  async function resultsOf(
    input: { n: number; act?: string }[],
    options: Partial<PoolOptions<{ n: number }, number>>,
  ): Promise<(number | string)[]> {
    const pool = runPool(tasks(input), {
      size: 2,
      worker: WORKER,
      workerData: { offset: 0 },
      name: (t) => `input ${t.n}`,
      ...options,
    });
    return ((await all(inOrder(pool))) as TaskOutcome<{ n: number }, number>[]).map((o) =>
      o.ok ? o.result : `${o.error.code}: ${o.error.message}`,
    );
  }

  it("reports a task that fails, and replaces a worker that dies in the middle of a task; the others go on", async () => {
    const input = [
      { n: 1 },
      { n: 2, act: "exit" },
      { n: 3 },
      { n: 4, act: "fail" },
      { n: 5, act: "throw" },
      { n: 6, act: "oom" },
      { n: 7 },
      { n: 8, act: "exit" },
      { n: 9 },
    ];
    const summary = await resultsOf(input, { resourceLimits: { maxOldGenerationSizeMb: 64 } });
    expect(summary).toEqual([
      1,
      "WORKER_FAILED: the worker on input 2 died (exit code 7); the other inputs go on",
      9,
      "TRAIL_INVALID: input 4 is not a trail",
      "WORKER_FAILED: the worker on input 5 died (boom outside the task's promise); the other inputs go on",
      expect.stringMatching(
        /^WORKER_FAILED: the worker on input 6 died \(.*(memory|heap).*\); the other inputs go on$/i,
      ),
      49,
      "WORKER_FAILED: the worker on input 8 died (exit code 7); the other inputs go on",
      81,
    ]);
  });

  it("stops a worker still on its task after taskTimeoutMs, reports that task, and goes on with a new worker", async () => {
    const input = [{ n: 1 }, { n: 2, act: "spin" }, { n: 3, act: "slow" }, { n: 4 }, { n: 5 }];
    // Counted from the worker's ready message: a slow start under load is not the task's.
    expect(await resultsOf(input, { taskTimeoutMs: 1500 })).toEqual([
      1,
      "WORKER_FAILED: the worker on input 2 died (stopped after 1.5 s without finishing); the other inputs go on",
      9,
      16,
      25,
    ]);
  });

  it("pulls inputs only as workers free up, never more than the window past the oldest unfinished task", async () => {
    let pulled = 0;
    async function* counted() {
      for (let n = 0; n < 30; n++) {
        pulled++;
        yield { n, ...(n === 0 ? { act: "slow" } : {}) };
      }
    }
    const before: number[] = [];
    let pulledWhenFirstEnded = -1;
    const seen: number[] = [];
    for await (const o of runPool(counted(), {
      size: 2,
      worker: WORKER,
      workerData: { offset: 0 },
      window: 4,
    })) {
      if (o.index === 0) pulledWhenFirstEnded = pulled;
      else if (pulledWhenFirstEnded === -1) before.push(o.index);
      seen.push(o.index);
    }
    // While task 0 (slow) runs, only tasks 1..3 may start: 4 inputs pulled, no more.
    expect(pulledWhenFirstEnded).toBe(4);
    expect(before.sort((a, b) => a - b)).toEqual([1, 2, 3]);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("runs inline with size 0, turning errors into outcomes", async () => {
    const out = await all(
      runPool(tasks([{ n: 2 }, { n: 3 }]), {
        size: 0,
        inline: async (t) => {
          if (t.n === 3) throw new Error("nope");
          return t.n * 10;
        },
      }),
    );
    expect(out).toEqual([
      { index: 0, input: { n: 2 }, ok: true, result: 20 },
      {
        index: 1,
        input: { n: 3 },
        ok: false,
        error: { code: "WORKER_FAILED", message: "unexpected failure: nope" },
      },
    ]);
  });
});
