/**
 * Verification of a one-hour trail with 120 signed checkpoints (interval 30 s), beside
 * `openssl cms -verify` run once per checkpoint signature, in the same run.
 *
 * The headline figure is `trailseal verify TRAIL --ca root-ca.pem` of the built CLI, timed as a
 * whole process, with `trailseal --version` beside it for the node start and module load. The
 * library pass (trail reader: record digests, chain, structure; then `verifyDetached` of every
 * checkpoint with one shared ChainValidator) is timed in this process too. Before `verify`
 * existed the library pass was the headline figure, marked TODO. openssl checks what
 * `trailseal export` writes (or, without export, the same files written from the reader).
 */
import { spawnSync } from "node:child_process";
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { TrailReader } from "../src/trail/reader.js";
import { ChainValidator, verifyDetached } from "../src/sign.js";
import {
  CLI,
  CommandFailed,
  maxOrNull,
  measure,
  median,
  REPO,
  setup,
  type Measured,
} from "./lib.js";

const PKI = join(REPO, "testdata", "pki");

export interface VerifyResult {
  /** "cli" = `trailseal verify` timed; "stand-in" = only the in-process library pass (TODO). */
  mode: "cli" | "stand-in";
  /** Where openssl's inputs came from: `trailseal export`, or written from the reader. */
  exported: "trailseal export" | "reader";
  sessionSeconds: number;
  records: number;
  checkpoints: number;
  signedCheckpoints: number;
  trailBytes: number;
  /** The headline figure: the CLI when there is one, else the library pass. */
  trailseal: { seconds: number; runs: number[]; maxRssKiB: number | null };
  /** `trailseal --version`: the node start and module load inside the CLI figure. */
  startup: { seconds: number } | null;
  /** Reader (digests, chain, structure) + verifyDetached per checkpoint, in this process. */
  library: { seconds: number; runs: number[]; chainValidations: number };
  openssl: { seconds: number; perSignatureMs: number; runs: number[] };
  /** openssl seconds / trailseal seconds: above 1 means trailseal is faster. */
  ratio: number;
}

/** An asciicast v2 recording: one line of output a second for `seconds` seconds. */
function oneHourCast(seconds: number): string {
  const lines = [JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1_767_225_600 })];
  for (let i = 0; i < seconds; i++) {
    lines.push(
      JSON.stringify([i + 0.5, "o", `tick ${i}: ${"load average 0.42 0.37 0.31 ".repeat(2)}\r\n`]),
    );
  }
  return `${lines.join("\n")}\n`;
}

function cliHas(command: string): boolean {
  const r = spawnSync(process.execPath, [CLI, command, "--help"], { stdio: "ignore" });
  return r.status === 0;
}

interface Walk {
  records: number;
  checkpoints: number;
  signed: number;
  validations: number;
}

/** The stand-in verifier; also writes each checkpoint's content and signature for openssl. */
async function standIn(
  trail: string,
  anchors: Uint8Array[],
  exportDir: string | null,
): Promise<Walk> {
  const reader = await TrailReader.open(createReadStream(trail), trail);
  const validator = new ChainValidator();
  let records = 0;
  let checkpoints = 0;
  let signed = 0;
  for await (const record of reader.records()) {
    records++;
    if (record.type !== "checkpoint") continue;
    checkpoints++;
    if (record.signature.byteLength === 0) continue;
    await verifyDetached(record.signature, record.content, { anchors, validator });
    if (exportDir !== null) {
      const name = `checkpoint-${String(signed + 1).padStart(3, "0")}`;
      writeFileSync(join(exportDir, `${name}.txt`), record.content);
      writeFileSync(join(exportDir, `${name}.p7s`), record.signature);
    }
    signed++;
  }
  if (reader.end.state !== "complete") throw new CommandFailed(`${trail}: ${reader.end.state}`);
  return { records, checkpoints, signed, validations: validator.validations };
}

