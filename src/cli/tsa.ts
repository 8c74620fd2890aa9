import { randomBytes } from "node:crypto";
import { defaultHome, loadAuthority } from "../authority.js";
import { TrailsealError } from "../errors.js";
import { isPkcs11Uri, readPrivateKeys } from "../keys.js";
import { checkPolicyOid } from "../timestamp/request.js";
import { startTsaServer } from "../timestamp/server.js";
import { LOCAL_POLICY_OID, serialSource, type TsaIdentity } from "../timestamp/token.js";
import { readInput, readPassin } from "./files.js";
import { EXIT_OK, newCommand, runCommand, say, type Io } from "./io.js";
import {
  loadCertificates,
  oneSubcommand,
  openTokenSigner,
  tokenOptions,
  type TokenFlags,
} from "./common.js";
import { tokenTsaIdentity } from "./sealing.js";

interface ServeFlags extends TokenFlags {
  cert?: string;
  key?: string;
  chain?: string;
  home?: string;
  host: string;
  port: string;
  policy: string;
  passin?: string;
  accuracy: string;
  requestTimeout: string;
}

const USAGE = `Usage: trailseal tsa serve [options]

Run an RFC 3161 time-stamp server. Run 'trailseal tsa serve --help' for its options.
`;

/** `trailseal tsa serve`: an RFC 3161 server over HTTP, until SIGINT or SIGTERM. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const hint = "trailseal tsa serve --cert tsa.crt --key tsa.key";
  const rest = oneSubcommand(argv, io, "serve", USAGE, hint);
  return typeof rest === "number" ? rest : serve(rest, io, untilSignal);
}

/** Resolves with the name of the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    const stop = (s: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(s);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/**
 * `tsa serve` with its stop condition passed in: the CLI waits for SIGINT/SIGTERM, tests pass a
 * promise they resolve.
 */
export async function serve(
  argv: readonly string[],
  io: Io,
  until: () => Promise<string>,
): Promise<number> {
  const cmd = newCommand("trailseal tsa serve", io)
    .description(
      "Run an RFC 3161 time-stamp server: POST application/timestamp-query, answered with " +
        "application/timestamp-reply. Tokens are SHA-256 signed (RSA PKCS#1 v1.5 or ECDSA) with " +
        "ESS signingCertificateV2, the request's nonce, a unique serial and an accuracy (1 s unless --accuracy says otherwise).",
    )
    .option(
      "--cert <file>",
      "TSA certificate (EKU timeStamping, critical), optionally followed by its chain (for a token key: default the token's certificate with the key's id)",
    )
    .option("--key <file|uri>", "TSA private key (RSA or EC): a file, or a PKCS#11 URI")
    .option("--chain <file>", "intermediate certificates to include in tokens")
    .option(
      "--home <dir>",
      "serve the local authority's TSA when --cert/--key are not given (default $TRAILSEAL_HOME, else ~/.trailseal)",
    )
    .option("--host <addr>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port to listen on (0 = any free port)", "3161")
    .option(
      "--policy <oid>",
      "TSA policy OID of the tokens; requests asking for another are refused",
      LOCAL_POLICY_OID,
    )
    .option("--accuracy <ms>", "accuracy stated in tokens, in milliseconds", "1000")
    .option(
      "--request-timeout <seconds>",
      "time a client has to send its whole request before it is cut off",
      "10",
    )
    .option("--passin <source>", "passphrase of an encrypted key: env:VAR, file:PATH or pass:TEXT");
  tokenOptions(cmd, "--key");
  cmd.addHelpText(
    "after",
    `
Rejections (HTTP 200, PKIStatus rejection) carry the failInfo: badAlg (SHA-1, MD5 or unknown
hash), badDataFormat (not a TimeStampReq, wrong imprint length), badRequest (version),
unacceptedPolicy (reqPolicy other than --policy), unacceptedExtension. Other requests get HTTP
405 (not POST), 415 (wrong content type) or 413 (body over 16 KiB); clients that take longer
than --request-timeout to send a request are cut off. One line per request goes to stderr. SIGINT or SIGTERM stops the
server cleanly.

A key on a PKCS#11 token (smart card, HSM) signs on the token with one session, logged in again
when the session is lost (the token reset, or pulled and put back); the certificate comes from
the token (the same id) unless --cert gives it.

Examples:
  trailseal tsa serve --cert tsa.crt --key tsa.key --port 3161
  trailseal tsa serve --key 'pkcs11:token=tsa;object=tsa;type=private' --pin file:/etc/tsa.pin \\
      --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
  trailseal tsa serve --home ~/.trailseal --host 0.0.0.0 --policy 1.3.6.1.4.1.55555.1
  openssl ts -query -data file -sha256 -cert | curl -s -H 'Content-Type: application/timestamp-query' --data-binary @- http://127.0.0.1:3161/ > file.tsr

Exit status: 0 stopped by a signal, 2 usage or I/O error (cannot listen, bad certificate or key).
`,
  );
  return runCommand<ServeFlags>(cmd, argv, io, async (flags) => {
    const { port, accuracy, requestTimeout } = numbers(flags);
    const { tsa, close } = await loadTsa(flags, io);
    try {
      return await listen(flags, { tsa, port, accuracy, requestTimeout }, io, until);
    } finally {
      close();
    }
  });
}

