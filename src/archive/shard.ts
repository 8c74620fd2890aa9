/**
 * Shards of an archive for array jobs (a Kubernetes Indexed Job, a Slurm job array, GNU
 * parallel): shard K of N takes the trails whose key (the path relative to the directory or list
 * it came from, inputs.ts) hashes to K. Every process that lists the same archive computes the
 * same split, whichever machine it runs on and wherever the archive is mounted, so N processes
 * verify every trail exactly once, with no coordination.
 *
 *   shard(key) = (first 8 bytes of SHA-256(UTF-8 key), big-endian) mod N
 */
import { createHash } from "node:crypto";
import { TrailsealError } from "../errors.js";

export interface Shard {
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

/** Most shards a split may have: more than any batch engine runs at once. */
export const MAX_SHARDS = 1_000_000;

/** Parses `K/N` (0 <= K < N). */
export function parseShard(text: string): Shard {
  const m = /^(\d{1,7})\/(\d{1,7})$/.exec(text.trim());
  const index = m === null ? NaN : Number(m[1]);
  const count = m === null ? NaN : Number(m[2]);
  if (!(count >= 1 && count <= MAX_SHARDS && index >= 0 && index < count)) {
    throw new TrailsealError(
      "USAGE",
      `a shard is K/N with 0 <= K < N <= ${MAX_SHARDS} (K counts from 0), not '${text}'`,
    );
  }
  return { index, count };
}

/** The shard (0 … count-1) a trail's key belongs to. */
export function shardOf(key: string, count: number): number {
  const digest = createHash("sha256").update(key, "utf8").digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}

/** True when the trail with this key is this shard's to verify. */
export function inShard(key: string, shard: Shard): boolean {
  return shard.count === 1 || shardOf(key, shard.count) === shard.index;
}

/** The inputs of one shard (all of them without a shard). */
export async function* ofShard<T extends { readonly key: string }>(
  inputs: AsyncIterable<T>,
  shard: Shard | undefined,
): AsyncGenerator<T> {
  for await (const input of inputs)
    if (shard === undefined || inShard(input.key, shard)) yield input;
}
