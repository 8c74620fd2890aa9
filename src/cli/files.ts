import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { TrailsealError } from "../errors.js";
import { resolvePassin } from "../secret.js";
import { say, type Io } from "./io.js";

/** Reads a whole (small) input: a file path or `-` for stdin. Names the file on failure. */
export async function readInput(path: string, io: Io): Promise<Uint8Array> {
  if (path === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
    return new Uint8Array(Buffer.concat(chunks));
  }
  try {
    return new Uint8Array(await readFile(resolve(io.cwd, path)));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read";
    throw new TrailsealError("IO", `${reason}: ${path}`, { cause: e, file: path });
  }
}

/** The display name of an input in messages. */
export function inputName(path: string): string {
  return path === "-" ? "<stdin>" : path;
}

/**
 * Resolves a passphrase option (`env:VAR`, `file:PATH`, `pass:TEXT`). `pass:` is accepted because
 * the user asked for it, but the secret sits in the process list and shell history for as long
 * as the command runs: say so, without repeating the secret. Each command resolves an option once.
 */
export function readPassin(spec: string, io: Io, option = "--passin"): string {
  const pass = resolvePassin(spec, io.env, io.cwd);
  if (spec.startsWith("pass:")) {
    say(
      io,
      "warning",
      `${option} pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH`,
    );
  }
  return pass;
}

/**
 * `env` without the variables that `env:VAR` passphrase sources name: a command run under the
 * recorder must not inherit the signing key's passphrase (an `env` typed in the session would
 * put it on screen, and into the trail).
 */
export function withoutPassinVariables(
  env: Readonly<Record<string, string | undefined>>,
  specs: readonly (string | undefined)[],
): Record<string, string | undefined> {
  const out = { ...env };
  for (const spec of specs) if (spec?.startsWith("env:") === true) delete out[spec.slice(4)];
  return out;
}
