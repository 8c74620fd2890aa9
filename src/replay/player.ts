/**
 * Terminal playback: writes the output events with their recorded timing.
 *
 * Gaps between output events are first capped at `idleLimit` seconds (as asciinema's
 * idle_time_limit) and then divided by `speed`. Input, resize, marker and exit events are not
 * shown (a terminal cannot be resized by a player; keystrokes are echoed in the output already).
 * Sub-millisecond gaps are accumulated, not slept one by one. Aborting `signal` stops playback
 * at the next write or during a wait and resolves normally; restoring the terminal is the
 * caller's job.
 */
import type { Writable } from "node:stream";
import type { SessionEvent } from "../events.js";

export interface PlayOptions {
  /** Playback speed factor, > 0 (2 = twice as fast; Infinity = no waiting). Default 1. */
  speed?: number;
  /** Longest pause in seconds, before the speed factor. Default: no limit. */
  idleLimit?: number;
  out: Writable;
  signal?: AbortSignal;
  /** Injectable for tests; must resolve early (or reject) when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * What a player writes to the terminal when playback ends or is interrupted, since a recording
 * may stop anywhere: attributes and character set back to normal, cursor shown, mouse reporting
 * (X10, button, any-motion, UTF-8, SGR, urxvt) off, cursor keys and keypad back to normal mode,
 * bracketed paste off (a shell turns it on again at its prompt), autowrap on, then the
 * alternate screen left and a fresh line.
 */
export const TERMINAL_RESET =
  "\x1b[0m\x1b(B\x1b[?25h" +
  "\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l" +
  "\x1b[?1l\x1b>\x1b[?2004l\x1b[?7h\x1b[?1049l\r\n";

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function write(out: Writable, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = out.write(data, (err) => {
      if (err) reject(err);
    });
    if (ok) return resolve();
    const onDrain = (): void => {
      signal?.removeEventListener("abort", onDrain);
      out.removeListener("drain", onDrain);
      resolve();
    };
    out.once("drain", onDrain);
    signal?.addEventListener("abort", onDrain, { once: true });
  });
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

export async function play(
  events: AsyncIterable<SessionEvent>,
  options: PlayOptions,
): Promise<void> {
  const speed = options.speed ?? 1;
  // Infinity is a valid speed: every gap becomes 0 (the whole output at once).
  if (!(speed > 0)) throw new RangeError(`speed must be a positive number, got ${speed}`);
  const idleLimitUs = options.idleLimit === undefined ? Infinity : options.idleLimit * 1_000_000;
  if (!(idleLimitUs >= 0))
    throw new RangeError(`idleLimit must be non-negative, got ${String(options.idleLimit)}`);
  const sleep = options.sleep ?? defaultSleep;
  const { signal, out } = options;
  let previous: number | undefined;
  let owedMs = 0;
  for await (const ev of events) {
    if (aborted(signal)) return;
    if (ev.type !== "output") continue;
    if (previous !== undefined)
      owedMs += Math.min(Math.max(0, ev.time - previous), idleLimitUs) / speed / 1000;
    previous = ev.time;
    if (owedMs >= 1) {
      const ms = owedMs;
      owedMs = 0;
      await sleep(ms, signal);
      if (aborted(signal)) return;
    }
    await write(out, ev.data, signal);
  }
}
