/**
 * Verification of a one-hour trail with 120 signed checkpoints (interval 30 s), beside
 * `openssl cms -verify` run once per checkpoint signature, in the same run.
 *
 * When the built CLI has a `verify` command, the figure is its wall time (process start
 * included). Until then a stand-in runs in this process: the trail reader (record digests,
 * chain, structure) plus `verifyDetached` of every checkpoint with one shared ChainValidator,
 * which is what `trailseal verify` does for an untimestamped trail; the result says which ran.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { TrailReader } from "../src/trail/reader.js";
import { ChainValidator, verifyDetached } from "../src/sign.js";
import { CLI, CommandFailed, measure, median, REPO, setup } from "./lib.js";

const PKI = join(REPO, "testdata", "pki");

export interface VerifyResult {
  /** "cli" = `trailseal verify`; "stand-in" = reader + verifyDetached in-process (TODO). */
  mode: "cli" | "stand-in";
  sessionSeconds: number;
  records: number;
  checkpoints: number;
  signedCheckpoints: number;
  trailBytes: number;
  trailseal: { seconds: number; runs: number[]; chainValidations: number | null };
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

function cliHasVerify(): boolean {
  const r = spawnSync(process.execPath, [CLI, "verify", "--help"], { stdio: "ignore" });
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
      writeFileSync(join(exportDir, `checkpoint-${signed}.bin`), record.content);
      writeFileSync(join(exportDir, `checkpoint-${signed}.p7s`), record.signature);
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
  // One pass that checks the trail and writes out the signatures for openssl.
  const walk = await standIn(trail, anchors, exportDir);
  const mode: VerifyResult["mode"] = cliHasVerify() ? "cli" : "stand-in";
  if (mode === "stand-in")
    log("TODO: `trailseal verify` is not in the built CLI yet; timing the in-process stand-in");

  const ours: number[] = [];
  const theirs: number[] = [];
  let validations: number | null = null;
  const rssFile = join(dir, "rss-verify.txt");
  for (let r = 0; r < repeats; r++) {
    if (mode === "cli") {
      const m = await measure(
        process.execPath,
        [CLI, "verify", trail, "--ca", join(PKI, "root-ca.pem")],
        { rssFile },
      );
      ours.push(m.seconds);
    } else {
      const t0 = process.hrtime.bigint();
      const w = await standIn(trail, anchors, null);
      ours.push(Number(process.hrtime.bigint() - t0) / 1e9);
      validations = w.validations;
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < walk.signed; i++) {
      await measure(
        "openssl",
        [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          join(exportDir, `checkpoint-${i}.p7s`),
          "-content",
          join(exportDir, `checkpoint-${i}.bin`),
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
    theirs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    log(
      `  [${r + 1}/${repeats}] verify: trailseal ${(ours.at(-1)! * 1000).toFixed(0)} ms, openssl x${walk.signed} ${(theirs.at(-1)! * 1000).toFixed(0)} ms`,
    );
  }
  const oursS = median(ours);
  const theirsS = median(theirs);
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 10000) / 10000);
  return {
    mode,
    sessionSeconds,
    records: walk.records,
    checkpoints: walk.checkpoints,
    signedCheckpoints: walk.signed,
    trailBytes: statSync(trail).size,
    trailseal: { seconds: oursS, runs: round(ours), chainValidations: validations },
    openssl: {
      seconds: theirsS,
      perSignatureMs: (theirsS / Math.max(1, walk.signed)) * 1000,
      runs: round(theirs),
    },
    ratio: theirsS / oursS,
  };
}
