/**
 * Many trails verified on every core: the inputs (inputs.ts), filtered to one shard (shard.ts),
 * through the worker pool (pool.ts), each trail by `verifyTrail`. Outcomes come as each trail
 * finishes; `inOrder` (pool.ts) gives them in input order.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { readSize } from "../bytes.js";
import { TrailsealError } from "../errors.js";
import type { StanzaKey } from "../recipients.js";
import { ChainValidator } from "../sign.js";
import { verifyTrail, type Requirement, type Verdict } from "../verify.js";
import type { TrailInput } from "./inputs.js";
import { runTrails, type TaskOutcome, type TrailPoolOptions } from "./pool.js";

/** What every trail is verified with; sent once to each worker. */
export interface VerifySetup {
  /** Relative trail paths resolve against this directory. */
  readonly cwd: string;
  readonly anchors: readonly Uint8Array[];
  readonly tsaAnchors: readonly Uint8Array[];
  /** Certificates that may complete a signer's or TSA's chain (never trusted). */
  readonly untrusted?: readonly Uint8Array[];
  readonly keys: readonly StanzaKey[];
  readonly require?: readonly Requirement[];
}

export interface VerifyManyOptions extends VerifySetup, TrailPoolOptions {
  /** With `jobs` 0: called with the size of each chunk read (a progress line). */
  readonly onBytes?: (n: number) => void;
}

/** A verified trail: its verdict and the bytes read. */
export interface Verified {
  readonly verdict: Verdict;
  readonly bytes: number;
}

/** Reads one trail, counting its bytes; an unreadable file is an `IO` error naming it. */
export async function* trailBytes(
  path: string,
  cwd: string,
  count: { bytes: number },
  onBytes?: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  const full = resolve(cwd, path);
  const info = await stat(full).catch((e: unknown) => {
    throw new TrailsealError("IO", `no such file: ${path}`, { cause: e, file: path });
  });
  if (info.isDirectory())
    throw new TrailsealError("IO", `${path} is a directory, not a file`, { file: path });
  try {
    for await (const chunk of createReadStream(full, { highWaterMark: readSize(info.size) })) {
      count.bytes += (chunk as Buffer).byteLength;
      onBytes?.((chunk as Buffer).byteLength);
      yield chunk as Buffer;
    }
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    throw new TrailsealError("IO", `cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
      file: path,
    });
  }
}

/** Verifies one trail of an archive. Throws only when the file cannot be read. */
export async function verifyOne(
  input: TrailInput,
  setup: VerifySetup,
  validator: ChainValidator,
  onBytes?: (n: number) => void,
): Promise<Verified> {
  const count = { bytes: 0 };
  const source = trailBytes(input.path, setup.cwd, count, onBytes);
  const verdict = await verifyTrail(source, input.path, {
    anchors: setup.anchors,
    tsaAnchors: setup.tsaAnchors,
    ...(setup.untrusted === undefined ? {} : { untrusted: setup.untrusted }),
    keys: setup.keys,
    validator,
    ...(setup.require === undefined ? {} : { require: setup.require }),
  });
  return { verdict, bytes: count.bytes };
}

/**
 * Verifies every input on `jobs` workers; outcomes in completion order.
 *
 * @example
 *   for await (const o of verifyMany(trailInputs(["/archive"], { cwd }), { jobs: 2, cwd, anchors, tsaAnchors, keys: [] }))
 *     console.log(o.input.path, o.ok ? o.result.verdict.outcome : o.error.code);
 */
export function verifyMany(
  inputs: AsyncIterable<TrailInput>,
  options: VerifyManyOptions,
): AsyncGenerator<TaskOutcome<TrailInput, Verified>> {
  // A function does not cross threads: the workers get the rest (the pool's two numbers too).
  const { onBytes, ...setup } = options;
  const validator = new ChainValidator();
  return runTrails(inputs, options, {
    worker: "verify-worker",
    setup,
    inline: (input) => verifyOne(input, setup, validator, onBytes),
  });
}
