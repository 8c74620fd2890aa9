/**
 * The exit codes and the one voice on stderr (`trailseal: error: …`). Apart from io.ts, which
 * re-exports them with the commander-based helpers, so that the dispatcher (main.ts) answers
 * --version and --help without loading commander or any command (issue 9, test/bundle.test.ts).
 */
import type { Io } from "./io.js";

/** Exit codes: 0 success, 1 a check failed, 2 usage or I/O error. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The one voice on stderr. */
export function say(
  io: Io,
  kind: "error" | "warning" | "hint" | "notice" | "summary",
  message: string,
): void {
  io.stderr.write(`trailseal: ${kind}: ${message}\n`);
}
