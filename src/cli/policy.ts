import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { utf8 } from "../bytes.js";
import { TrailsealError, isTrailsealError, systemErrorWords } from "../errors.js";
import { describeCertificate, isCaCertificate, readCertificates } from "../pem.js";
import {
  MAX_INTERVAL,
  MIN_INTERVAL,
  buildPolicy,
  checkPolicy,
  isDottedOid,
  type PolicyProblem,
  type PolicyRuleCode,
  type RecipientEntry,
} from "../policy.js";
import { inputName, readInput, readPassin } from "./files.js";
import {
  collect,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  newCommand,
  plural,
  runCommand,
  say,
  type Io,
} from "./io.js";

const USAGE = `Usage: trailseal policy <create|check> [options]

Build and check SPS audit policies (REST /api/configuration/policies/audit_policies) and check
content policies (/api/configuration/policies/content_policies).

Subcommands:
  create   print a new audit-policy body (SPS 8.0 LTS shape), ready to POST
  check    check a policy body, REST object or list response; print each problem

Examples:
  trailseal policy create --name audit --encrypt alice.pem,bob.pem --timestamp local
  trailseal policy check policy.json

Run 'trailseal policy <create|check> --help' for the options.
`;

/** `trailseal policy create|check …` */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "create":
      return create(rest, io);
    case "check":
      return checkCommand(rest, io);
    case "--help":
    case "-h":
    case "help":
      io.stdout.write(USAGE);
      return EXIT_OK;
    case undefined:
      io.stderr.write(USAGE);
      return EXIT_USAGE;
    default:
      say(io, "error", `unknown policy subcommand '${sub}'`);
      say(io, "hint", "use 'trailseal policy create' or 'trailseal policy check'");
      return EXIT_USAGE;
  }
}

// ---------------------------------------------------------------------------------------------

interface CreateOptions {
  name: string;
  encrypt?: string[];
  upstream?: string[];
  signIdentity?: string;
  timestamp?: string;
  policyOid?: string;
  interval: string;
  passin?: string;
  output: string;
}

function usageError(message: string, hint?: string): TrailsealError {
  return new TrailsealError("USAGE", message, hint === undefined ? undefined : { hint });
}

/** The `policy create` command and its options. */
function createCommand(io: Io): Command {
  const cmd = newCommand("trailseal policy create", io)
    .description("Print an SPS 8.0 LTS audit-policy body, ready to POST.")
    .requiredOption("--name <name>", "policy name (no whitespace)")
    .option(
      "--encrypt <cert[,four_eyes_cert]>",
      "an encryption entry; a second certificate makes it four-eyes (repeatable: any entry decrypts; with neither this nor --upstream, encryption is off)",
      collect,
    )
    .option(
      "--upstream <cert[,four_eyes_cert]>",
      "a separate upstream entry (repeatable; turns on different_certificates_for_upstream)",
      collect,
    )
    .option(
      "--sign-identity <key>",
      "key (or /api/configuration/x509/<key> href) of the signing x509 identity (none: signing off)",
    )
    .option(
      "--timestamp <local|url>",
      "local timestamping, or the http(s) URL of an RFC 3161 server (none: timestamping off)",
    )
    .option("--policy-oid <oid>", "TSA policy OID (remote timestamping only)")
    .option(
      "--interval <seconds>",
      `signing and timestamping interval, ${MIN_INTERVAL}..${MAX_INTERVAL}`,
      "30",
    )
    .option(
      "--passin <source>",
      "password of PKCS#12 certificate files: env:VAR, file:PATH or pass:TEXT",
    )
    .option("-o, --output <file>", "write the policy here ('-' = stdout)", "-");
  cmd.addHelpText(
    "after",
    `
Certificate files may be in any form 'trailseal pem' reads (PEM with metadata, DER, PKCS#7,
PKCS#12 with --passin); each must hold one certificate, or one that is not a CA with its CA
chain (then that one is used, and a notice says so).

Examples:
  trailseal policy create --name audit --encrypt alice.pem,bob.pem --timestamp local
  trailseal policy create --name split --encrypt ops.pem --upstream security.pem \\
      --sign-identity 9508db81-4a3f-45a7-a2b1-a86f71c56416 \\
      --timestamp http://tsa.example.com/tsr --policy-oid 1.3.6.1.4.1.99999.1 -o audit.json

Exit status: 0 written, 2 usage or I/O error (unreadable certificate, invalid option).
`,
  );
  return cmd;
}

