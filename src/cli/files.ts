import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { TrailsealError } from "../errors.js";
import type { Io } from "./io.js";

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
    throw new TrailsealError("IO", `${reason}: ${path}`, { cause: e });
  }
}

/** The display name of an input in messages. */
export function inputName(path: string): string {
  return path === "-" ? "<stdin>" : path;
}
