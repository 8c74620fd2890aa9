/**
 * The one error class of trailseal. Every failure carries a stable `code` that tests, the CLI
 * and library users can switch on, a lower-case message that names the thing at fault (file,
 * record number, fingerprint) and, where there is one, the native `cause`.
 *
 * Messages never contain secrets: no passphrase, no key material, no plaintext.
 */
export type ErrorCode =
  // input and usage
  | "USAGE"
  | "IO"
  | "PEM_INVALID"
  | "NO_CERTIFICATE"
  | "NOT_A_CERTIFICATE"
  | "DER_INVALID"
  | "PKCS12_PASSWORD"
  | "PKCS12_INVALID"
  | "KEY_INVALID"
  | "KEY_PASSPHRASE"
  | "KEY_UNSUPPORTED"
  | "KEY_TOO_SMALL"
  | "PASSIN_INVALID"
  | "POLICY_INVALID"
  | "PATTERN_INVALID"
  | "PATTERN_UNSUPPORTED"
  | "FORMAT_INVALID"
  // trail structure and decryption
  | "TRAIL_INVALID"
  | "HEADER_INVALID"
  | "RECORD_INVALID"
  | "STANZA_INVALID"
  | "STANZA_DECRYPT_FAILED"
  | "NO_MATCHING_KEY"
  | "KEY_COMMITMENT_MISMATCH"
  | "FRAME_CORRUPT"
  | "CHAIN_BROKEN"
  | "TRUNCATED"
  | "SEQUENCE_INVALID"
  // signatures and timestamps
  | "SIGNATURE_INVALID"
  | "CHAIN_UNTRUSTED"
  | "CHECKPOINT_INVALID"
  | "CHECKPOINT_MISSING"
  | "TIMESTAMP_INVALID"
  | "TSA_UNAVAILABLE"
  | "TSA_REJECTED"
  // keys on PKCS#11 tokens (src/pkcs11/)
  | "PKCS11_UNAVAILABLE"
  | "PKCS11_URI_INVALID"
  | "PKCS11_MODULE"
  | "PKCS11_NO_TOKEN"
  | "PKCS11_NO_OBJECT"
  | "PKCS11_PIN_INCORRECT"
  | "PKCS11_PIN_LOCKED"
  | "PKCS11_MECHANISM"
  | "PKCS11_TOKEN_REMOVED"
  | "PKCS11_FAILED"
  // many trails
  | "WORKER_FAILED";

/**
 * What the caller has to give for an operation that failed for want of it. The library names the
 * thing; the CLI (and only the CLI) turns it into the flag that gives it (`cli/io.ts`).
 */
export type Missing =
  | "trust-anchor"
  | "tsa-trust-anchor"
  | "untrusted-certificate"
  | "passphrase"
  | "signing-identity"
  | "authority"
  | "timing-file"
  | "force"
  | "pkcs11-module"
  | "pin"
  /** The passphrase given does not open the key: the right one. */
  | "right-passphrase"
  | "pkcs12-password"
  | "right-pkcs12-password"
  /** The certificate itself (a private key was given where it belongs). */
  | "certificate"
  /** Where the local authority lives. */
  | "authority-home"
  /** Consent to replace an existing authority (its old tokens and signatures stop chaining). */
  | "force-authority"
  /** A new local authority (the one there is unusable). */
  | "new-authority"
  /** The environment variable a secret was to be read from (`details.variable` names it). */
  | "environment-variable";

/** Structured facts about a failure, for callers that act on them rather than parse the message. */
export interface ErrorDetails {
  /** The file at fault, as the caller named it. */
  readonly file?: string;
  /** The trail record at fault (its sequence number; -1 = the header). */
  readonly record?: number;
  /** What was missing (see `Missing`). */
  readonly missing?: Missing;
  /** The offset at fault in a text the caller gave (a pattern), in UTF-16 code units from 0. */
  readonly offset?: number;
  /** The environment variable at fault (its name, never its value). */
  readonly variable?: string;
}

export interface ErrorOptions extends ErrorDetails {
  readonly cause?: unknown;
  /** What to do next, in library terms (never a CLI flag; the CLI maps `missing` to its flags). */
  readonly hint?: string;
}

export class TrailsealError extends Error {
  readonly code: ErrorCode;
  /** What the user can do next; the CLI prints it as `trailseal: hint: …`. */
  readonly hint: string | undefined;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TrailsealError";
    this.code = code;
    this.hint = options?.hint;
    const details: { -readonly [K in keyof ErrorDetails]: ErrorDetails[K] } = {};
    if (options?.file !== undefined) details.file = options.file;
    if (options?.record !== undefined) details.record = options.record;
    if (options?.missing !== undefined) details.missing = options.missing;
    if (options?.offset !== undefined) details.offset = options.offset;
    if (options?.variable !== undefined) details.variable = options.variable;
    this.details = Object.freeze(details);
  }

  /**
   * This error restated: the same code, with `changes` laid over its details and hint, and
   * `message` in place of its text when given; the original is the cause. The one way to add
   * context to an error on its way up (the file at fault, the CLI's hint).
   */
  amend(
    changes: ErrorDetails & { readonly message?: string; readonly hint?: string },
  ): TrailsealError {
    const { message = this.message, hint = this.hint, ...details } = changes;
    return new TrailsealError(this.code, message, {
      cause: this,
      ...this.details,
      ...details,
      ...(hint === undefined ? {} : { hint }),
    });
  }

  /**
   * This error as the fault of `file` (`details.file`), with its code, hint and other details;
   * `message` replaces the text (by default the same: it names the file already).
   */
  withFile(file: string, message = this.message): TrailsealError {
    return this.amend({ file, message });
  }
}

/** True when `e` is a TrailsealError, optionally with the given code. */
export function isTrailsealError(e: unknown, code?: ErrorCode): e is TrailsealError {
  return e instanceof TrailsealError && (code === undefined || e.code === code);
}

/** Throws a TrailsealError with `code` unless `condition` holds. */
export function check(condition: unknown, code: ErrorCode, message: string): asserts condition {
  if (!condition) throw new TrailsealError(code, message);
}

/** What a failed system call's errno code means, in words, for messages that name the file. */
const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "the file is too large for its file system",
  EIO: "input/output error",
  EROFS: "read-only file system",
};

/**
 * Why a system call failed, in words: `e`'s errno code as `words` (the caller's, e.g. ENOENT of
 * a file to be written: "no such directory") or SYSTEM_ERRORS say it, else the code itself;
 * `fallback` when `e` has no code.
 */
export function systemErrorWords(
  e: unknown,
  fallback: string,
  words: Readonly<Record<string, string>> = {},
): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return fallback;
  return words[code] ?? SYSTEM_ERRORS[code] ?? code;
}
