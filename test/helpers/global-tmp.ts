/**
 * Vitest global setup: every test file's temporary files go into one fresh directory, removed
 * when the run ends, so a run leaves nothing in the system's temp dir whatever each test does.
 * Workers are forked after this runs and inherit TMPDIR (os.tmpdir() reads it on every call).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "trailseal-tests-"));
  process.env["TMPDIR"] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
