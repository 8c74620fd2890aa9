import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { TrailsealError } from "../errors.js";
import { summarizeLines, summaryStatus } from "../archive/summary.js";
import { newCommand, runCommand, say, type Io } from "./io.js";
import { summaryLine } from "./archive.js";

interface SummaryFlags {
  json?: boolean;
}

/** The lines of a JSONL file (or stdin), streamed; an unreadable file is an IO error naming it. */
async function* linesOf(path: string, io: Io): AsyncGenerator<string> {
  const input =
    path === "-" ? io.stdin : createReadStream(resolve(io.cwd, path), { encoding: "utf8" });
  try {
    yield* createInterface({ input, crlfDelay: Infinity });
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read";
    throw new TrailsealError("IO", `${reason}: ${path}`, { cause: e, file: path });
  }
}

/**
 * `trailseal summary FILE.jsonl…`: the combined summary and exit status of `verify --jsonl`
 * outputs (the shards of an archive, concatenated or given one by one), verifying nothing again.
 */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal summary", io)
    .description(
      "the combined summary and exit status of 'verify --jsonl' outputs (e.g. one per shard), verifying nothing again",
    )
    .argument("<jsonl...>", "outputs of 'trailseal verify --jsonl' (- for stdin)")
    .option("--json", "print the summary as one JSON object on stdout")
    .addHelpText(
      "after",
      `
Examples:
  trailseal summary shard-*.jsonl
  cat results/*.jsonl | trailseal summary - --json

Verdict and error lines are counted again (no shard's totals are taken on trust); the elapsed
time is the longest run's, since shards run side by side. A trail that appears twice (shards
that overlap, or one run twice) and an output that has no summary line (a run that did not
finish) are warned about, and the exit status is then 2.
Exit status: 0 every trail valid, 1 any invalid, truncated or tampered, 2 any trail unreadable,
an incomplete or overlapping result, or a file that is not verify --jsonl output.`,
    );
  return runCommand<SummaryFlags>(cmd, argv, io, async (flags) => {
    if (cmd.args.filter((a) => a === "-").length > 1)
      throw new TrailsealError("USAGE", "stdin ('-') can be read only once");
    const merged = await summarizeLines(
      cmd.args.map((path) => ({ name: path === "-" ? "<stdin>" : path, lines: linesOf(path, io) })),
    );
    for (const w of merged.warnings) say(io, "warning", w);
    if (flags.json === true) io.stdout.write(`${JSON.stringify(merged.summary)}\n`);
    else io.stdout.write(`${summaryLine(merged.summary)}\n`);
    return merged.warnings.length > 0 ? 2 : summaryStatus(merged.summary);
  });
}
