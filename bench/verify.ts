/**
 * Verification of a one-hour trail with 120 signed checkpoints (interval 30 s), beside
 * `openssl cms -verify` run once per checkpoint signature, in the same run; and the same hour
 * sealed with signed and timestamped checkpoints (the local authority's signer and TSA), whose
 * whole-process verify has the issue-9 target of `node -e 0` + 150 ms.
 *
 * The headline figure is `trailseal verify TRAIL --ca root-ca.pem` of the built CLI, timed as a
 * whole process, with `trailseal --version` beside it for the node start and module load. The
 * library call `verifyTrail` (record digests, chain, structure, every checkpoint signature with
 * one shared chain validation) is timed in this process too. openssl checks the signatures as
 * `trailseal export` writes them.
 */
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
import { ChainValidator } from "../src/sign.js";
import { localPolicy, sealLocal } from "./archive.js";
import { verifyTrail, type Verdict } from "../src/verify.js";
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
  sessionSeconds: number;
  records: number;
  checkpoints: number;
  signedCheckpoints: number;
  trailBytes: number;
  /** `trailseal verify`, whole process. */
  trailseal: { seconds: number; runs: number[]; maxRssKiB: number | null };
  /** `trailseal --version`: the node start and module load inside the CLI figure. */
  startup: { seconds: number };
  /** The hour with 120 signed and stamped checkpoints: `trailseal verify`, whole process. */
  stamped: {
    checkpoints: number;
    seconds: number;
    runs: number[];
    cpuSeconds: number | null;
    maxRssKiB: number | null;
  };
  /** `node -e 0`, the reference of the stamped row. */
  nodeStart: { seconds: number; cpuSeconds: number | null };
  /** `verifyTrail` in this process. */
  library: { seconds: number; runs: number[]; chainValidations: number };
  openssl: { seconds: number; perSignatureMs: number; runs: number[] };
  /** openssl seconds / trailseal verify seconds: above 1 means trailseal is faster. */
  ratio: number;
}

function cpuMedian(ms: readonly Measured[]): number | null {
  const cpus = ms.map((m) => m.cpuSeconds).filter((x): x is number => x !== null);
  return cpus.length === 0 ? null : median(cpus);
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

/** Seals `cast` with signed and locally stamped checkpoints every 30 s; returns the CA file. */
function sealStamped(dir: string, cast: string, trail: string): string {
  const home = join(dir, "authority-verify");
  setup(process.execPath, [CLI, "init", "--home", home]);
  sealLocal(home, localPolicy(dir, "bench-stamped", 30), cast, "asciicast", trail);
  return join(home, "ca.crt");
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
  const library = async (): Promise<{ verdict: Verdict; validations: number }> => {
    const validator = new ChainValidator();
    const verdict = await verifyTrail(createReadStream(trail), trail, { anchors, validator });
    if (!verdict.valid || verdict.signature.state !== "valid") {
      throw new CommandFailed(
        `verifyTrail: ${trail} is not valid: ${JSON.stringify(verdict.failed)}`,
      );
    }
    return { verdict, validations: validator.validations };
  };
  const { verdict } = await library();
  log("sealing the same hour with signed and timestamped checkpoints (local authority)");
  const stampedTrail = join(dir, "hour-stamped.trail");
  const localCa = sealStamped(dir, cast, stampedTrail);
  const stampedArgs = [CLI, "verify", stampedTrail, "--ca", localCa, "--tsa-ca", localCa];
  setup(process.execPath, [CLI, "export", trail, exportDir, "--force"]);
  const pairs = readdirSync(exportDir)
    .filter((f) => /^checkpoint-\d+\.p7s$/.test(f))
    .sort()
    .map((f) => ({
      p7s: join(exportDir, f),
      content: join(exportDir, f.replace(/\.p7s$/, ".txt")),
    }));
  if (pairs.length !== verdict.signature.signed) {
    throw new CommandFailed(
      `expected ${verdict.signature.signed} exported signatures, found ${pairs.length}`,
    );
  }

  const cli: Measured[] = [];
  const stamped: Measured[] = [];
  const nodeStart: Measured[] = [];
  const startup: number[] = [];
  const lib: number[] = [];
  const theirs: number[] = [];
  let validations = 0;
  const rssFile = join(dir, "rss-verify.txt");
  for (let r = 0; r < repeats; r++) {
    // Exit status 0 = valid under the default requirements (complete, signature).
    cli.push(
      await measure(process.execPath, [CLI, "verify", trail, "--ca", join(PKI, "root-ca.pem")], {
        rssFile,
      }),
    );
    startup.push((await measure(process.execPath, [CLI, "--version"], { rssFile: "" })).seconds);
    // Exit status 0 = valid: complete, signature and timestamp (the default requirements).
    stamped.push(await measure(process.execPath, stampedArgs, { rssFile }));
    nodeStart.push(await measure(process.execPath, ["-e", "0"], { rssFile }));
    const t0 = process.hrtime.bigint();
    validations = (await library()).validations;
    lib.push(Number(process.hrtime.bigint() - t0) / 1e9);
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
      `  [${r + 1}/${repeats}] verify: trailseal verify ${ms(cli.at(-1)?.seconds)} ms, ` +
        `verifyTrail ${ms(lib.at(-1))} ms, openssl x${pairs.length} ${ms(theirs.at(-1))} ms; ` +
        `stamped hour ${ms(stamped.at(-1)?.seconds)} ms, node -e 0 ${ms(nodeStart.at(-1)?.seconds)} ms`,
    );
  }
  const round = (xs: number[]): number[] => xs.map((x) => Math.round(x * 10000) / 10000);
  const ours = cli.map((m) => m.seconds);
  const theirsS = median(theirs);
  return {
    sessionSeconds,
    records: verdict.integrity.records,
    checkpoints: verdict.integrity.checkpoints,
    signedCheckpoints: verdict.signature.signed,
    trailBytes: statSync(trail).size,
    trailseal: {
      seconds: median(ours),
      runs: round(ours),
      maxRssKiB: maxOrNull(cli.map((m) => m.maxRssKiB)),
    },
    startup: { seconds: median(startup) },
    stamped: {
      checkpoints: verdict.integrity.checkpoints,
      seconds: median(stamped.map((m) => m.seconds)),
      runs: round(stamped.map((m) => m.seconds)),
      cpuSeconds: cpuMedian(stamped),
      maxRssKiB: maxOrNull(stamped.map((m) => m.maxRssKiB)),
    },
    nodeStart: {
      seconds: median(nodeStart.map((m) => m.seconds)),
      cpuSeconds: cpuMedian(nodeStart),
    },
    library: { seconds: median(lib), runs: round(lib), chainValidations: validations },
    openssl: {
      seconds: theirsS,
      perSignatureMs: (theirsS / Math.max(1, pairs.length)) * 1000,
      runs: round(theirs),
    },
    ratio: theirsS / median(ours),
  };
}
