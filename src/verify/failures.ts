/**
 * Failed checks of checkpoint signatures and timestamp tokens, and the one rule that ranks them
 * (FAILURE_RANK in verdict.ts: the worst leads, then the first).
 */
import { isTrailsealError, type ErrorCode, type Missing } from "../errors.js";
import { FAILURE_RANK, type CheckpointProblem, type FailureState } from "./verdict.js";

export interface Failure {
  readonly state: FailureState;
  readonly error: CheckpointProblem;
}

/** Where a check ran: the checkpoint's index and the record that carried what was checked. */
export interface Place {
  readonly checkpoint: number;
  readonly record: number;
}

/**
 * A failure. `noAnchors` is what the caller gave none of (`trust-anchor`, `tsa-trust-anchor`),
 * or null when anchors were given; an untrusted failure without any anchors says so.
 */
export function failure(
  state: FailureState,
  code: ErrorCode,
  message: string,
  at: Place,
  noAnchors: Missing | null,
): Failure {
  const missing = state === "untrusted" && noAnchors !== null ? { missing: noAnchors } : {};
  return { state, error: { code, message, ...missing, ...at } };
}

/**
 * The failure a thrown check means: CHAIN_UNTRUSTED is untrusted, anything else invalid. `where`
 * prefixes the message. Rethrows what is not a TrailsealError (a bug, not a bad trail).
 */
export function failureOf(
  e: unknown,
  where: string,
  at: Place,
  noAnchors: Missing | null,
): Failure {
  if (!isTrailsealError(e)) throw e;
  const state = e.code === "CHAIN_UNTRUSTED" ? "untrusted" : "invalid";
  const f = failure(state, e.code, `${where}: ${e.message}`, at, noAnchors);
  // A certificate the signature left out can be given (as an untrusted one): say so.
  if (e.details.missing !== "untrusted-certificate") return f;
  return { state, error: { ...f.error, missing: e.details.missing } };
}

/** The failure that leads after `next`: the worse of the two; of equals, the earlier. */
export function leading(current: Failure | null, next: Failure): Failure {
  return current === null || FAILURE_RANK[next.state] > FAILURE_RANK[current.state]
    ? next
    : current;
}
