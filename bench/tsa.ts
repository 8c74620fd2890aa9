/**
 * Tokens per second of `trailseal tsa serve` under 8 concurrent loopback clients, beside
 * `openssl ts -reply` spawned once per request with 8 running at a time, in the same run and
 * with the same requests (made by `openssl ts -query`). Each side runs for a fixed time with a
 * cap on the request count; every reply is checked (HTTP 200 and PKIStatus granted) and one token
 * of each side goes through `openssl ts -verify`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { request, Agent } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseResponse } from "../src/timestamp/client.js";
import { CLI, CommandFailed, measure, REPO, setup } from "./lib.js";

const CONCURRENCY = 8;
const MAX_REQUESTS = 20_000;

export interface TsaSide {
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

export interface TsaKeyResult {
  key: "RSA-2048" | "ECDSA P-256";
  /** "cli" = `trailseal tsa serve`; "library" = startTsaServer in a child (CLI not registered yet). */
  server: "cli" | "library";
  trailseal: TsaSide;
  openssl: TsaSide;
  /** trailseal tokens/s over openssl tokens/s. */
  ratio: number;
}

export interface TsaResult {
  concurrency: number;
  secondsPerSide: number;
  keys: TsaKeyResult[];
}

const FIXTURES = [
  {
    key: "RSA-2048" as const,
    cert: join(REPO, "testdata", "pki", "tsa.pem"),
    pkey: join(REPO, "testdata", "pki", "tsa.key"),
  },
  {
    key: "ECDSA P-256" as const,
    cert: join(REPO, "testdata", "tsa", "tsa-ec.pem"),
    pkey: join(REPO, "testdata", "tsa", "tsa-ec.key"),
  },
];

function cliHasTsa(): boolean {
  return (
    spawnSync(process.execPath, [CLI, "tsa", "serve", "--help"], { stdio: "ignore" }).status === 0
  );
}

/** The node arguments that serve `cert` and `key` (files): `tsa serve`, or the library's server. */
function serverArgs(cert: string, key: string, mode: "cli" | "library"): string[] {
  return mode === "cli"
    ? [CLI, "tsa", "serve", "--cert", cert, "--key", key, "--host", "127.0.0.1", "--port", "0"]
    : ["--import", "tsx", join(REPO, "bench", "tsa-server.ts"), cert, key];
}

/** Starts the server (node with `args`) in a child process; resolves with its URL. */
async function startServer(
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    ...(env === undefined ? {} : { env }),
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new CommandFailed(`tsa server did not start:\n${seen}`)),
      20_000,
    );
    const look = (chunk: Buffer): void => {
      if (seen.length < 8000) seen += chunk.toString("utf8");
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.once("exit", (code) =>
      reject(new CommandFailed(`tsa server exited with ${code}:\n${seen}`)),
    );
  });
  // Keep draining the per-request log lines so the server never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.removeAllListeners("data");
  child.stderr!.resume();
  return { url, child };
}

/** Reads one DER length at `at`; returns [length, offset after it]. */
function derLength(der: Uint8Array, at: number): [number, number] {
  const first = der[at] ?? 0;
  if (first < 0x80) return [first, at + 1];
  let len = 0;
  for (let i = 1; i <= (first & 0x7f); i++) len = len * 256 + (der[at + i] ?? 0);
  return [len, at + 1 + (first & 0x7f)];
}

/**
 * The PKIStatus of a TimeStampResp (RFC 3161 §2.4.2: SEQUENCE { status PKIStatusInfo
 * SEQUENCE { status INTEGER, … }, … }), read without a full parse so the clients spend little
 * of the CPU they share with the server; -1 when the bytes are not shaped like that.
 */
function pkiStatus(der: Uint8Array): number {
  if (der[0] !== 0x30) return -1;
  const [, inner] = derLength(der, 1);
  if (der[inner] !== 0x30) return -1;
  const [, int] = derLength(der, inner + 1);
  if (der[int] !== 0x02 || der[int + 1] !== 0x01) return -1;
  return der[int + 2] ?? -1;
}