export async function benchVerify(
  dir: string,
  repeats: number,
  log: (s: string) => void,
): Promise<VerifyResult> {
  const sessionSeconds = 3600;
  const cast = join(dir, "hour.cast");
  const policy = join(dir, "policy-signed.json");
  const trail = join(dir, "hour.trail");
  const exportDir = join(dir, "checkpoints");
  mkdirSync(exportDir, { recursive: true });
  writeFileSync(cast, oneHourCast(sessionSeconds));
  setup(process.execPath, [
    CLI,
    "policy",
    "create",
    "--name",
    "bench-signed",
    "--encrypt",
    join(REPO, "testdata", "certs", "rsa2048-a.crt"),
    "--sign-identity",
    "signer",
    "--interval",
    "30",
    "-o",
    policy,
  ]);
  log("sealing a one-hour asciicast with signed checkpoints every 30 s");
  setup(process.execPath, [
    CLI,
    "seal",
    "--policy",
    policy,
    "--from",
    "asciicast",
    cast,
    "-o",
    trail,
    "--sign-cert",
    join(PKI, "signer-rsa-chain.pem"),
    "--sign-key",
    join(PKI, "signer-rsa.key"),
  ]);
  const anchors = [new Uint8Array(new X509Certificate(readFileSync(join(PKI, "root-ca.pem"))).raw)];
  const mode: VerifyResult["mode"] = cliHas("verify") ? "cli" : "stand-in";
  if (mode === "stand-in")
    log("TODO: `trailseal verify` is not in the built CLI yet; timing the in-process stand-in");
  // openssl checks what `trailseal export` writes; before export existed, the reader wrote it.
  const exported: VerifyResult["exported"] = cliHas("export") ? "trailseal export" : "reader";
  const walk = await standIn(trail, anchors, exported === "reader" ? exportDir : null);
  if (exported === "trailseal export") {
    setup(process.execPath, [CLI, "export", trail, exportDir, "--force"]);
  }
  const pairs = readdirSync(exportDir)
    .filter((f) => /^checkpoint-\d+\.p7s$/.test(f))
    .sort()
    .map((f) => ({
      p7s: join(exportDir, f),
      content: join(exportDir, f.replace(/\.p7s$/, ".txt")),
    }));
  if (pairs.length !== walk.signed) {
    throw new CommandFailed(`expected ${walk.signed} exported signatures, found ${pairs.length}`);
  }

  const cli: Measured[] = [];
  const startup: number[] = [];
  const library: number[] = [];
  const theirs: number[] = [];
  let validations = 0;
  const rssFile = join(dir, "rss-verify.txt");
  for (let r = 0; r < repeats; r++) {
    if (mode === "cli") {
      cli.push(
        await measure(process.execPath, [CLI, "verify", trail, "--ca", join(PKI, "root-ca.pem")], {
          rssFile,
        }),
      );
      startup.push((await measure(process.execPath, [CLI, "--version"], { rssFile: "" })).seconds);
    }
    const t0 = process.hrtime.bigint();
    validations = (await standIn(trail, anchors, null)).validations;
    library.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const t1 = process.hrtime.bigint();
    for (const { p7s, content } of pairs) {
      await measure(
        "openssl",
        [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          p7s,
          "-content",
          content,
          "-CAfile",
          join(PKI, "root-ca.pem"),
          "-purpose",
          "any",
          "-out",
          "/dev/null",
        ],
        { rssFile: "" },
      );
    }
    theirs.push(Number(process.hrtime.bigint() - t1) / 1e9);
    const ms = (x: number | undefined): string => ((x ?? NaN) * 1000).toFixed(0);
    log(
      `  [${r + 1}/${repeats}] verify: ` +
        (mode === "cli" ? `trailseal verify ${ms(cli.at(-1)?.seconds)} ms, ` : "") +
        `library pass ${ms(library.at(-1))} ms, openssl x${pairs.length} ${ms(theirs.at(-1))} ms`,
    );
  }
  const round = (xs: number[]): number[] => xs.map((x) => Math.round(x * 10000) / 10000);
  const ours =
    mode === "cli"
      ? {
          seconds: median(cli.map((m) => m.seconds)),
          runs: round(cli.map((m) => m.seconds)),
          maxRssKiB: maxOrNull(cli.map((m) => m.maxRssKiB)),
        }
      : { seconds: median(library), runs: round(library), maxRssKiB: null };
  const theirsS = median(theirs);
  return {
    mode,
    exported,
    sessionSeconds,
    records: walk.records,
    checkpoints: walk.checkpoints,
    signedCheckpoints: walk.signed,
    trailBytes: statSync(trail).size,
    trailseal: ours,
    startup: mode === "cli" ? { seconds: median(startup) } : null,
    library: { seconds: median(library), runs: round(library), chainValidations: validations },
    openssl: {
      seconds: theirsS,
      perSignatureMs: (theirsS / Math.max(1, pairs.length)) * 1000,
      runs: round(theirs),
    },
    ratio: theirsS / ours.seconds,
  };
}
