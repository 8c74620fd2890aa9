/**
 * The trails of an archive: files given by name, directories walked for `*.trail`, and lists of
 * paths (`--files-from`, one a line or NUL-separated as `find -print0` writes them), in a stable
 * order, streamed: a million paths never need a million of anything in memory but the list
 * itself, and one directory's listing at a time.
 *
 * Each input carries its `key`: the path relative to the directory or list it came from. Shards
 * are chosen by the key (shard.ts), so N processes that list the same archive from different
 * mount points still agree on which trail is whose.
 */
import { opendir, stat } from "node:fs/promises";
import { join, normalize, relative, resolve, sep } from "node:path";
import { TrailsealError } from "../errors.js";

export interface TrailInput {
  /** The path to open, as the user gave it (or the directory joined with the file found in it). */
  readonly path: string;
  /** The path relative to the directory or list it came from, with `/` separators. */
  readonly key: string;
}

/** A list of paths to read, one a line (or NUL-separated): a file or stdin. */
export interface PathList {
  /** The list's name in messages (`<stdin>` or its path). */
  readonly name: string;
  readonly source: AsyncIterable<Uint8Array>;
}

export interface InputOptions {
  /** Paths that are relative resolve against this directory. */
  readonly cwd: string;
  /** Lists of paths, read after the named paths, in order. */
  readonly lists?: readonly PathList[];
  /** The lists are NUL-separated (`find -print0`), not one path a line. */
  readonly nul?: boolean;
  /** What a directory's trails end with. */
  readonly extension?: string;
}

export const TRAIL_EXTENSION = ".trail";

/** `/`-separated, without a leading `./`: the same key on every platform and mount. */
function keyOf(path: string): string {
  return normalize(path).split(sep).join("/").replace(/^\.\//, "");
}

/**
 * Every trail the arguments name, in order: each file as given, each directory's `*.trail` files
 * (recursively, names sorted byte-wise, directory symlinks not followed so a loop cannot make the
 * walk endless), then each list's paths. A path that does not exist is still yielded: opening it
 * fails for that trail alone, and the others are verified.
 *
 * @example
 *   for await (const t of trailInputs(["archive/"], { cwd: process.cwd() })) console.log(t.key);
 */
export async function* trailInputs(
  args: readonly string[],
  options: InputOptions,
): AsyncGenerator<TrailInput> {
  const extension = options.extension ?? TRAIL_EXTENSION;
  for (const arg of args) {
    const info = await stat(resolve(options.cwd, arg)).catch(() => null);
    if (info?.isDirectory() === true) yield* walk(arg, resolve(options.cwd, arg), extension);
    else yield { path: arg, key: keyOf(arg) };
  }
  for (const list of options.lists ?? []) {
    for await (const path of listedPaths(list, options.nul === true))
      yield { path, key: keyOf(path) };
  }
}

async function* walk(shown: string, root: string, extension: string): AsyncGenerator<TrailInput> {
  // Depth first, one directory's names in memory at a time.
  async function* below(dir: string): AsyncGenerator<TrailInput> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (e) {
      throw new TrailsealError("IO", `cannot read directory ${join(shown, relative(root, dir))}`, {
        cause: e,
        file: dir,
      });
    }
    const files: string[] = [];
    const dirs: string[] = [];
    for await (const entry of handle) {
      if (entry.isDirectory()) dirs.push(entry.name);
      else if ((entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith(extension))
        files.push(entry.name);
    }
    const order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    // Files and subdirectories in one byte-wise order, as `find | sort` would list them.
    const names = [
      ...files.map((n) => ({ n, dir: false })),
      ...dirs.map((n) => ({ n, dir: true })),
    ].sort((a, b) => order(a.n, b.n));
    for (const { n, dir: isDir } of names) {
      const full = join(dir, n);
      if (isDir) yield* below(full);
      else {
        const rel = relative(root, full);
        yield { path: join(shown, rel), key: keyOf(rel) };
      }
    }
  }
  yield* below(root);
}

/** Largest path a list may hold, in bytes: a longer "line" is not a path list at all. */
const MAX_PATH_BYTES = 64 * 1024;

/**
 * The paths of a list, streamed: split at LF (or NUL), empty entries skipped, nothing else
 * changed (a path may hold spaces, and with `nul` also newlines).
 */
export async function* listedPaths(list: PathList, nul: boolean): AsyncGenerator<string> {
  const separator = nul ? 0x00 : 0x0a;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let entry = 0;
  const take = (bytes: Uint8Array): string | null => {
    entry++;
    if (bytes.byteLength === 0) return null;
    try {
      return decoder.decode(bytes);
    } catch (e) {
      throw new TrailsealError("USAGE", `${list.name}: entry ${entry} is not UTF-8 text`, {
        cause: e,
      });
    }
  };
  for await (const chunk of list.source) {
    let start = 0;
    for (let i = chunk.indexOf(separator); i !== -1; i = chunk.indexOf(separator, start)) {
      const piece = chunk.subarray(start, i);
      const whole =
        pending.length === 0 ? piece : Buffer.concat([...pending, piece], pendingBytes + i - start);
      pending = [];
      pendingBytes = 0;
      const path = take(whole);
      if (path !== null) yield path;
      start = i + 1;
    }
    if (start < chunk.byteLength) {
      pending.push(chunk.slice(start));
      pendingBytes += chunk.byteLength - start;
      if (pendingBytes > MAX_PATH_BYTES)
        throw new TrailsealError(
          "USAGE",
          `${list.name}: entry ${entry + 1} is longer than ${MAX_PATH_BYTES} bytes: not a list of ${nul ? "NUL-separated" : "newline-separated"} paths`,
        );
    }
  }
  if (pendingBytes > 0) {
    const path = take(Buffer.concat(pending, pendingBytes));
    if (path !== null) yield path;
  }
}
