/**
 * The worker thread of `scanMany`: scans the trails the pool sends it, one at a time, with the
 * rules, trust anchors and keys it was started with (cloned into its memory, never through a
 * file or the environment). The rules are compiled once per worker.
 */
import { workerData } from "node:worker_threads";
import { ChainValidator } from "../sign.js";
import { serveTasks } from "./pool.js";
import { compileRules, scanOne, type ScanSetup } from "./scan-many.js";
import type { TrailInput } from "./inputs.js";

const setup = workerData as ScanSetup;
const rules = compileRules(setup.rules);
const validator = new ChainValidator();

serveTasks((input: TrailInput) => scanOne(input, setup, rules, validator));