/** Checks the options that need no file to read; returns the interval in seconds. */
function checkOptions(opts: CreateOptions): number {
  if (!/^[0-9]+$/.test(opts.interval)) {
    throw usageError(`--interval must be a whole number of seconds, not '${opts.interval}'`);
  }
  const interval = Number(opts.interval);
  if (interval < MIN_INTERVAL || interval > MAX_INTERVAL) {
    throw usageError(
      `--interval must be from ${MIN_INTERVAL} to ${MAX_INTERVAL} seconds, not ${interval}`,
    );
  }
  if (
    opts.timestamp !== undefined &&
    opts.timestamp !== "local" &&
    !/^https?:\/\/[^/]/i.test(opts.timestamp)
  ) {
    throw usageError(`--timestamp must be 'local' or an http(s) URL, not '${opts.timestamp}'`);
  }
  if (opts.policyOid !== undefined) {
    if (opts.timestamp === undefined || opts.timestamp === "local") {
      throw usageError(
        "--policy-oid needs a remote timestamp server (--timestamp URL)",
        "the local timestamping service takes no policy OID",
      );
    }
    if (!isDottedOid(opts.policyOid)) {
      throw usageError(
        `--policy-oid must be a dotted OID such as 1.3.6.1.4.1.99999.1, not '${opts.policyOid}'`,
      );
    }
  }
  if (
    opts.signIdentity !== undefined &&
    (opts.signIdentity.trim() === "" || /\s/.test(opts.signIdentity))
  ) {
    throw usageError(
      "--sign-identity must be the key of an x509 identity stored on SPS (no whitespace)",
    );
  }
  return interval;
}

/** Writes the policy to stdout or a file (0644 at most). */
async function writePolicy(text: string, output: string, io: Io): Promise<void> {
  if (output === "-") {
    io.stdout.write(text);
  } else {
    try {
      // 0644 at most: whoever can change the policy chooses who can read future trails.
      await writeFile(resolve(io.cwd, output), text, { mode: 0o644 });
    } catch (e) {
      const why = systemErrorWords(e, "unwritable", { ENOENT: "no such directory" });
      throw new TrailsealError("IO", `cannot write ${output}: ${why}`, { cause: e });
    }
  }
}

async function create(argv: readonly string[], io: Io): Promise<number> {
  const cmd = createCommand(io);
  return runCommand<CreateOptions>(cmd, argv, io, async (opts) => {
    const interval = checkOptions(opts);
    const passphrase = opts.passin === undefined ? undefined : readPassin(opts.passin, io);
    const loader = new CertificateLoader(io, passphrase);
    const encrypt = await loader.entries(opts.encrypt ?? [], "--encrypt");
    const upstream = await loader.entries(opts.upstream ?? [], "--upstream");

    let policy;
    try {
      policy = buildPolicy({
        name: opts.name,
        encrypt,
        upstream,
        interval,
        ...(opts.signIdentity === undefined ? {} : { signIdentity: opts.signIdentity }),
        ...(opts.timestamp === undefined ? {} : { timestamp: opts.timestamp }),
        ...(opts.policyOid === undefined ? {} : { policyOid: opts.policyOid }),
      });
    } catch (e) {
      // The options described an invalid policy: that is a usage error here, not a failed check.
      if (isTrailsealError(e, "POLICY_INVALID")) throw usageError(e.message, e.hint);
      throw e;
    }
    for (const p of checkPolicy(policy).map(withAdvice)) {
      if (p.severity !== "note") say(io, "warning", `${p.path}: ${p.message}`);
    }
    await writePolicy(`${JSON.stringify(policy, null, 2)}\n`, opts.output, io);
    return EXIT_OK;
  });
}