async function listen(
  flags: ServeFlags,
  o: { tsa: TsaIdentity; port: number; accuracy: number; requestTimeout: number },
  io: Io,
  until: () => Promise<string>,
): Promise<number> {
  const { tsa, port, accuracy, requestTimeout } = o;
  const server = await startTsaServer({
    tsa,
    policyOid: checkPolicyOid(flags.policy),
    host: flags.host,
    port,
    clock: io.now,
    serial: serialSource((n) => new Uint8Array(randomBytes(n))),
    accuracyMillis: accuracy,
    requestTimeoutMs: Math.round(requestTimeout * 1000),
    log: (line) => io.stderr.write(`${line}\n`),
  });
  say(io, "notice", `TSA listening on ${server.url} (policy ${flags.policy}); stop with Ctrl-C`);
  const signal = await until();
  await server.close();
  say(io, "notice", `TSA stopped (${signal})`);
  return EXIT_OK;
}

/** The numeric options, checked. */
function numbers(flags: ServeFlags): { port: number; accuracy: number; requestTimeout: number } {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TrailsealError("USAGE", `--port must be 0..65535, not ${flags.port}`);
  }
  const accuracy = Number(flags.accuracy);
  if (!Number.isInteger(accuracy) || accuracy < 0) {
    throw new TrailsealError(
      "USAGE",
      `--accuracy must be a whole number of milliseconds, not ${flags.accuracy}`,
    );
  }
  const requestTimeout = Number(flags.requestTimeout);
  if (!(requestTimeout > 0 && requestTimeout <= 3600)) {
    throw new TrailsealError(
      "USAGE",
      `--request-timeout must be a number of seconds from 0 to 3600, not ${flags.requestTimeout}`,
    );
  }
  return { port, accuracy, requestTimeout };
}

/** The TSA identity of the flags (files, a token key, or the authority's), and what closes it. */
async function loadTsa(flags: ServeFlags, io: Io): Promise<{ tsa: TsaIdentity; close(): void }> {
  const none = () => undefined;
  if (flags.key !== undefined && isPkcs11Uri(flags.key)) {
    if (flags.passin !== undefined)
      throw new TrailsealError("USAGE", "--passin is for a --key file, not a token key", {
        hint: "give the token's PIN with --pin or pin-source= in the URI",
      });
    // relogin: a server outlives sessions; the PIN is kept to log in again.
    const signer = await openTokenSigner(flags.key, io, flags, true);
    try {
      const files = {
        cert: flags.cert,
        certFlag: "--cert",
        ...(flags.chain === undefined ? {} : { chain: flags.chain }),
      };
      return {
        tsa: await tokenTsaIdentity(signer, flags.key, io, files),
        close: () => signer.close(),
      };
    } catch (e) {
      signer.close();
      throw e;
    }
  }
  if (flags.cert === undefined && flags.key === undefined) {
    const home = defaultHome(io.env, io.cwd, flags.home);
    return { tsa: (await loadAuthority(home, { now: io.now() })).tsa, close: none };
  }
  if (flags.cert === undefined || flags.key === undefined) {
    throw new TrailsealError("USAGE", "--cert and --key go together");
  }
  const chain = await loadCertificates(
    [flags.cert, ...(flags.chain === undefined ? [] : [flags.chain])],
    io,
  );
  const passphrase = flags.passin === undefined ? undefined : readPassin(flags.passin, io);
  const keys = await readPrivateKeys(await readInput(flags.key, io), {
    source: flags.key,
    ...(passphrase === undefined ? {} : { passphrase }),
  });
  const key = keys[0];
  if (key === undefined) throw new TrailsealError("KEY_INVALID", `no private key in ${flags.key}`);
  return { tsa: { chain, key: key.key }, close: none };
}
