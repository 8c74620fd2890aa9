import { setFlagsFromString } from "node:v8";
import type { Io } from "./io.js";

/**
 * The Io of the real process. It also keeps V8's young generation from growing: trails stream
 * through in 64 KiB frames whose buffers die young, and a young generation that stays small is
 * scavenged often, which frees their backing memory promptly. Measured on 1 GiB replays this
 * keeps peak RSS near 100 MB instead of wandering up to 150 MB (see docs/BENCHMARKS.md).
 */
export function processIo(): Io {
  setFlagsFromString("--semi-space-growth-factor=1");
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
    now: () => new Date(),
  };
}
