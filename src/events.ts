/**
 * The session-event model shared by importers (asciicast, script logs), the trail writer and
 * reader, and the replay writers. Times are integer microseconds since the session start, so
 * script logs keep their microsecond timing and asciicast's float seconds round-trip exactly
 * to six decimals.
 */

/** Downstream = what the server shows; upstream = what the client typed. */
export type Channel = "downstream" | "upstream";

export const CHANNELS: readonly Channel[] = ["downstream", "upstream"];

export type SessionEvent =
  /** Terminal output (downstream bytes). */
  | { readonly type: "output"; readonly time: number; readonly data: Uint8Array }
  /** Keyboard input (upstream bytes: keystrokes, typed passwords). */
  | { readonly type: "input"; readonly time: number; readonly data: Uint8Array }
  /** Terminal resize. */
  | { readonly type: "resize"; readonly time: number; readonly cols: number; readonly rows: number }
  /** A marker (asciicast `m`), with its label. */
  | { readonly type: "marker"; readonly time: number; readonly label: string }
  /** The session's command exited (asciicast v3 `x`). */
  | { readonly type: "exit"; readonly time: number; readonly status: number };

/** The channel an event travels on: input is upstream; everything else is downstream. */
export function channelOf(event: SessionEvent): Channel {
  return event.type === "input" ? "upstream" : "downstream";
}

/**
 * Session metadata as recordings carry it; kept in the trail header in the clear (it is shown
 * by `inspect` without a key). Every field is optional; `extra` keeps fields we do not model.
 */
export interface SessionMetadata {
  /** Terminal width and height in characters at the start. */
  cols?: number;
  rows?: number;
  /** Session start, Unix seconds (may be fractional). */
  startTime?: number;
  /** The recorded command. */
  command?: string;
  title?: string;
  user?: string;
  host?: string;
  /** Environment as recorded (asciicast `env`: SHELL, TERM). */
  env?: Record<string, string>;
  /** Recording source: "asciicast-v2", "asciicast-v3", "script-advanced", "script-classic", "raw", "live". */
  source?: string;
  /** Fields of the source header we keep but do not model. */
  extra?: Record<string, unknown>;
}

/** Microseconds from seconds, rounded to the nearest microsecond. */
export function micros(seconds: number): number {
  return Math.round(seconds * 1_000_000);
}

/** Seconds as asciicast writes them: six decimals at most, no trailing zeros beyond one. */
export function formatSeconds(us: number): string {
  const whole = Math.floor(us / 1_000_000);
  const frac = us - whole * 1_000_000;
  return `${whole}.${frac.toString().padStart(6, "0")}`;
}