/** Reads certificate files once each (stdin at most once) and makes recipient entries. */
class CertificateLoader {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly io: Io,
    private readonly passphrase: string | undefined,
  ) {}

  async entries(specs: readonly string[], option: string): Promise<RecipientEntry[]> {
    const out: RecipientEntry[] = [];
    for (const spec of specs) {
      const parts = spec.split(",");
      if (parts.length > 2 || parts.some((p) => p === "")) {
        throw usageError(`${option} takes CERT or CERT,FOUR_EYES_CERT, not '${spec}'`);
      }
      const certificate = await this.certificate(parts[0]!);
      const fourEyes = parts[1] === undefined ? null : await this.certificate(parts[1]);
      out.push({ certificate, fourEyes });
    }
    return out;
  }

  private async certificate(path: string): Promise<Uint8Array> {
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached;
    const source = inputName(path);
    const bytes = await readInput(path, this.io);
    let certs = await readCertificates(bytes, {
      source,
      forApi: true,
      ...(this.passphrase === undefined ? {} : { passphrase: this.passphrase }),
    });
    if (certs.length > 1) {
      // A PKCS#12 file or PEM chain carries the recipient's certificate with its CAs: the one
      // certificate that is not a CA is the recipient's. Said out loud, never guessed among leaves.
      const leaves = certs.filter((c) => !isCaCertificate(c));
      if (leaves.length === 1) {
        const info = describeCertificate(leaves[0]!);
        say(
          this.io,
          "notice",
          `${source} holds ${certs.length} certificates; using the one that is not a CA: ${info.subject} (sha256:${info.spkiFingerprint})`,
        );
        certs = leaves;
      }
    }
    if (certs.length !== 1) {
      throw usageError(
        `${source} holds ${certs.length} certificates; an entry takes exactly one`,
        "split it with 'trailseal pem FILE' and give the recipient's certificate",
      );
    }
    const der = certs[0]!;
    this.cache.set(path, der);
    return der;
  }
}

// ---------------------------------------------------------------------------------------------

async function checkCommand(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal policy check", io)
    .description(
      "Check an SPS audit or content policy (told apart by shape): a body, a REST object (key/body/meta) or a list response (items).",
    )
    .argument("<file>", "the policy JSON ('-' = stdin)")
    .option("--json", "print the problems as a JSON array of {path, severity, code, message}");
  cmd.addHelpText(
    "after",
    `
Each problem is printed as 'path: severity: message [CODE]', e.g.
  body.encryption.certificates[1].four_eyes_certificate: error: … [FOUR_EYES_SAME_KEY]
The rule codes are listed in the README.

Examples:
  trailseal policy check policy.json
  curl -s --cookie cookies https://sps/api/configuration/policies/audit_policies/KEY | trailseal policy check -
  trailseal policy check content-policy.json
  trailseal policy check --json policy.json

Exit status: 0 no errors (warnings and notes allowed), 1 the policy has errors, 2 unreadable or
not JSON.
`,
  );
  return runCommand<{ json?: boolean }>(cmd, argv, io, async ({ json }) => {
    const file = cmd.args[0]!;
    const name = inputName(file);
    const text = utf8.decode(await readInput(file, io)).replace(/^\uFEFF/, "");
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (e) {
      throw new TrailsealError(
        "FORMAT_INVALID",
        `${name} is not JSON: ${jsonErrorWithoutInput(e)}`,
        {
          cause: e,
          hint: "give the policy body or the REST object as JSON",
        },
      );
    }
    const problems = checkPolicy(input).map(withAdvice);
    const errors = problems.filter((p) => p.severity === "error").length;
    if (json === true) {
      io.stdout.write(`${JSON.stringify(problems, null, 2)}\n`);
    } else {
      for (const p of problems) io.stdout.write(`${formatProblem(p)}\n`);
      io.stdout.write(`${name}: ${summary(problems)}\n`);
    }
    return errors > 0 ? EXIT_FAILED : EXIT_OK;
  });
}

/** The command that fixes a problem, where there is one: the library never names commands. */
const ADVICE: Partial<Record<PolicyRuleCode, string>> = {
  CERTIFICATE_NOT_API_FORM: "run 'trailseal pem --api FILE'",
};

function withAdvice(p: PolicyProblem): PolicyProblem {
  const advice = ADVICE[p.code];
  return advice === undefined ? p : { ...p, message: `${p.message}: ${advice}` };
}

/** One problem as a line: `path: severity: message [CODE]`. */
function formatProblem(p: PolicyProblem): string {
  return `${p.path === "" ? "(input)" : p.path}: ${p.severity}: ${p.message} [${p.code}]`;
}

function summary(problems: readonly PolicyProblem[]): string {
  const count = (s: PolicyProblem["severity"]): number =>
    problems.filter((p) => p.severity === s).length;
  const errors = count("error");
  const rest = [plural(count("warning"), "warning"), plural(count("note"), "note")].join(", ");
  return errors > 0 ? `invalid (${plural(errors, "error")}, ${rest})` : `valid (${rest})`;
}

/**
 * V8's JSON error without the input it quotes (`Unexpected token 'h', "hunter2" is not valid
 * JSON`): a secret file given by mistake must not be echoed. The position, when given, stays.
 */
function jsonErrorWithoutInput(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/, ".*" is not valid JSON$/s, "");
}
