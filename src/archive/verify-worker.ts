/**
 * The worker thread of `verifyMany`: verifies the trails the pool sends it, one at a time, with
 * the trust anchors and keys it was started with (cloned into its memory, never through a file
 * or the environment). One ChainValidator per worker: a signer chain is validated once per
 * worker, not once per trail.
 */
import { workerData } from "node:worker_threads";
import { ChainValidator } from "../sign.js";
import { serveTasks } from "./pool.js";
import { verifyOne, type VerifySetup } from "./verify-many.js";
import type { TrailInput } from "./inputs.js";

const setup = workerData as VerifySetup;
const validator = new ChainValidator();

serveTasks((input: TrailInput) => verifyOne(input, setup, validator));
