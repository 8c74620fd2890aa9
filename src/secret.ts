import { readFileSync } from "node:fs";
import { TrailsealError } from "./errors.js";

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
        ? "--passin env: needs the name of an environment variable (env:VAR)"
        : "--passin file: needs the path of a file (file:PATH)",
    );
  }
  switch (scheme) {
    case "env": {
      const value = env[rest];
      if (value === undefined) {
        throw new TrailsealError("PASSIN_INVALID", `environment variable ${rest} is not set`, {
          hint: `export ${rest}=… before running, or use --passin file:PATH`,
        });
      }
      return value;
    }
    case "file": {
      const path = cwd !== undefined && !rest.startsWith("/") ? `${cwd}/${rest}` : rest;
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (e) {
        const code = (e as { code?: string }).code;
        const why =
          code === "ENOENT"
            ? "no such file"
            : code === "EACCES"
              ? "permission denied"
              : code === "EISDIR"
                ? "it is a directory"
                : (code ?? "unreadable");
        throw new TrailsealError("PASSIN_INVALID", `cannot read passphrase file ${rest}: ${why}`, {
          cause: e,
        });
      }
      return text.split(/\r?\n/, 1)[0] ?? "";
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
