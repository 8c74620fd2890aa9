/**
 * Seal and replay throughput of the built CLI on raw input, beside age and openssl on the same
 * file in the same run. Tools take turns within each repeat, so a noisy neighbour slows all of
 * them alike; the figure per tool is the median over the repeats, the RSS the largest seen.
 */
import { createWriteStream, rmSync, statSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import {
  available,
  CLI,
  CommandFailed,
  maxOrNull,
  mbPerSecond,
  measure,
  median,
  REPO,
  sameFile,
  setup,
  writeRandomFile,
  type Measured,
} from "./lib.js";
import { benchOpening, type OpeningResult } from "./opening.js";

const CERTS = join(REPO, "testdata", "certs");
const RECIPIENT_CERT = join(CERTS, "rsa2048-a.crt");
const RECIPIENT_KEY = join(CERTS, "rsa2048-a.key");

export interface ToolFigures {
  /** Stable id, e.g. "trailseal-rsa". */
  id: string;
  /** What ran, as shown in the tables. */
  label: string;
  openLabel: string;
  seal: { seconds: number; mbps: number; maxRssKiB: number | null; runs: number[] };
  open: { seconds: number; mbps: number; maxRssKiB: number | null; runs: number[] };
  /** Output size over input size (format overhead). */
  expansion: number;
}

export interface ThroughputResult {
  inputBytes: number;
  repeats: number;
  tools: ToolFigures[];
  /** Reference tools that were not run, with the reason. */
  skipped: { id: string; reason: string }[];
  /** Seal of a large asciicast v2 recording under the full policy (trailseal-full), if run. */
  asciicast?: AsciicastFigures;
  /**
   * Peak RSS of the CLI with a command's modules loaded and no data (`seal --help`,
   * `replay --help`): the floor under trailseal's figures.
   */
  floorKiB: { seal: number | null; replay: number | null };
  /** Replay and verify of the same input sealed under the full policy, beside age -d and dgst. */
  opening: OpeningResult;
}

export interface AsciicastFigures {
  /** Bytes of event data (the "o" and "i" strings, UTF-8), and of the .cast file. */
  eventBytes: number;
  fileBytes: number;
  events: number;
  seconds: number;
  /** MB/s of event data. */
  mbps: number;
  maxRssKiB: number | null;
  runs: number[];
}

interface Tool {
  id: string;
  label: string;
  openLabel: string;
  seal: (input: string, output: string) => [string, string[]];
  open: (sealed: string, output: string) => [string, string[]];
}

function node(args: string[]): [string, string[]] {
  return [process.execPath, [CLI, ...args]];
}

/**
 * The full policy of issue 9: four-eyes downstream (rsa2048-a inside rsa2048-b), a separate
 * upstream key (rsa2048-c), signed, local timestamps every 30 s; the local authority in
 * `dir/home` signs and stamps. Returns the seal arguments before the input, and the keys replay
 * needs for the downstream.
 */
export interface FullPolicy {
  /** `seal` and its arguments before the input. */
  seal: string[];
  /** The `--key` arguments replay needs for the downstream. */
  keys: string[];
  /** The local authority's certificate: `verify --ca` and `--tsa-ca`. */
  ca: string;
}

function fullPolicy(dir: string): FullPolicy {
  const home = join(dir, "home");
  const policy = join(dir, "policy-full.json");
  setup(process.execPath, [CLI, "init", "--home", home]);
  const cert = (n: string) => join(CERTS, `rsa2048-${n}.crt`);
  setup(process.execPath, [
    CLI,
    "policy",
    "create",
    "--name",
    "bench-full",
    "--encrypt",
    `${cert("a")},${cert("b")}`,
    "--upstream",
    cert("c"),
    "--sign-identity",
    "bench-signer",
    "--timestamp",
    "local",
    "--interval",
    "30",
    "-o",
    policy,
  ]);
  const seal = [
    "seal",
    "--policy",
    policy,
    "--home",
    home,
    "--sign-cert",
    join(home, "signer.crt"),
    "--sign-key",
    join(home, "signer.key"),
  ];
  const keys = ["--key", join(CERTS, "rsa2048-a.key"), "--key", join(CERTS, "rsa2048-b.key")];
  return { seal, keys, ca: join(home, "ca.crt") };
}

/** Policies and keys the tools need, made once in `dir`. */
function prepare(
  dir: string,
  log: (s: string) => void,
): { tools: Tool[]; skipped: ThroughputResult["skipped"]; full: FullPolicy } {
  const encPolicy = join(dir, "policy-rsa.json");
  const clearPolicy = join(dir, "policy-clear.json");
  setup(process.execPath, [
    CLI,
    "policy",
    "create",
    "--name",
    "bench",
    "--encrypt",
    RECIPIENT_CERT,
    "-o",
    encPolicy,
  ]);
  setup(process.execPath, [CLI, "policy", "create", "--name", "bench-clear", "-o", clearPolicy]);
  const full = fullPolicy(dir);
  const tools: Tool[] = [
    {
      id: "trailseal-rsa",
      label: "trailseal seal, 1 RSA-2048 recipient",
      openLabel: "trailseal replay --format raw, RSA-2048 key",
      seal: (i, o) => node(["seal", "--policy", encPolicy, "--from", "raw", i, "-o", o]),
      open: (s, o) => node(["replay", s, "--key", RECIPIENT_KEY, "--format", "raw", "-o", o]),
    },
    {
      id: "trailseal-full",
      label: "trailseal seal, full policy (four-eyes, upstream key, signed, local TSA every 30 s)",
      openLabel: "trailseal replay --format raw, full-policy trail, both four-eyes keys",
      seal: (i, o) => node([...full.seal, "--from", "raw", i, "-o", o]),
      open: (s, o) => node(["replay", s, ...full.keys, "--format", "raw", "-o", o]),
    },
    {
      id: "trailseal-clear",
      label: "trailseal seal, clear (chained, no encryption)",
      openLabel: "trailseal replay --format raw, clear",
      seal: (i, o) => node(["seal", "--policy", clearPolicy, "--from", "raw", i, "-o", o]),
      open: (s, o) => node(["replay", s, "--format", "raw", "-o", o]),
    },
  ];
  const skipped: ThroughputResult["skipped"] = [];
  if (available("age", ["--version"]) && available("age-keygen", ["--version"])) {
    const identity = join(dir, "age.key");
    setup("age-keygen", ["-o", identity]);
    const recipient = setup("age-keygen", ["-y", identity]).trim();
    tools.push({
      id: "age",
      label: "age -r (X25519, ChaCha20-Poly1305)",
      openLabel: "age -d",
      seal: (i, o) => ["age", ["-r", recipient, "-o", o, i]],
      open: (s, o) => ["age", ["-d", "-i", identity, "-o", o, s]],
    });
  } else {
    const reason = "age is not installed (Debian package `age`: apt-get install age)";
    log(`skipping age: ${reason}`);
    skipped.push({ id: "age", reason });
  }
  // openssl 3.0's `enc` refuses AEAD ciphers, so AES-256-CTR stands in as the bulk cipher.
  tools.push({
    id: "openssl-enc",
    label: "openssl enc -aes-256-ctr -pbkdf2",
    openLabel: "openssl enc -d -aes-256-ctr -pbkdf2",
    seal: (i, o) => [
      "openssl",
      ["enc", "-aes-256-ctr", "-pbkdf2", "-pass", "pass:bench", "-in", i, "-out", o],
    ],
    open: (s, o) => [
      "openssl",
      ["enc", "-d", "-aes-256-ctr", "-pbkdf2", "-pass", "pass:bench", "-in", s, "-out", o],
    ],
  });
  tools.push({
    id: "openssl-cms",
    label: "openssl cms -encrypt -aes-256-cbc (RSA-2048)",
    openLabel: "openssl cms -decrypt (RSA-2048)",
    seal: (i, o) => [
      "openssl",
      [
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-cbc",
        "-outform",
        "DER",
        "-in",
        i,
        "-out",
        o,
        RECIPIENT_CERT,
      ],
    ],
    open: (s, o) => [
      "openssl",
      [
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s,
        "-inkey",
        RECIPIENT_KEY,
        "-out",
        o,
      ],
    ],
  });
  return { tools, skipped, full };
}

/** Event data of the asciicast row: at least 100 MB (issue 9). */
const CAST_EVENT_BYTES = 100e6;

/**
 * Writes an asciicast v2 recording of a busy terminal (a build log: coloured lines, CRLF, some
 * UTF-8, output events of 0.5-4 KiB one millisecond apart, a keystroke event every 50) holding
 * at least `eventBytes` of event data, and the downstream bytes alone to `rawPath`, which a raw
 * replay of the sealed trail must give back.
 */
async function writeAsciicast(
  path: string,
  rawPath: string,
  eventBytes: number,
): Promise<{ events: number; eventBytes: number }> {
  let seed = 9;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pool = Array.from({ length: 256 }, (_, k) => {
    let text = "";
    const size = 512 + next(3584);
    for (let line = 0; text.length < size; line++) {
      const level = ["\u001b[32mINFO\u001b[0m", "\u001b[33mWARN\u001b[0m"][next(2)]!;
      text += `${level} [${k}:${line}] compiling src/module_${next(1000)}.ts … café ${"x".repeat(next(60))}\r\n`;
    }
    return { json: JSON.stringify(text), bytes: Buffer.from(text, "utf8") };
  });
  const cast = createWriteStream(path);
  const raw = createWriteStream(rawPath);
  const write = async (out: typeof cast, chunk: string | Buffer) => {
    if (!out.write(chunk)) await once(out, "drain");
  };
  await write(cast, `${JSON.stringify({ version: 2, width: 120, height: 40, title: "bench" })}\n`);
  let total = 0;
  let events = 0;
  for (let ms = 1; total < eventBytes; ms++) {
    const time = (ms / 1000).toFixed(6);
    if (ms % 50 === 0) {
      await write(cast, `[${time}, "i", "make\\r"]\n`);
      total += 5;
    } else {
      const e = pool[ms % pool.length]!;
      await write(cast, `[${time}, "o", ${e.json}]\n`);
      await write(raw, e.bytes);
      total += e.bytes.byteLength;
    }
    events++;
  }
  for (const out of [cast, raw]) {
    out.end();
    await once(out, "finish");
  }
  return { events, eventBytes: total };
}

/** Seals a large asciicast recording under the full policy, `repeats` times (median). */
async function benchAsciicast(
  dir: string,
  full: FullPolicy,
  repeats: number,
  log: (s: string) => void,
): Promise<AsciicastFigures> {
  const cast = join(dir, "large.cast");
  const raw = join(dir, "large.downstream");
  const sealed = join(dir, "large.trail");
  const opened = join(dir, "large.opened");
  const rssFile = join(dir, "rss.txt");
  log(`generating an asciicast v2 recording of ${CAST_EVENT_BYTES / 1e6} MB of events`);
  const { events, eventBytes } = await writeAsciicast(cast, raw, CAST_EVENT_BYTES);
  const runs: Measured[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      rmSync(sealed, { force: true });
      const [c, a] = node([...full.seal, "--from", "asciicast", cast, "-o", sealed]);
      runs.push(await measure(c, a, { rssFile }));
      log(`  [${r + 1}/${repeats}] asciicast seal ${runs[r]!.seconds.toFixed(2)} s`);
    }
    rmSync(opened, { force: true });
    const [c, a] = node(["replay", sealed, ...full.keys, "--format", "raw", "-o", opened]);
    await measure(c, a, { rssFile });
    if (!sameFile(raw, opened))
      throw new CommandFailed("asciicast: the replayed downstream differs from the recording's");
    const seconds = median(runs.map((m) => m.seconds));
    return {
      eventBytes,
      fileBytes: statSync(cast).size,
      events,
      seconds,
      mbps: mbPerSecond(eventBytes, seconds),
      maxRssKiB: maxOrNull(runs.map((m) => m.maxRssKiB)),
      runs: runs.map((m) => Math.round(m.seconds * 1000) / 1000),
    };
  } finally {
    for (const f of [cast, raw, sealed, opened]) rmSync(f, { force: true });
  }
}

