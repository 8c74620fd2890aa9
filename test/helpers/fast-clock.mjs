/**
 * Preloaded into a `trailseal record` process (`node --import`) by the fault tests: the
 * session's monotonic clock (performance.now, which the recorder reads) runs FAST_CLOCK times
 * faster than the real one, so a 10 s checkpoint interval passes in a fraction of a second and
 * a test sees many checkpoints in a short run. Nothing else changes: the wall clock, the
 * command and the trail file are real.
 */
const FAST_CLOCK = 40;
import { performance } from "node:perf_hooks";

const real = performance.now.bind(performance);
const t0 = real();
performance.now = () => t0 + (real() - t0) * FAST_CLOCK;
