/**
 * Progress on stderr for long operations, redrawn in place at most five times a second — only
 * when stderr is a terminal; silent otherwise (pipes, CI, logs). `Progress` tells the bytes of
 * one file; the archive commands' line (cli/archive.ts) is a `StatusLine` too.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Io } from "./io.js";

const REDRAW_MS = 200;
/** Operations shorter than this never show a line. */
const QUIET_MS = 500;

/** A byte count for people: `512 B`, `9.2 KiB`, `48 MiB`. */
export function byteSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Seconds for people: `7s`, `2m05s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** One line on stderr, redrawn in place when due; `line(now)` says what it shows. */
export abstract class StatusLine {
  private lastDraw = -Infinity;
  private drawn = false;
  protected readonly started: number;

  protected constructor(
    private readonly io: Io,
    /** No line before this many milliseconds. */
    private readonly quietMs: number,
    protected readonly clock: () => number,
  ) {
    this.started = clock();
  }

  /** The line as it would be drawn at `now`. */
  abstract line(now: number): string;

  /** Redraws when due. */
  protected redraw(): void {
    const now = this.clock();
    if (now - this.started < this.quietMs || now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    this.io.stderr.write(`\r\x1b[K${this.line(now)}`);
  }

  /** Clears the line (a message can be written; the next redraw draws it again). */
  finish(): void {
    if (this.drawn) this.io.stderr.write("\r\x1b[K");
    this.drawn = false;
  }
}

export class Progress extends StatusLine {
  private done = 0;

  private constructor(
    io: Io,
    private readonly label: string,
    private readonly total: number | null,
    clock: () => number,
  ) {
    super(io, QUIET_MS, clock);
  }

  /** A progress line for reading `path` (its size gives the time left); null when not a TTY. */
  static async forFile(
    io: Io,
    label: string,
    path: string,
    clock: () => number = Date.now,
  ): Promise<Progress | null> {
    if (!io.stderrIsTTY) return null;
    let total: number | null = null;
    if (path !== "-")
      total = await stat(resolve(io.cwd, path)).then(
        (s) => (s.isFile() ? s.size : null),
        () => null,
      );
    return new Progress(io, label, total, clock);
  }

  /** Counts `n` more bytes and redraws when due. */
  add(n: number): void {
    this.done += n;
    this.redraw();
  }

  line(now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 1e-3);
    const rate = this.done / seconds;
    const parts = [`trailseal: ${this.label}: ${byteSize(this.done)}`];
    if (this.total !== null && this.total > 0)
      parts[0] += ` of ${byteSize(this.total)} (${Math.min(100, Math.floor((this.done / this.total) * 100))}%)`;
    parts.push(`${byteSize(rate)}/s`);
    if (this.total !== null && rate > 0 && this.done < this.total)
      parts.push(`${duration((this.total - this.done) / rate)} left`);
    return parts.join(", ");
  }
}

/** Passes a stream through, counting its bytes into `progress` (a no-op when null). */
export async function* counted(
  source: AsyncIterable<Uint8Array>,
  progress: Progress | null,
): AsyncGenerator<Uint8Array> {
  if (progress === null) {
    yield* source;
    return;
  }
  try {
    for await (const chunk of source) {
      progress.add(chunk.byteLength);
      yield chunk;
    }
  } finally {
    progress.finish();
  }
}
