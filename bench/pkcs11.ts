/**
 * What a key on a PKCS#11 token costs, on SoftHSM2, beside the same key as a file in the same
 * run: `tsa serve` tokens per second (8 concurrent loopback clients, the same requests, every
 * reply granted and one token checked by `openssl ts -verify`), and `replay` start-up as a whole
 * process (module load, C_Initialize, session, login, one OAEP decryption on the token) with the
 * decryption key on the token or in a file. SoftHSM2 is a software token: a smart card or a
 * network HSM adds its own latency per operation on top of these figures.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeHsm, softhsmMissing, SOFTHSM_MODULE } from "../test/helpers/softhsm.js";
import { CLI, measure, median, REPO, setup } from "./lib.js";
import { makeQueries, serverTokensPerSecond, type TsaSide } from "./tsa.js";

export interface Pkcs11Result {
  tsa: {
    key: "RSA-2048";
    file: TsaSide;
    token: TsaSide;
    /** Token tokens/s over file tokens/s. */
    ratio: number;
  };
  replay: {
    runs: number;
    /** Median wall seconds of `trailseal replay` of a small trail, key from a file / the token. */
    fileSeconds: number;
    tokenSeconds: number;
    /** Token seconds over file seconds. */
    ratio: number;
  };
}

const PIN = "7777";
const TSA_URI = "pkcs11:token=bench;object=tsa;type=private";
const AUDIT_URI = "pkcs11:token=bench;object=audit;type=private";
const pki = (n: string) => join(REPO, "testdata", "pki", n);
const certs = (n: string) => join(REPO, "testdata", "certs", n);

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24 }),
  JSON.stringify([0.1, "o", "$ "]),
  JSON.stringify([0.5, "i", "id\r"]),
  JSON.stringify([0.7, "o", "uid=0(root)\r\n$ "]),
  "",
].join("\n");

/** Returns null (saying why) where SoftHSM2, opensc or the pkcs11js addon is missing. */
export async function benchPkcs11(
  dir: string,
  secondsPerSide: number,
  runs: number,
  log: (s: string) => void,
): Promise<Pkcs11Result | null> {
  const missing = softhsmMissing();
  if (missing !== null) {
    log(`  pkcs11: skipped: ${missing}`);
    return null;
  }
  const hsm = makeHsm();
  try {
    hsm.initToken("bench", PIN, "bench-so");
    const text = (path: string) => readFileSync(path, "utf8");
    hsm.importKey("bench", PIN, {
      keyPem: text(pki("tsa.key")),
      certPem: text(pki("tsa.pem")),
      id: "01",
      label: "tsa",
    });
    hsm.importKey("bench", PIN, {
      keyPem: text(certs("rsa2048-a.key")),
      certPem: text(certs("rsa2048-a.crt")),
      id: "02",
      label: "audit",
    });
    const env = { ...process.env, SOFTHSM2_CONF: hsm.conf, BENCH_PIN: PIN };
    const tokenFlags = ["--pin", "env:BENCH_PIN", "--pkcs11-module", SOFTHSM_MODULE];
    const tsa = await tsaSides(join(dir, "pkcs11-tsa"), env, tokenFlags, secondsPerSide);
    log(
      `  pkcs11 tsa serve RSA-2048: file key ${tsa.file.tokensPerSecond.toFixed(0)} tokens/s, token key ${tsa.token.tokensPerSecond.toFixed(0)} tokens/s`,
    );
    const replay = await replaySides(join(dir, "pkcs11-replay"), env, tokenFlags, runs);
    log(
      `  pkcs11 replay start-up: file key ${(replay.fileSeconds * 1000).toFixed(0)} ms, token key ${(replay.tokenSeconds * 1000).toFixed(0)} ms`,
    );
    return { tsa, replay };
  } finally {
    hsm.remove();
  }
}

async function tsaSides(
  dir: string,
  env: NodeJS.ProcessEnv,
  tokenFlags: string[],
  seconds: number,
): Promise<Pkcs11Result["tsa"]> {
  mkdirSync(dir);
  const l = { dir, queries: makeQueries(dir), cert: pki("tsa.pem") };
  const listen = ["--host", "127.0.0.1", "--port", "0"];
  const serve = [CLI, "tsa", "serve", ...listen];
  const file = await serverTokensPerSecond(
    [...serve, "--cert", pki("tsa.pem"), "--key", pki("tsa.key")],
    env,
    l,
    seconds,
  );
  const token = await serverTokensPerSecond(
    [...serve, "--key", TSA_URI, ...tokenFlags],
    env,
    l,
    seconds,
  );
  return { key: "RSA-2048", file, token, ratio: token.tokensPerSecond / file.tokensPerSecond };
}

async function replaySides(
  dir: string,
  env: NodeJS.ProcessEnv,
  tokenFlags: string[],
  runs: number,
): Promise<Pkcs11Result["replay"]> {
  mkdirSync(dir);
  const p = (n: string) => join(dir, n);
  writeFileSync(p("s.cast"), CAST);
  const cli = (args: string[]) => setup(process.execPath, [CLI, ...args], dir);
  cli([
    "policy",
    "create",
    "--name",
    "bench",
    "--encrypt",
    certs("rsa2048-a.crt"),
    "-o",
    p("p.json"),
  ]);
  cli(["seal", "--policy", p("p.json"), p("s.cast"), "-o", p("s.trail")]);
  const replay = (key: string[]) =>
    measure(process.execPath, [CLI, "replay", p("s.trail"), "--format", "raw", ...key], {
      cwd: dir,
      env,
      rssFile: "",
    });
  const file: number[] = [];
  const token: number[] = [];
  // Interleaved, so that a change in the machine's load falls on both sides alike.
  for (let i = 0; i < runs; i++) {
    file.push((await replay(["--key", certs("rsa2048-a.key")])).seconds);
    token.push((await replay(["--key", AUDIT_URI, ...tokenFlags])).seconds);
  }
  const fileSeconds = median(file);
  const tokenSeconds = median(token);
  return { runs, fileSeconds, tokenSeconds, ratio: tokenSeconds / fileSeconds };
}
