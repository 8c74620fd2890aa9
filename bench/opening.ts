/**
 * Opening a trail sealed under the full policy of issue 9 (four-eyes downstream, a separate
 * upstream key, signed, local timestamps): `replay --format raw` with both four-eyes keys beside
 * `age -d` of the same input, and `verify` (no key) beside `openssl dgst -sha256` of the same
 * trail file, tools taking turns within each repeat. Part of the throughput section: it runs on
 * its input file.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { FullPolicy } from "./throughput.js";
import {
  CLI,
  CommandFailed,
  maxOrNull,
  mbPerSecond,
  measure,
  median,
  sameFile,
  setup,
  type Measured,
} from "./lib.js";

export interface OpenFigure {
  label: string;
  seconds: number;
  /** Input MB (replay, age) or trail MB (verify, dgst) per second. */
  mbps: number;
  maxRssKiB: number | null;
  runs: number[];
}

export interface OpeningResult {
  trailBytes: number;
  replay: OpenFigure;
  /** null when age is not installed. */
  age: OpenFigure | null;
  verify: OpenFigure;
  dgst: OpenFigure;
}

interface Step {
  label: string;
  bytes: number;
  run: (rssFile: string) => Promise<Measured>;
}

/**
 * Seals `input` under the throughput section's full policy (not timed), then times the four
 * openings. `ageIdentity` is the identity file the throughput section made (null without age).
 */
export async function benchOpening(
  dir: string,
  full: FullPolicy,
  input: string,
  inputBytes: number,
  repeats: number,
  ageIdentity: string | null,
  log: (s: string) => void,
): Promise<OpeningResult> {
  const trail = join(dir, "full.trail");
  const aged = join(dir, "full.age");
  const out = join(dir, "full.out");
  const rssFile = join(dir, "rss-opening.txt");
  log("sealing the full-policy trail for replay and verify");
  setup(process.execPath, [CLI, ...full.seal, "--from", "raw", input, "-o", trail]);
  const trailBytes = Number(setup("stat", ["-c", "%s", trail]).trim());
  if (ageIdentity !== null) {
    const recipient = setup("age-keygen", ["-y", ageIdentity]).trim();
    setup("age", ["-r", recipient, "-o", aged, input]);
  }
  // Each writer finds the same memory: the output the one before it wrote, freed just before it
  // starts. On this VM, pages freed and left a few seconds go back to the host (free page
  // reporting), and a page the host must supply again costs system time: dd of 256 MiB to a new
  // file took 0.82-0.97 s sys on such pages and 0.10 s right after an rm; replay of the 1 GiB
  // trail 5.29 s / 4.08 s. Before this, age -d always ran right after replay's output was
  // removed, and replay after two new 1 GiB files (the trail, the age file). The copy made here
  // gives the first writer the same start.
  setup("cp", [input, out]);
  const checked = async (run: () => Promise<Measured>, what: string): Promise<Measured> => {
    rmSync(out, { force: true });
    const r = await run();
    if (!sameFile(input, out)) throw new CommandFailed(`${what}: output differs from the input`);
    return r;
  };
  const ca = full.ca;
  const steps: Step[] = [
    {
      label: "trailseal replay --format raw, both four-eyes keys",
      bytes: inputBytes,
      run: (f) =>
        checked(
          () =>
            measure(
              process.execPath,
              [CLI, "replay", trail, ...full.keys, "--format", "raw", "-o", out],
              { rssFile: f },
            ),
          "replay",
        ),
    },
    {
      label: "trailseal verify --ca --tsa-ca (no key)",
      bytes: trailBytes,
      run: (f) =>
        measure(process.execPath, [CLI, "verify", trail, "--ca", ca, "--tsa-ca", ca], {
          rssFile: f,
        }),
    },
    {
      label: "openssl dgst -sha256 (the same trail)",
      bytes: trailBytes,
      run: (f) => measure("openssl", ["dgst", "-sha256", trail], { rssFile: f }),
    },
  ];
  if (ageIdentity !== null) {
    steps.splice(1, 0, {
      label: "age -d (the same input)",
      bytes: inputBytes,
      run: (f) =>
        checked(
          () => measure("age", ["-d", "-i", ageIdentity, "-o", out, aged], { rssFile: f }),
          "age -d",
        ),
    });
  }
  const runs = steps.map(() => [] as Measured[]);
  try {
    for (let r = 0; r < repeats; r++) {
      for (const [i, s] of steps.entries()) runs[i]!.push(await s.run(rssFile));
      log(
        `  [${r + 1}/${repeats}] full policy: ${steps.map((s, i) => `${s.label.split(" ").slice(0, 2).join(" ")} ${runs[i]!.at(-1)!.seconds.toFixed(2)} s`).join(", ")}`,
      );
    }
  } finally {
    for (const f of [trail, aged, out]) rmSync(f, { force: true });
  }
  const figure = (i: number): OpenFigure => {
    const ms = runs[i]!;
    const seconds = median(ms.map((m) => m.seconds));
    return {
      label: steps[i]!.label,
      seconds,
      mbps: mbPerSecond(steps[i]!.bytes, seconds),
      maxRssKiB: maxOrNull(ms.map((m) => m.maxRssKiB)),
      runs: ms.map((m) => Math.round(m.seconds * 1000) / 1000),
    };
  };
  const find = (prefix: string): OpenFigure | null => {
    const i = steps.findIndex((s) => s.label.startsWith(prefix));
    return i < 0 ? null : figure(i);
  };
  return {
    trailBytes,
    replay: find("trailseal replay")!,
    age: find("age -d"),
    verify: find("trailseal verify")!,
    dgst: find("openssl dgst")!,
  };
}
