import type { Readable, Writable } from "node:stream";
import { Command, CommanderError, Help, type Option, type OptionValues } from "commander";
import { TrailsealError, type ErrorCode, type Missing } from "../errors.js";

/**
 * Everything a command may touch of the outside world. The bin shim builds it from `process`;
 * tests build it from memory streams. Commands never call `process.exit`.
 */
export interface Io {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether stderr is a terminal (progress is shown only then). */
  readonly stderrIsTTY: boolean;
  /** Whether stdout is a terminal. */
  readonly stdoutIsTTY: boolean;
  /** The clock, read only at the top of a command. */
  readonly now: () => Date;
}

// The exit codes and the one voice on stderr live in voice.ts, which the dispatcher (main.ts)
// imports without this module and commander: --version and --help need neither (issue 9).
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, say } from "./voice.js";
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, say } from "./voice.js";

/** "1 frame", "3 frames": a count and its noun, for human output. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Codes that mean "the check failed" (exit 1) rather than "could not run" (exit 2). */
const CHECK_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "POLICY_INVALID",
  "NO_MATCHING_KEY",
  "KEY_COMMITMENT_MISMATCH",
  "FRAME_CORRUPT",
  "CHAIN_BROKEN",
  "TRUNCATED",
  "SEQUENCE_INVALID",
  "RECORD_INVALID",
  "STANZA_INVALID",
  "TRAIL_INVALID",
  "HEADER_INVALID",
  "SIGNATURE_INVALID",
  "CHAIN_UNTRUSTED",
  "CHECKPOINT_INVALID",
  "CHECKPOINT_MISSING",
  "TIMESTAMP_INVALID",
]);

export function exitCodeFor(e: unknown): number {
  if (e instanceof TrailsealError && CHECK_FAILURES.has(e.code)) return EXIT_FAILED;
  return EXIT_USAGE;
}

/**
 * The CLI's words for what a library error says is missing: the library names the thing
 * (`details.missing`), only the CLI names the flag that gives it.
 */
const MISSING_HINTS: Readonly<Record<Missing, string | ((e: TrailsealError) => string)>> = {
  "trust-anchor": "pass the CA that issued it as a trust anchor with --ca FILE",
  "tsa-trust-anchor": "pass the CA that issued the TSA's certificate with --tsa-ca FILE",
  "untrusted-certificate":
    "pass the signer's certificate (or the missing intermediate) with --untrusted FILE",
  passphrase: "give the passphrase with --passin env:VAR, file:PATH or pass:TEXT",
  "signing-identity":
    "pass --sign-cert FILE and --sign-key FILE (trailseal init makes a signing identity)",
  authority: "run 'trailseal init' (or pass --home DIR)",
  "timing-file": "pass the file written by --log-timing (or script -t) with --timing FILE",
  force: "use --force to replace it",
  "pkcs11-module":
    "name the PKCS#11 module with module-path= in the URI, --pkcs11-module FILE or TRAILSEAL_PKCS11_MODULE",
  pin: "give the token's PIN with --pin env:VAR or file:PATH (or pin-source= in the URI)",
  "right-passphrase": "check the passphrase given with --passin",
  "pkcs12-password": "give the password with --passin env:VAR, file:PATH or pass:TEXT",
  "right-pkcs12-password": "check the password given with --passin",
  certificate: "give the certificate file (.crt/.pem), or a PKCS#12 file with --passin",
  "authority-home": "give --home DIR or set TRAILSEAL_HOME",
  "force-authority":
    "use --force to replace it (tokens and signatures made with the old one will no longer chain to the new CA)",
  "new-authority": "run 'trailseal init --force' to make a new authority",
  "environment-variable": (e) =>
    `export ${e.details.variable ?? "the variable"}=… before running, or use --passin file:PATH`,
};

/** The hint printed under an error: the CLI's words for what is missing, else the library's. */
export function hintFor(e: TrailsealError): string | undefined {
  if (e.details.missing === undefined) return e.hint;
  const hint = MISSING_HINTS[e.details.missing];
  return typeof hint === "string" ? hint : hint(e);
}

/** Prints an error (and its hint) in the one voice and returns the exit code it maps to. */
export function reportError(io: Io, e: unknown): number {
  if (e instanceof TrailsealError) {
    say(io, "error", e.message);
    const hint = hintFor(e);
    if (hint !== undefined) say(io, "hint", hint);
    return exitCodeFor(e);
  }
  const message = e instanceof Error ? e.message : String(e);
  say(io, "error", `unexpected failure: ${message}`);
  return EXIT_USAGE;
}

/**
 * A commander Command wired to `io`: help and errors go to io's streams, nothing exits.
 * Each command file makes one with this, declares its options, then calls `parseArgs`.
 */
export function newCommand(name: string, io: Io): Command {
  const cmd = new Command(name);
  cmd
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`trailseal: error: ${s.replace(/^error: /, "")}`),
    })
    .showHelpAfterError("trailseal: hint: see --help")
    .allowExcessArguments(false)
    .configureHelp({
      // commander does not mark mandatory options; a user should learn it from --help, not an error.
      optionDescription(this: Help, option: Option): string {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    });
  return cmd;
}

/**
 * Parses argv with `cmd`. Returns null when parsing succeeded, or the exit code to return when
 * commander printed help/version (0) or a usage error (2).
 */
export function parseArgs(cmd: Command, argv: readonly string[]): number | null {
  try {
    cmd.parse([...argv], { from: "user" });
    return null;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      ) {
        return EXIT_OK;
      }
      return EXIT_USAGE;
    }
    throw e;
  }
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Runs a command: parses argv with `cmd` (help, version and usage errors return their exit
 * status at once), then `body` with the parsed flags under `guard`.
 */
export async function runCommand<F extends OptionValues>(
  cmd: Command,
  argv: readonly string[],
  io: Io,
  body: (flags: F) => Promise<number>,
): Promise<number> {
  const early = parseArgs(cmd, argv);
  if (early !== null) return early;
  const flags = cmd.opts<F>();
  return guard(io, () => body(flags));
}

/** Runs a command body, mapping thrown errors to the one voice and an exit code. */
export async function guard(io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    return reportError(io, e);
  }
}