export async function benchThroughput(
  dir: string,
  inputBytes: number,
  repeats: number,
  log: (s: string) => void,
): Promise<ThroughputResult> {
  const { tools, skipped, full } = prepare(dir, log);
  const input = join(dir, "input.bin");
  log(`generating ${inputBytes / 2 ** 20} MiB of random input`);
  await writeRandomFile(input, inputBytes);
  const sealed = join(dir, "sealed.out");
  const opened = join(dir, "opened.out");
  const rssFile = join(dir, "rss.txt");
  const runs = new Map<string, { seal: Measured[]; open: Measured[]; expansion: number }>();
  for (const t of tools) runs.set(t.id, { seal: [], open: [], expansion: 0 });
  let opening: OpeningResult;
  try {
    for (let r = 0; r < repeats; r++) {
      for (const t of tools) {
        rmSync(sealed, { force: true });
        rmSync(opened, { force: true });
        const entry = runs.get(t.id)!;
        const [sc, sa] = t.seal(input, sealed);
        const s = await measure(sc, sa, { rssFile });
        entry.expansion = statSync(sealed).size / inputBytes;
        const [oc, oa] = t.open(sealed, opened);
        const o = await measure(oc, oa, { rssFile });
        // A fast wrong answer is no answer: every round trip must give back the input.
        if (!sameFile(input, opened))
          throw new CommandFailed(`${t.id}: opened output differs from the input`);
        entry.seal.push(s);
        entry.open.push(o);
        log(
          `  [${r + 1}/${repeats}] ${t.id.padEnd(16)} seal ${s.seconds.toFixed(2)} s, open ${o.seconds.toFixed(2)} s`,
        );
      }
    }
    const ageIdentity = tools.some((t) => t.id === "age") ? join(dir, "age.key") : null;
    opening = await benchOpening(dir, full, input, inputBytes, repeats, ageIdentity, log);
  } finally {
    rmSync(sealed, { force: true });
    rmSync(opened, { force: true });
    rmSync(input, { force: true });
  }
  const figures = (ms: Measured[]) => {
    const seconds = median(ms.map((m) => m.seconds));
    return {
      seconds,
      mbps: mbPerSecond(inputBytes, seconds),
      maxRssKiB: maxOrNull(ms.map((m) => m.maxRssKiB)),
      runs: ms.map((m) => Math.round(m.seconds * 1000) / 1000),
    };
  };
  const floor = async (command: string): Promise<number | null> =>
    (await measure(process.execPath, [CLI, command, "--help"], { rssFile })).maxRssKiB;
  const asciicast = await benchAsciicast(dir, full, repeats, log);
  return {
    inputBytes,
    repeats,
    skipped,
    asciicast,
    floorKiB: { seal: await floor("seal"), replay: await floor("replay") },
    opening,
    tools: tools.map((t) => {
      const e = runs.get(t.id)!;
      return {
        id: t.id,
        label: t.label,
        openLabel: t.openLabel,
        seal: figures(e.seal),
        open: figures(e.open),
        expansion: e.expansion,
      };
    }),
  };
}
