import { TrailsealError } from "../errors.js";
import {
  describeCertificate,
  readCertificates,
  toApiString,
  toPem,
  type CertificateInfo,
} from "../pem.js";
import { inputName, readInput, readPassin } from "./files.js";
import { EXIT_OK, EXIT_USAGE, newCommand, reportError, runCommand, say, type Io } from "./io.js";

interface PemOptions {
  api?: boolean;
  json?: boolean;
  passin?: string;
}

/** `trailseal pem [FILE…]`: every certificate of the inputs, clean, in input order. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal pem", io)
    .description(
      "Find every X.509 certificate in the inputs, whatever wraps it, and print it clean: " +
        "PEM with base64 at 64 columns and LF line ends, in input order.",
    )
    .argument("[file...]", "certificate files; stdin when none or '-'")
    .option("--api", "print one JSON string literal per certificate, as the SPS REST API takes it")
    .option("--json", "print a JSON array describing each certificate")
    .option("--passin <source>", "PKCS#12 password: env:VAR, file:PATH or pass:TEXT");
  cmd.addHelpText(
    "after",
    `
Inputs may be PEM with anything around it (Bag Attributes, subject=/issuer= lines, openssl
x509 -text dumps, comments), CRLF or CR line ends, indented or re-wrapped base64, a PEM that is
already a JSON string (literal \\n), bare base64, DER, PKCS#7 (.p7b/.p7c, PEM or DER) and
PKCS#12 (.p12/.pfx, AES or legacy RC2/3DES). Running pem on its own output changes nothing.

Warnings (stderr): RSA keys under 2048 bits; non-RSA keys (SPS encrypts only to RSA; trailseal
also takes EC); expired certificates (SPS ignores expiry for encryption).

Examples:
  trailseal pem auditor.crt > auditor.pem
  trailseal pem --api auditor.p12 --passin env:P12_PASS
  openssl x509 -in auditor.crt -text | trailseal pem --json

Refused, with the reason: private keys, CSRs, bare public keys, CRLs, Java KeyStores (JKS,
JCEKS: convert them with keytool -importkeystore -deststoretype pkcs12), corrupt base64 or DER.
DER followed by stray bytes (a CRLF) is read, with a warning.

With several inputs, a bad one is reported (file named) and the others still print.

Exit status: 0 printed, 2 usage or I/O error, or any input not read (no certificate, a key or
CSR instead of a certificate, corrupt base64 or DER, wrong PKCS#12 password).
`,
  );
  return runCommand<PemOptions>(cmd, argv, io, async (opts) => {
    const files = cmd.args.length === 0 ? ["-"] : cmd.args;
    if (opts.api === true && opts.json === true) {
      throw new TrailsealError("USAGE", "--api and --json cannot be combined", {
        hint: "--json already carries the API string of each certificate in its 'api' field",
      });
    }
    if (files.filter((f) => f === "-").length > 1) {
      throw new TrailsealError("USAGE", "stdin ('-') can be read only once");
    }
    const passphrase = opts.passin === undefined ? undefined : readPassin(opts.passin, io);
    const now = io.now();

    const { found, failed } = await readAll(files, passphrase, io);

    for (const { source, index, info } of found) {
      for (const w of warnings(info, now)) {
        say(io, "warning", `${source}: certificate ${index} (${info.subject}): ${w}`);
      }
    }

    if (opts.json === true) {
      const out = found.map(({ source, info }) => ({
        source,
        ...info,
        expired: new Date(info.notAfter).getTime() < now.getTime(),
      }));
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else if (opts.api === true) {
      for (const { der } of found) io.stdout.write(`${JSON.stringify(toApiString(der))}\n`);
    } else {
      for (const { der } of found) io.stdout.write(toPem(der));
    }
    return failed ? EXIT_USAGE : EXIT_OK;
  });
}

type Found = { source: string; index: number; der: Uint8Array; info: CertificateInfo };

/** The certificates of every input, in order, and whether one input was not read. */
async function readAll(
  files: readonly string[],
  passphrase: string | undefined,
  io: Io,
): Promise<{ found: Found[]; failed: boolean }> {
  // Read everything first; with several inputs a bad one is reported (file named) and the
  // others still print, as cat does, and the exit status says that one failed.
  const found: Found[] = [];
  let failed = false;
  for (const file of files) {
    const source = inputName(file);
    try {
      const bytes = await readInput(file, io);
      const certificates = await readCertificates(bytes, {
        source,
        forApi: true,
        onWarning: (message) => say(io, "warning", message),
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      // Numbered within its own file, so "certificate 2" is the second of that file.
      certificates.forEach((der, i) =>
        found.push({ source, index: i + 1, der, info: describeCertificate(der) }),
      );
    } catch (e) {
      if (files.length === 1 || !(e instanceof TrailsealError)) throw e;
      reportError(io, e);
      failed = true;
    }
  }
  return { found, failed };
}

/** What SPS users should know about a certificate they are about to use for encryption. */
function warnings(info: CertificateInfo, now: Date): string[] {
  const out: string[] = [];
  if (info.keyType === "RSA" && info.keySize < 2048) {
    out.push(`${info.keySize}-bit RSA key; use 2048 bits or more`);
  }
  if (info.keyType !== "RSA") {
    const key = info.keyType === "EC" ? `EC ${info.curve ?? ""}`.trim() : info.keyType;
    out.push(
      info.keyType === "EC"
        ? `${key} key: SPS encrypts only to RSA; trailseal also takes EC`
        : `${key} key: SPS encrypts only to RSA; trailseal also takes EC, but not ${key}`,
    );
  }
  if (info.invalidTime !== undefined) {
    out.push(
      `its validity period is not valid (${info.invalidTime}); openssl says "Bad time value"`,
    );
  } else if (new Date(info.notAfter).getTime() < now.getTime()) {
    out.push(
      `expired on ${info.notAfter}; SPS ignores expiry for encryption, so it still works there`,
    );
  }
  return out;
}
