import { closeSync, openSync, readSync } from "node:fs";
import { TrailsealError, systemErrorWords } from "./errors.js";

/**
 * Resolves a passphrase source as openssl spells it: `env:VAR`, `file:PATH` (first line) or
 * `pass:TEXT`. `pass:` puts the secret on the command line, where other users can read it in the
 * process list; it is accepted because the user asked for it, but `env:` and `file:` are preferred.
 * Messages never include the secret itself.
 */
export function resolvePassin(
  spec: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd?: string,
): string {
  const colon = spec.indexOf(":");
  const scheme = colon < 0 ? "" : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  if ((scheme === "env" || scheme === "file") && rest === "") {
    throw new TrailsealError(
      "PASSIN_INVALID",
      scheme === "env"
        ? "secret source env: needs the name of an environment variable (env:VAR)"
        : "secret source file: needs the path of a file (file:PATH)",
    );
  }
  switch (scheme) {
    case "env": {
      const value = env[rest];
      if (value === undefined) {
        throw new TrailsealError("PASSIN_INVALID", `environment variable ${rest} is not set`, {
          hint: `export ${rest}=… before running, or read the secret from a file (file:PATH)`,
          missing: "environment-variable",
          variable: rest,
        });
      }
      return value;
    }
    case "file": {
      const path = cwd !== undefined && !rest.startsWith("/") ? `${cwd}/${rest}` : rest;
      let text: string;
      try {
        text = firstBytes(path, MAX_PASSIN_FILE).toString("utf8");
      } catch (e) {
        const why = systemErrorWords(e, "unreadable");
        throw new TrailsealError("PASSIN_INVALID", `cannot read passphrase file ${rest}: ${why}`, {
          cause: e,
        });
      }
      const line = /^[^\n]*/.exec(text)![0].replace(/\r$/, "");
      if (line.length === text.length && Buffer.byteLength(text) >= MAX_PASSIN_FILE) {
        // /dev/zero, a disk image, a log: not a passphrase file, and not to be read to its end.
        throw new TrailsealError(
          "PASSIN_INVALID",
          `passphrase file ${rest}: no line end in its first ${MAX_PASSIN_FILE} bytes; is it the right file?`,
        );
      }
      return line;
    }
    case "pass":
      return rest;
    default:
      throw new TrailsealError(
        "PASSIN_INVALID",
        "passphrase source must be env:VAR, file:PATH or pass:TEXT",
        { hint: "prefer env:VAR or file:PATH; pass:TEXT shows the secret in the process list" },
      );
  }
}

/** A passphrase file is read up to this many bytes: its first line is the passphrase. */
const MAX_PASSIN_FILE = 64 * 1024;

/** Up to `max` bytes from the start of a file (a device such as /dev/zero never ends). */
function firstBytes(path: string, max: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(max);
    let n = 0;
    while (n < max) {
      const got = readSync(fd, buf, n, max - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
