/**
 * The fuzz loop: feeds a target its seeds, mutations of them and fast-check inputs, and checks
 * the three rules of issue 14 for every input — nothing but a TrailsealError escapes, no input
 * takes more than a second, and no input makes the target hold much more memory than its size
 * justifies (a length field claiming 4 GiB must not allocate 4 GiB).
 */
import { performance } from "node:perf_hooks";
import fc from "fast-check";
import { TrailsealError } from "../../src/errors.js";
import { Rng, mutate } from "./mutate.js";
import type { Target } from "./targets.js";

export const SLOW_MS = 1000;
/** Growth allowed per input: a fixed slack for ordinary garbage, plus 64 bytes per input byte. */
export const memoryLimit = (input: Uint8Array) => 96 * 1024 * 1024 + 64 * input.byteLength;

export interface Failure {
  readonly target: string;
  readonly kind: "exception" | "slow" | "memory";
  readonly detail: string;
  readonly input: Uint8Array;
}

export interface Result {
  readonly target: string;
  readonly tried: number;
  /** Inputs the target took without complaint, and those refused with a TrailsealError. */
  readonly accepted: number;
  readonly refused: number;
  readonly ms: number;
  /** Distinct failures (by kind and the first lines of the error), each with its first input. */
  readonly failures: Failure[];
}

const gc = (globalThis as { gc?: () => void }).gc;

/** An input still unsettled after this long hangs (wall clock: a promise that never settles). */
export const HANG_MS = 10_000;

/** Runs the target once: the outcome, and the CPU time it took (immune to a loaded machine). */
async function once(target: Target, input: Uint8Array) {
  const cpu = process.cpuUsage();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<"hang">((resolve) => {
    timer = setTimeout(() => resolve("hang"), HANG_MS);
  });
  let outcome: "ok" | "hang" | { error: unknown };
  try {
    outcome = await Promise.race([target.run(input).then(() => "ok" as const), hang]);
  } catch (e) {
    outcome = { error: e };
  } finally {
    clearTimeout(timer);
  }
  const used = process.cpuUsage(cpu);
  return { outcome, ms: (used.user + used.system) / 1000 };
}

/** Runs one input through the target's oracle; `failure` is null when it held. */
export async function check(
  target: Target,
  input: Uint8Array,
): Promise<{ failure: Omit<Failure, "input"> | null; refused: boolean }> {
  const before = process.memoryUsage();
  const first = await once(target, input);
  const outcome = first.outcome;
  let ms = first.ms;
  const after = process.memoryUsage();
  const grown = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
  const fail = (kind: Failure["kind"], detail: string) => ({
    failure: { target: target.name, kind, detail },
    refused: false,
  });
  if (outcome === "hang")
    return fail("slow", `did not settle within ${HANG_MS} ms on ${input.byteLength} bytes`);
  if (outcome !== "ok") {
    const e = outcome.error;
    if (!(e instanceof TrailsealError)) {
      const err = e instanceof Error ? e : new Error(String(e));
      return fail("exception", err.stack ?? `${err.name}: ${err.message}`);
    }
  }
  // Garbage collection and the other processes of a shared machine land on some input now and
  // then: an input is slow only if it is slow every time.
  for (let retry = 0; retry < 2 && ms > SLOW_MS; retry++)
    ms = Math.min(ms, (await once(target, input)).ms);
  if (ms > SLOW_MS)
    return fail("slow", `took ${ms.toFixed(0)} ms of CPU on ${input.byteLength} bytes`);
  if (grown > memoryLimit(input))
    return fail(
      "memory",
      `grew memory by ${(grown / 2 ** 20).toFixed(1)} MiB on ${input.byteLength} bytes`,
    );
  return { failure: null, refused: outcome !== "ok" };
}

/** What identifies a failure: its kind and message, without the varying numbers. */
function signature(f: Omit<Failure, "input">): string {
  const lines = f.detail.split("\n");
  const first = lines.slice(0, 3).join("\n");
  return `${f.kind}:${(f.kind === "exception" ? first : "").replace(/\d+/g, "N")}`;
}

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Stop early after this long (the in-suite run). */
  timeBudgetMs?: number;
  onProgress?: (tried: number) => void;
}

export async function fuzz(target: Target, options: FuzzOptions): Promise<Result> {
  const seeds = await target.seeds();
  if (seeds.length === 0) throw new Error(`target ${target.name} has no seeds`);
  const rng = new Rng(options.seed);
  const started = performance.now();
  const failures = new Map<string, Failure>();
  let tried = 0;
  let accepted = 0;
  let refused = 0;
  let batch: Uint8Array[] = [];
  await target.start?.();
  try {
    for (; tried < options.count; tried++) {
      let input: Uint8Array;
      if (tried < seeds.length) input = seeds[tried]!;
      else if (rng.below(4) === 0) {
        if (batch.length === 0)
          batch = fc.sample(target.arbitrary, { numRuns: 256, seed: options.seed + tried });
        input = batch.pop()!;
      } else {
        const seed = rng.pick(seeds);
        input = target.mutate ? target.mutate(rng, seed, seeds) : mutate(rng, seed, seeds);
      }
      const r = await check(target, input);
      if (r.failure !== null) {
        const key = signature(r.failure);
        if (!failures.has(key)) failures.set(key, { ...r.failure, input });
      } else if (r.refused) refused++;
      else accepted++;
      if (tried % 500 === 499) {
        gc?.();
        options.onProgress?.(tried + 1);
      }
      if (
        options.timeBudgetMs !== undefined &&
        performance.now() - started > options.timeBudgetMs
      ) {
        tried++;
        break;
      }
    }
  } finally {
    await target.stop?.();
  }
  return {
    target: target.name,
    tried,
    accepted,
    refused,
    ms: performance.now() - started,
    failures: [...failures.values()],
  };
}
