/**
 * Helpers for the recording-format tests: run real `asciinema rec` and util-linux `script`
 * under a pseudo-terminal in a temp dir, and small event/byte utilities.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionEvent } from "../../src/events.js";

export function tempDir(prefix = "trailseal-rec-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a bash command line in `dir` with HOME there (asciinema keeps its config under HOME). */
export function sh(dir: string, command: string, timeout = 30_000): Buffer {
  return execFileSync("bash", ["-c", command], {
    cwd: dir,
    timeout,
    // Fixed, not inherited: CI may run with no SHELL, TERM or locale at all.
    env: {
      ...process.env,
      HOME: dir,
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      TERM: "xterm",
      SHELL: "/bin/bash",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(
    Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))),
  );
}

/** The bytes of all events of one type, in order. */
export function bytesOf(events: readonly SessionEvent[], type: "output" | "input"): Uint8Array {
  return concatBytes(events.flatMap((e) => (e.type === type ? [e.data] : [])));
}

/** The bytes of input and output events interleaved in order (what `--log-io` writes). */
export function ioBytes(events: readonly SessionEvent[]): Uint8Array {
  return concatBytes(
    events.flatMap((e) => (e.type === "input" || e.type === "output" ? [e.data] : [])),
  );
}

/** An async iterable over `bytes` cut at the given chunk sizes (cycled), or byte by byte. */
export async function* chunked(
  bytes: Uint8Array,
  sizes: readonly number[] = [1],
): AsyncGenerator<Uint8Array> {
  let i = 0;
  let k = 0;
  while (i < bytes.byteLength) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    yield bytes.slice(i, i + n);
    i += n;
  }
}

export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

export function file(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** A log body: the bytes after script's "Script started on …" line, `length` of them. */
export function logBody(log: Uint8Array, length: number): Uint8Array {
  const nl = log.indexOf(0x0a);
  return log.subarray(nl + 1, nl + 1 + length);
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