function post(agent: Agent, url: string, body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/timestamp-query",
          "content-length": body.byteLength,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200)
            reject(new CommandFailed(`tsa answered HTTP ${res.statusCode}`));
          else resolve(new Uint8Array(Buffer.concat(chunks)));
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new CommandFailed("tsa request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `worker(i)` in `CONCURRENCY` loops until `seconds` pass or the cap is reached. */
async function load(seconds: number, worker: (w: number) => Promise<void>): Promise<TsaSide> {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let tokens = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (Date.now() < deadline && tokens < MAX_REQUESTS) {
        await worker(w);
        tokens++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { tokens, seconds: elapsed, tokensPerSecond: tokens / elapsed };
}

function opensslConfig(dir: string, w: number, cert: string, key: string): string {
  const cnf = join(dir, `tsa-${w}.cnf`);
  writeFileSync(join(dir, `tsaserial-${w}`), `${(w + 1).toString(16).padStart(2, "0")}000000\n`);
  writeFileSync(
    cnf,
    [
      "[ tsa ]",
      "default_tsa = tsa_config",
      "[ tsa_config ]",
      `serial = ${join(dir, `tsaserial-${w}`)}`,
      `signer_cert = ${cert}`,
      `signer_key = ${key}`,
      "signer_digest = sha256",
      "default_policy = 1.3.6.1.4.1.32473.3161.1",
      "digests = sha256, sha384, sha512",
      "accuracy = secs:1",
      "ordering = no",
      "tsa_name = yes",
      "ess_cert_id_chain = no",
      "ess_cert_id_alg = sha256",
      "",
    ].join("\n"),
  );
  return cnf;
}

function opensslTsVerify(
  dir: string,
  query: string,
  reply: Uint8Array,
  cert: string,
  label: string,
): void {
  const tsr = join(dir, "check.tsr");
  writeFileSync(tsr, reply);
  const r = spawnSync(
    "openssl",
    [
      "ts",
      "-verify",
      "-queryfile",
      query,
      "-in",
      tsr,
      "-CAfile",
      join(REPO, "testdata", "pki", "root-ca.pem"),
      "-untrusted",
      cert,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0)
    throw new CommandFailed(`${label}: openssl ts -verify refused a token:\n${r.stderr}`);
}

/** The queries a load runs (one per client, made by `openssl ts -query`) and the TSA certificate. */
export interface TsaLoad {
  dir: string;
  queries: readonly string[];
  /** The TSA certificate, for `openssl ts -verify` of a sample token. */
  cert: string;
}

/** One query per client, written by `openssl ts -query -sha256 -cert` into `dir`. */
export function makeQueries(dir: string): string[] {
  const queries: string[] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const q = join(dir, `query-${w}.tsq`);
    writeFileSync(join(dir, `data-${w}.bin`), `trailseal tsa benchmark ${w}\n`);
    setup("openssl", [
      "ts",
      "-query",
      "-data",
      join(dir, `data-${w}.bin`),
      "-sha256",
      "-cert",
      "-out",
      q,
    ]);
    queries.push(q);
  }
  return queries;
}

/**
 * Tokens per second of a TSA server (node with `args`, in a child) under CONCURRENCY keep-alive
 * clients for `seconds`, after a warm-up; every reply must be granted, and one token goes through
 * `openssl ts -verify`.
 */
export async function serverTokensPerSecond(
  args: readonly string[],
  env: NodeJS.ProcessEnv | undefined,
  l: TsaLoad,
  seconds: number,
): Promise<TsaSide> {
  const bodies = l.queries.map((q) => new Uint8Array(readFileSync(q)));
  const { url, child } = await startServer(args, env);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    let sample: Uint8Array | null = null;
    const ask = async (w: number): Promise<void> => {
      const reply = await post(agent, url, bodies[w]!);
      if (pkiStatus(reply) !== 0) {
        const parsed = parseResponse(reply);
        throw new CommandFailed(`tsa refused: ${parsed.statusText ?? parsed.status}`);
      }
      if (w === 0) sample = reply;
    };
    for (let i = 0; i < 2 * CONCURRENCY; i++) await ask(i % CONCURRENCY); // warm up
    const side = await load(seconds, (w) => ask(w));
    agent.destroy();
    opensslTsVerify(l.dir, l.queries[0]!, sample!, l.cert, "trailseal tsa");
    return side;
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
}

export async function benchTsa(
  dir: string,
  secondsPerSide: number,
  log: (s: string) => void,
): Promise<TsaResult> {
  const mode = cliHasTsa() ? "cli" : "library";
  if (mode === "library")
    log(
      "note: `trailseal tsa serve` is not in the built CLI; serving with startTsaServer in a child",
    );
  const queries = makeQueries(dir);
  const keys: TsaKeyResult[] = [];
  for (const f of FIXTURES) {
    const ours = await serverTokensPerSecond(
      serverArgs(f.cert, f.pkey, mode),
      undefined,
      { dir, queries, cert: f.cert },
      secondsPerSide,
    );
    const configs = queries.map((_, w) => opensslConfig(dir, w, f.cert, f.pkey));
    const theirs = await load(secondsPerSide, async (w) => {
      // Each worker has its own config and serial file: `ts -reply` rewrites the serial file.
      await measure(
        "openssl",
        [
          "ts",
          "-reply",
          "-config",
          configs[w]!,
          "-queryfile",
          queries[w]!,
          "-out",
          join(dir, `reply-${w}.tsr`),
        ],
        { rssFile: "" },
      );
    });
    opensslTsVerify(
      dir,
      queries[0]!,
      new Uint8Array(readFileSync(join(dir, "reply-0.tsr"))),
      f.cert,
      "openssl ts -reply",
    );
    keys.push({
      key: f.key,
      server: mode,
      trailseal: ours,
      openssl: theirs,
      ratio: ours.tokensPerSecond / theirs.tokensPerSecond,
    });
    log(
      `  tsa ${f.key}: trailseal ${ours.tokensPerSecond.toFixed(0)} tokens/s, openssl ts -reply ${theirs.tokensPerSecond.toFixed(0)} tokens/s`,
    );
  }
  return { concurrency: CONCURRENCY, secondsPerSide, keys };
}
