/**
 * `trailseal scan` throughput on one sealed shell session, beside
 * `trailseal replay --format raw TRAIL | grep -c PATTERN` on the same trail, in the same run.
 *
 * The session is made here: an asciicast v2 of a shell (commands typed on the upstream, echoed,
 * then their output: 72-column log lines, a few of them with the pattern), sealed to one RSA-2048
 * recipient with signed checkpoints every 30 s. Three scans, each a whole process of the built
 * CLI: a `command` rule (--command), a `screen_content` rule (--match) and `--creditcard`; every
 * scan reads the trail twice (verified, then decrypted) and runs the terminal emulator, which the
 * pipe does not. MB/s are of trail bytes (MB = 10^6 bytes).
 */
import { createReadStream, createWriteStream, readFileSync, statSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { Screen } from "../src/scan/screen.js";
import { CLI, CommandFailed, maxOrNull, mbPerSecond, measure, median, REPO, setup } from "./lib.js";

const PKI = join(REPO, "testdata", "pki");
const CERTS = join(REPO, "testdata", "certs");
/** Typed on every 50th command, and so on the screen: the pattern of every rule. */
const PATTERN = "rm -rf /srv/[a-z]+";
const DANGER = "rm -rf /srv/cache";
/** Printed after every 100th command: a card number (a Visa test number) for --creditcard. */
const CARD_LINE = "card on file: 4111 1111 1111 1111\r\n";

export interface ScanRow {
  id: "pipe" | "command" | "screen" | "creditcard";
  label: string;
  seconds: number;
  runs: number[];
  mbps: number;
  maxRssKiB: number | null;
  /** Median user + system CPU seconds (GNU time; the pipe's: node, sh and grep), or null. */
  cpuSeconds: number | null;
  /** What it found: grep's count of lines, or the scan's hits. */
  found: number;
}

export interface ScanResult {
  trailBytes: number;
  /** Bytes of session output (the screen) and typed (the keystrokes) in the trail. */
  outputBytes: number;
  inputBytes: number;
  commands: number;
  repeats: number;
  rows: ScanRow[];
  /** The command rule's MB/s over the pipe's (target: at least 0.5). */
  commandRatio: number;
  /** The screen rule's MB/s over the pipe's. */
  screenRatio: number;
  /** The same, by CPU time (the pipe's CPU seconds over the rule's): steadier on a busy machine. */
  commandCpuRatio: number | null;
  screenCpuRatio: number | null;
  /**
   * The terminal emulator alone (src/scan/screen.ts over the decrypted output, in this process,
   * every line taken): median CPU seconds, and their share of the command scan's CPU.
   */
  emulator: { cpuSeconds: number; outputMbps: number; shareOfScan: number | null };
}

/** A session of `commands` commands, each typed (with its echo) and followed by 20 log lines. */
export async function writeSession(
  path: string,
  commands: number,
): Promise<{ out: number; in: number }> {
  const file = createWriteStream(path);
  const write = async (line: unknown): Promise<void> => {
    if (!file.write(`${JSON.stringify(line)}\n`)) await once(file, "drain");
  };
  await write({ version: 2, width: 80, height: 24, timestamp: 1_767_225_600 });
  const size = { out: 0, in: 0 };
  let t = 0;
  for (let i = 0; i < commands; i++) {
    const command = i % 50 === 49 ? DANGER : `tail -n 20 /var/log/app-${i % 7}.log`;
    const prompt = "admin@db01:~$ ";
    const lines =
      Array.from(
        { length: 20 },
        (_, j) =>
          `2026-01-01T00:${String(i % 60).padStart(2, "0")}:${String(j).padStart(2, "0")}Z app[${1000 + j}]: request ${i * 20 + j} served in ${(j * 7) % 97} ms ok\r\n`,
      ).join("") + (i % 100 === 0 ? CARD_LINE : "");
    const events: [number, "o" | "i", string][] = [
      [(t += 0.05), "o", prompt],
      [(t += 0.3), "i", `${command}\r`],
      [(t += 0.01), "o", `${command}\r\n`],
      [(t += 0.05), "o", lines],
    ];
    for (const e of events) {
      await write(e);
      if (e[1] === "o") size.out += Buffer.byteLength(e[2]);
      else size.in += Buffer.byteLength(e[2]);
    }
  }
  file.end();
  await once(file, "finish");
  return size;
}

/** `sh -c` running the CLI with the arguments after it, which must exit 1 (a rule matched). */
const HITS = ["-c", `'${process.execPath}' '${CLI}' "$@"; test $? -eq 1`, "-"];

export async function benchScan(
  dir: string,
  mib: number,
  repeats: number,
  log: (s: string) => void,
): Promise<ScanResult> {
  // About 1.6 KB of output per command.
  const commands = Math.round((mib * 2 ** 20) / 1650);
  const cast = join(dir, "shell.cast");
  const policy = join(dir, "policy.json");
  const trail = join(dir, "shell.trail");
  log(`writing a shell session of ${commands} commands (~${mib} MiB of output)`);
  const size = await writeSession(cast, commands);
  setup(process.execPath, [
    ...[CLI, "policy", "create", "--name", "bench-scan"],
    ...["--encrypt", join(CERTS, "rsa2048-a.crt"), "--sign-identity", "signer"],
    ...["--interval", "30", "-o", policy],
  ]);
  log("sealing it (signed checkpoints every 30 s)");
  setup(process.execPath, [
    ...[CLI, "seal", "--policy", policy, "--from", "asciicast", cast, "-o", trail],
    ...[
      "--sign-cert",
      join(PKI, "signer-rsa-chain.pem"),
      "--sign-key",
      join(PKI, "signer-rsa.key"),
    ],
  ]);
  const trailBytes = statSync(trail).size;
  const key = join(CERTS, "rsa2048-a.key");
  const ca = join(PKI, "root-ca.pem");
  const scan = ["scan", trail, "--key", key, "--ca", ca, "--jsonl"];
  const runs: Record<ScanRow["id"], { label: string; argv: string[] }> = {
    pipe: {
      label: `trailseal replay --format raw TRAIL | grep -cE '${PATTERN}'`,
      argv: [
        "-c",
        `'${process.execPath}' '${CLI}' replay --format raw '${trail}' --key '${key}' --ca '${ca}' | grep -cE '${PATTERN}'`,
      ],
    },
    command: {
      label: `trailseal scan --command '${PATTERN}'`,
      argv: [...scan, "--command", PATTERN],
    },
    screen: { label: `trailseal scan --match '${PATTERN}'`, argv: [...scan, "--match", PATTERN] },
    creditcard: { label: "trailseal scan --creditcard", argv: [...scan, "--creditcard"] },
  };
  const ids = Object.keys(runs) as ScanRow["id"][];
  const times = new Map(ids.map((id) => [id, [] as number[]]));
  const rss = new Map(ids.map((id) => [id, [] as (number | null)[]]));
  const cpu = new Map(ids.map((id) => [id, [] as number[]]));
  const found = new Map<ScanRow["id"], number>();
  const rssFile = join(dir, "rss-scan.txt");
  const stdoutFile = join(dir, "scan-out.txt");
  for (let r = 0; r < repeats; r++) {
    for (const id of ids) {
      const { argv } = runs[id];
      // scan exits 1 when a rule matched, as each must here.
      const m = await measure("sh", id === "pipe" ? argv : [...HITS, ...argv], {
        rssFile,
        stdoutFile,
      });
      times.get(id)!.push(m.seconds);
      rss.get(id)!.push(m.maxRssKiB);
      if (m.cpuSeconds !== null) cpu.get(id)!.push(m.cpuSeconds);
      found.set(id, countOf(id, stdoutFile));
    }
    log(
      `  [${r + 1}/${repeats}] scan: ${ids.map((id) => `${id} ${times.get(id)!.at(-1)!.toFixed(2)} s`).join(", ")}`,
    );
  }
  const raw = join(dir, "output.raw");
  setup("sh", [
    "-c",
    `'${process.execPath}' '${CLI}' replay --format raw '${trail}' --key '${key}' > '${raw}'`,
  ]);
  const emulator: number[] = [];
  for (let r = 0; r < repeats; r++) emulator.push(await emulatorCpu(raw, { cols: 80, rows: 24 }));
  log(`  emulator alone: ${emulator.map((x) => `${x.toFixed(2)} s`).join(", ")} CPU`);
  const dangerous = Math.floor(commands / 50);
  // grep counts the echoed lines; each scan rule hits once per dangerous command.
  const expected: Record<ScanRow["id"], number> = {
    pipe: dangerous,
    command: dangerous,
    screen: dangerous,
    creditcard: Math.ceil(commands / 100),
  };
  for (const id of ids)
    if (found.get(id) !== expected[id])
      throw new CommandFailed(
        `${runs[id].label}: found ${found.get(id)}, expected ${expected[id]}`,
      );
  const rows = ids.map((id): ScanRow => {
    const seconds = median(times.get(id)!);
    return {
      id,
      label: runs[id].label,
      seconds,
      runs: times.get(id)!.map((x) => Math.round(x * 1000) / 1000),
      mbps: mbPerSecond(trailBytes, seconds),
      maxRssKiB: maxOrNull(rss.get(id)!),
      cpuSeconds: cpu.get(id)!.length === 0 ? null : median(cpu.get(id)!),
      found: found.get(id) ?? 0,
    };
  });
  const row = (id: ScanRow["id"]) => rows.find((x) => x.id === id)!;
  const mbps = (id: ScanRow["id"]) => row(id).mbps;
  const cpuRatio = (id: ScanRow["id"]) => {
    const [ours, pipe] = [row(id).cpuSeconds, row("pipe").cpuSeconds];
    return ours === null || pipe === null ? null : pipe / ours;
  };
  return {
    trailBytes,
    outputBytes: size.out,
    inputBytes: size.in,
    commands,
    repeats,
    rows,
    commandRatio: mbps("command") / mbps("pipe"),
    screenRatio: mbps("screen") / mbps("pipe"),
    emulator: {
      cpuSeconds: median(emulator),
      outputMbps: mbPerSecond(size.out, median(emulator)),
      shareOfScan:
        row("command").cpuSeconds === null ? null : median(emulator) / row("command").cpuSeconds!,
    },
    commandCpuRatio: cpuRatio("command"),
    screenCpuRatio: cpuRatio("screen"),
  };
}

/** CPU seconds of a Screen over the session output in `raw`, fed in events of 16 KiB. */
async function emulatorCpu(raw: string, metadata: { cols: number; rows: number }): Promise<number> {
  const screen = new Screen(metadata);
  const started = process.cpuUsage();
  let ref = 0;
  for await (const chunk of createReadStream(raw, { highWaterMark: 16 * 1024 }))
    await screen.push({ type: "output", time: ref, data: chunk as Buffer }, ref++);
  await screen.end();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1e6;
}

/** grep's count, or the hits of scan's --jsonl summary line. */
function countOf(id: ScanRow["id"], stdoutFile: string): number {
  const text = readFileSync(stdoutFile, "utf8").trim();
  if (id === "pipe") return Number(text);
  const summary = JSON.parse(text.split("\n").at(-1) ?? "{}") as { hits?: number };
  return summary.hits ?? -1;
}
