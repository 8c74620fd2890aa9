/**
 * What an archive verification found, counted: trails by outcome (valid; invalid, by failed
 * check; truncated; tampered; unreadable), bytes, time. The same counts come from a run
 * (`SummaryFold.add` as each trail finishes) and from the JSONL lines of N shards concatenated
 * (`summarizeLines`), which recounts the verdict lines themselves and takes no shard's word for
 * its totals.
 *
 * JSONL lines (one object a line, docs/SCALE.md):
 *   {"type":"verdict", "key":…, "bytes":…, …the Verdict…}
 *   {"type":"error", "file":…, "key":…, "code":…, "message":…}
 *   {"type":"summary", …Summary…}                                  (last, one per run)
 */
import { createHash } from "node:crypto";
import { TrailsealError, type ErrorCode } from "../errors.js";
import { REQUIREMENTS, type Requirement, type Verdict } from "../verify.js";

export interface Summary {
  readonly type: "summary";
  readonly trails: number;
  readonly valid: number;
  /** Invalid for a failed check other than completeness (see `failedChecks`). */
  readonly invalid: number;
  /** How many invalid trails failed each check (a trail may fail several). */
  readonly failedChecks: Readonly<Record<Requirement, number>>;
  readonly truncated: number;
  readonly tampered: number;
  /** Could not be read (missing, unreadable, a worker that died on it). */
  readonly unreadable: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  /** Trails a second over the elapsed time (0 when nothing took time). */
  readonly trailsPerSecond: number;
  /** The shard this run verified, `K/N`, when it was one. */
  readonly shard?: string;
}

export interface VerdictLine extends Verdict {
  readonly type: "verdict";
  /** The trail's path relative to its directory or list (what shards hash). */
  readonly key: string;
  readonly bytes: number;
}

export interface ErrorLine {
  readonly type: "error";
  readonly file: string;
  readonly key: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export type ArchiveLine = VerdictLine | ErrorLine | Summary;

/** Exit status of a summary: 2 when any trail was unreadable, 1 when any failed, else 0. */
export function summaryStatus(s: Summary): 0 | 1 | 2 {
  if (s.unreadable > 0) return 2;
  return s.valid === s.trails ? 0 : 1;
}

export class SummaryFold {
  private valid = 0;
  private invalid = 0;
  private truncated = 0;
  private tampered = 0;
  private unreadable = 0;
  private bytes = 0;
  private readonly failedChecks: Record<Requirement, number> = Object.fromEntries(
    REQUIREMENTS.map((r) => [r, 0]),
  ) as Record<Requirement, number>;

  addVerdict(verdict: Verdict, bytes: number): void {
    this.bytes += bytes;
    switch (verdict.outcome) {
      case "valid":
        this.valid++;
        break;
      case "truncated":
        this.truncated++;
        break;
      case "tampered":
        this.tampered++;
        break;
      case "invalid":
        this.invalid++;
        for (const r of verdict.failed) this.failedChecks[r]++;
        break;
    }
  }

  addError(): void {
    this.unreadable++;
  }

  get trails(): number {
    return this.valid + this.invalid + this.truncated + this.tampered + this.unreadable;
  }

  summary(elapsedMs: number, shard?: string): Summary {
    const trails = this.trails;
    return {
      type: "summary",
      trails,
      valid: this.valid,
      invalid: this.invalid,
      failedChecks: { ...this.failedChecks },
      truncated: this.truncated,
      tampered: this.tampered,
      unreadable: this.unreadable,
      bytes: this.bytes,
      elapsedMs: Math.round(elapsedMs),
      trailsPerSecond: elapsedMs > 0 ? Math.round((trails / elapsedMs) * 1000 * 10) / 10 : 0,
      ...(shard === undefined ? {} : { shard }),
    };
  }
}

export interface MergedSummary {
  readonly summary: Summary;
  /** Things that make the merged result doubtful, each naming the file and line. */
  readonly warnings: string[];
  /** Runs (summary lines) found; each shard's output ends with one. */
  readonly runs: number;
}

/**
 * The combined summary of JSONL outputs (shards concatenated, in any order): verdict and error
 * lines are recounted; the elapsed time is the longest run's (shards run side by side). A trail
 * that appears twice (two shards listed different archives, or one ran twice) and an output
 * without a summary line (a shard that did not finish) are warned about.
 */
export async function summarizeLines(
  inputs: readonly { name: string; lines: AsyncIterable<string> }[],
): Promise<MergedSummary> {
  const fold = new SummaryFold();
  const seen = new Set<string>();
  const warnings: string[] = [];
  let elapsedMs = 0;
  let runs = 0;
  for (const input of inputs) {
    let lineNo = 0;
    let summaries = 0;
    let trailsSinceSummary = 0;
    for await (const text of input.lines) {
      lineNo++;
      if (text.trim() === "") continue;
      const line = parseLine(text, input.name, lineNo);
      if (line.type === "summary") {
        summaries++;
        trailsSinceSummary = 0;
        elapsedMs = Math.max(elapsedMs, line.elapsedMs);
        continue;
      }
      trailsSinceSummary++;
      const id = createHash("sha256").update(line.key).digest("base64").slice(0, 16);
      if (seen.has(id))
        warnings.push(`${input.name}:${lineNo}: ${line.key} was already counted (shards overlap?)`);
      seen.add(id);
      if (line.type === "verdict") fold.addVerdict(line, line.bytes);
      else fold.addError();
    }
    runs += summaries;
    if (summaries === 0 || trailsSinceSummary > 0)
      warnings.push(
        `${input.name}: ${summaries === 0 ? "no summary line" : "trails after its last summary line"}: that run did not finish, so trails may be missing`,
      );
  }
  return { summary: fold.summary(elapsedMs), warnings, runs };
}

function parseLine(text: string, name: string, lineNo: number): ArchiveLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TrailsealError("FORMAT_INVALID", `${name}:${lineNo}: not a JSON line`, {
      cause: e,
      file: name,
    });
  }
  const type = (value as { type?: unknown } | null)?.type;
  const fine =
    (type === "summary" &&
      typeof (value as Summary).elapsedMs === "number" &&
      typeof (value as Summary).trails === "number") ||
    (type === "verdict" &&
      typeof (value as VerdictLine).key === "string" &&
      typeof (value as VerdictLine).bytes === "number" &&
      typeof (value as VerdictLine).outcome === "string" &&
      Array.isArray((value as VerdictLine).failed)) ||
    (type === "error" && typeof (value as ErrorLine).key === "string");
  if (!fine)
    throw new TrailsealError(
      "FORMAT_INVALID",
      `${name}:${lineNo}: not a trailseal verify line (a verdict, error or summary object)`,
      { file: name },
    );
  return value as ArchiveLine;
}
