/**
 * Seal and replay throughput of the built CLI on raw input, beside age and openssl on the same
 * file in the same run. Tools take turns within each repeat, so a noisy neighbour slows all of
 * them alike; the figure per tool is the median over the repeats, the RSS the largest seen.
 */
import { rmSync, statSync } from "node:fs";
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

const RECIPIENT_CERT = join(REPO, "testdata", "certs", "rsa2048-a.crt");
const RECIPIENT_KEY = join(REPO, "testdata", "certs", "rsa2048-a.key");

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
  /**
   * Peak RSS of the CLI with a command's modules loaded and no data (`seal --help`,
   * `replay --help`): the floor under trailseal's figures.
   */
  floorKiB: { seal: number | null; replay: number | null };
  /** Replay and verify of the same input sealed under the full policy, beside age -d and dgst. */
  opening: OpeningResult;
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

/** Policies and keys the tools need, made once in `dir`. */
function prepare(
  dir: string,
  log: (s: string) => void,
): { tools: Tool[]; skipped: ThroughputResult["skipped"] } {
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
  const tools: Tool[] = [
    {
      id: "trailseal-rsa",
      label: "trailseal seal, 1 RSA-2048 recipient",
      openLabel: "trailseal replay --format raw, RSA-2048 key",
      seal: (i, o) => node(["seal", "--policy", encPolicy, "--from", "raw", i, "-o", o]),
      open: (s, o) => node(["replay", s, "--key", RECIPIENT_KEY, "--format", "raw", "-o", o]),
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
  return { tools, skipped };
}

export async function benchThroughput(
  dir: string,
  inputBytes: number,
  repeats: number,
  log: (s: string) => void,
): Promise<ThroughputResult> {
  const { tools, skipped } = prepare(dir, log);
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
    opening = await benchOpening(dir, input, inputBytes, repeats, ageIdentity, log);
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
  return {
    inputBytes,
    repeats,
    skipped,
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
