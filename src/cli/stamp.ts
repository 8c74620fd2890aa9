import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { defaultHome, loadAuthority } from "../authority.js";
import { fromHex, toHex } from "../bytes.js";
import { TrailsealError } from "../errors.js";
import { parseResponse, remoteStamper } from "../timestamp/client.js";
import { checkPolicyOid, nonceFromRandom } from "../timestamp/request.js";
import { grantedResponse, localStamper, type Stamper } from "../timestamp/token.js";
import { checkToken, tokenImprintHash, verifyToken, type TokenFacts } from "../timestamp/verify.js";
import { loadCertificates, printable, writeOutput, type OutputFile } from "./common.js";
import { inputName, readInput } from "./files.js";
import { tlsTrust } from "./sealing.js";
import {
  collect,
  EXIT_FAILED,
  EXIT_OK,
  exitCodeFor,
  newCommand,
  reportError,
  runCommand,
  say,
  type Io,
} from "./io.js";

interface StampFlags {
  tsa?: string[];
  home?: string;
  policyOid?: string;
  output?: string;
  timeout: string;
  verify?: string;
  data?: string;
  digest?: string;
  tsaCa?: string[];
  untrusted?: string[];
  tsaTlsCa?: string[];
  json?: boolean;
  force?: boolean;
}

/** `trailseal stamp`: an RFC 3161 token for any file, or the check of one. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal stamp", io)
    .description(
      "Timestamp any file with RFC 3161 (SHA-256 imprint, random nonce), from the local TSA or a " +
        "remote one, and write the TimeStampResp; or verify a .tsr against the data in full.",
    )
    .argument("[file]", "the file to timestamp ('-' = stdin)")
    .option(
      "--tsa <local|url>",
      "'local' (the local authority) or a TSA URL; repeat URLs for fallbacks (required to stamp)",
      collect,
    )
    .option("--home <dir>", "local authority (default $TRAILSEAL_HOME, else ~/.trailseal)")
    .option("--policy-oid <oid>", "reqPolicy for a remote TSA; the token must carry it")
    .option(
      "-o, --output <file>",
      "where to write the TimeStampResp (.tsr; required to stamp); '-' = stdout",
    )
    .option("--force", "overwrite an existing output file (an earlier token is lost)")
    .option("--timeout <seconds>", "timeout of one remote exchange", "10")
    .option("--verify <tsr>", "verify this .tsr (TimeStampResp or bare token) instead of stamping")
    .option("--data <file>", "with --verify: the data that was stamped")
    .option(
      "--digest <hex>",
      "with --verify, instead of --data: the data's digest (the token's imprint algorithm)",
    )
    .option(
      "--tsa-ca <file>",
      "with --verify (or remote stamping): trust anchor of the TSA (repeatable)",
      collect,
    )
    .option(
      "--untrusted <file>",
      "with --verify or a remote TSA: certificates that may supply the TSA's certificate or complete its chain, never trusted by themselves (repeatable)",
      collect,
    )
    .option(
      "--tsa-tls-ca <file>",
      "CA certificate(s) an https:// TSA's server certificate must chain to, instead of the system's (repeatable)",
      collect,
    )
    .option("--json", "with --verify: print the verified facts as JSON");
  cmd.addHelpText(
    "after",
    `
Verification checks everything (RFC 3161, RFC 5816): status granted, imprint, one signer,
contentType and messageDigest, the signature, the ESS signingCertificate(V2) binding, the
timeStamping EKU (present, critical, alone), and the chain to a --tsa-ca anchor at genTime. With
no --tsa-ca the local authority's ca.crt is the anchor. A token may leave out the TSA's
certificate (a request without certReq) or an intermediate: give them with --untrusted, as to
openssl's -untrusted (with --verify, or a remote TSA that leaves them out); they help build the
chain and are never trusted by themselves.

Examples:
  trailseal stamp report.pdf --tsa local -o report.pdf.tsr
  trailseal stamp report.pdf --tsa https://tsa.example/tsr --tsa http://backup.example/ --tsa-ca tsa-root.pem -o report.tsr
  trailseal stamp report.pdf --tsa https://tsa.internal/ --tsa-tls-ca corp-tls-root.pem --tsa-ca tsa-root.pem -o report.tsr
  trailseal stamp report.pdf --tsa https://tsa.example/tsr --tsa-ca tsa-root.pem --untrusted tsa.pem -o report.tsr
  trailseal stamp --verify report.pdf.tsr --data report.pdf --tsa-ca ~/.trailseal/ca.crt
  trailseal stamp --verify token.tsr --digest 5f3a…e1 --tsa-ca tsa-root.pem --untrusted tsa.pem
  openssl ts -verify -in report.pdf.tsr -data report.pdf -CAfile ~/.trailseal/ca.crt

Exit status: 0 stamped or valid, 1 the token is invalid or untrusted, 2 usage or I/O error
(including a TSA that is unreachable or refuses the request).
`,
  );
  return runCommand<StampFlags>(cmd, argv, io, (flags) =>
    flags.verify === undefined
      ? stamp(cmd.args[0], flags, io)
      : verify(flags.verify, cmd.args[0], flags, io),
  );
}

async function hashFile(path: string, hash: string, io: Io): Promise<Uint8Array> {
  const h = createHash(hash);
  const source: AsyncIterable<Uint8Array> =
    path === "-"
      ? (io.stdin as AsyncIterable<Uint8Array>)
      : createReadStream(resolve(io.cwd, path));
  try {
    for await (const chunk of source) h.update(chunk);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read";
    throw new TrailsealError("IO", `${reason}: ${path}`, { cause: e });
  }
  return new Uint8Array(h.digest());
}

async function stamp(file: string | undefined, flags: StampFlags, io: Io): Promise<number> {
  if (file === undefined)
    throw new TrailsealError("USAGE", "name the file to timestamp (or use --verify FILE.tsr)");
  if (flags.output === undefined)
    throw new TrailsealError("USAGE", "give -o FILE.tsr (or -o - for stdout)");
  const tsa = flags.tsa ?? [];
  if (tsa.length === 0) throw new TrailsealError("USAGE", "give --tsa local or --tsa URL");
  if (flags.data !== undefined || flags.digest !== undefined || flags.json === true) {
    throw new TrailsealError("USAGE", "--data, --digest and --json go with --verify");
  }
  const policyOid = flags.policyOid === undefined ? null : checkPolicyOid(flags.policyOid);
  // A .tsr is evidence: an earlier token there is not replaced unless asked (checked before the
  // TSA is asked), and a stamp that fails leaves no file, not even a partial one.
  const force = { force: flags.force === true };
  const { stamper, anchors, imprint, facts } = await writeOutput(flags.output, io, force, (out) =>
    stampTo(out, file, tsa, flags, policyOid, io),
  );
  const where = flags.output === "-" ? "<stdout>" : flags.output;
  const summary = `stamped ${inputName(file)} (sha256 ${toHex(imprint)}) at ${facts.genTime.toISOString()} by ${facts.tsaName} (${stamper.kind}, serial ${facts.serial}, policy ${facts.policy}); wrote ${where}`;
  if (flags.output === "-") say(io, "notice", summary);
  else io.stdout.write(`${summary}\n`);
  if (anchors === null)
    say(io, "warning", "no --tsa-ca given: the TSA's chain was not checked against a trust anchor");
  return EXIT_OK;
}

/** Asks the TSA for a token over `file`, checks it, and writes the TimeStampResp to `out`. */
async function stampTo(
  out: OutputFile,
  file: string,
  tsa: readonly string[],
  flags: StampFlags,
  policyOid: string | null,
  io: Io,
): Promise<Tsa & { imprint: Uint8Array; facts: TokenFacts }> {
  const used = tsa.includes("local")
    ? await localTsa(tsa, flags, policyOid, io)
    : await remoteTsa(tsa, flags, policyOid, io);
  const { stamper, anchors, certificates } = used;
  const imprint = await hashFile(file, "sha256", io);
  const nonce = nonceFromRandom(new Uint8Array(randomBytes(8)));
  const token = await stamper.stamp(imprint, nonce);
  const facts = await checkToken(token, { imprint, nonce, policyOid, anchors, certificates });
  await out.write(grantedResponse(token));
  return { ...used, imprint, facts };
}

/**
 * What stamps, the anchors its tokens are checked against (null: none given), and the
 * --untrusted certificates that may supply a TSA certificate or intermediate a token lacks.
 */
interface Tsa {
  stamper: Stamper;
  anchors: Uint8Array[] | null;
  certificates: Uint8Array[];
}

/** `--tsa local`: the local authority's TSA, under its own policy, checked against its CA. */
async function localTsa(
  tsa: readonly string[],
  flags: StampFlags,
  policyOid: string | null,
  io: Io,
): Promise<Tsa> {
  if (tsa.length > 1) throw new TrailsealError("USAGE", "--tsa local cannot be combined with URLs");
  if (flags.untrusted !== undefined)
    throw new TrailsealError(
      "USAGE",
      "--untrusted applies to --verify and a remote TSA; the local TSA's tokens carry its chain",
    );
  if (flags.tsaTlsCa !== undefined)
    throw new TrailsealError(
      "USAGE",
      "--tsa-tls-ca applies to a remote https:// TSA, not --tsa local",
    );
  if (policyOid !== null) {
    // As in SPS: the local TSA has its own policy; a policy OID belongs to a remote TSA.
    throw new TrailsealError(
      "USAGE",
      "--policy-oid applies to a remote TSA; the local TSA stamps under its own policy",
    );
  }
  const authority = await loadAuthority(defaultHome(io.env, io.cwd, flags.home), {
    now: io.now(),
  });
  const stamper = localStamper(authority.tsa, { clock: io.now, accuracyMillis: 1000 });
  return { stamper, anchors: [authority.ca], certificates: [] };
}

/** `--tsa URL…`: the remote TSAs in order, within `--timeout`, checked against `--tsa-ca`. */
async function remoteTsa(
  tsa: readonly string[],
  flags: StampFlags,
  policyOid: string | null,
  io: Io,
): Promise<Tsa> {
  const timeout = Number(flags.timeout);
  if (!(timeout > 0))
    throw new TrailsealError(
      "USAGE",
      `--timeout must be a positive number of seconds, not ${flags.timeout}`,
    );
  const given = await loadCertificates(flags.tsaCa ?? [], io);
  const anchors = given.length === 0 ? null : given;
  const certificates = await loadCertificates(flags.untrusted ?? [], io);
  const tlsCa = await tlsTrust(flags.tsaTlsCa ?? [], tsa, io);
  const stamper = remoteStamper(tsa, {
    policyOid,
    timeoutMs: timeout * 1000,
    ...(anchors === null ? {} : { anchors }),
    certificates,
    ...(tlsCa.length === 0 ? {} : { tlsCa }),
  });
  return { stamper, anchors, certificates };
}

function factsJson(facts: TokenFacts): Record<string, unknown> {
  return {
    valid: true,
    genTime: facts.genTime.toISOString(),
    tsaName: facts.tsaName,
    policy: facts.policy,
    serial: facts.serial,
    nonce: facts.nonce === null ? null : facts.nonce.toString(16),
    imprintAlgorithm: facts.imprintAlgorithm,
    ...(facts.accuracy === undefined ? {} : { accuracy: facts.accuracy }),
    signer: facts.signer,
    chain: facts.chain.map((der) => createHash("sha256").update(der).digest("hex")),
  };
}

/** What the token must stamp: the data (hashed with the token's algorithm) or a given digest. */
type Stamped = { data: string } | { digest: Uint8Array };

function stampedOf(flags: StampFlags): Stamped {
  if (flags.data !== undefined && flags.digest !== undefined)
    throw new TrailsealError("USAGE", "give --data FILE or --digest HEX, not both");
  if (flags.data !== undefined) return { data: flags.data };
  if (flags.digest === undefined) {
    throw new TrailsealError(
      "USAGE",
      "--verify needs --data FILE (the data that was stamped) or --digest HEX (its digest)",
    );
  }
  // As openssl's -digest: hex digits only; a digest of the wrong length fails as a mismatch.
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(flags.digest))
    throw new TrailsealError(
      "USAGE",
      `--digest must be an even number of hex digits, not ${flags.digest}`,
    );
  return { digest: fromHex(flags.digest.toLowerCase()) };
}

/** The TSA anchors: --tsa-ca, else the local authority's CA (said on stderr). */
async function tsaAnchors(flags: StampFlags, io: Io): Promise<Uint8Array[]> {
  const anchors = await loadCertificates(flags.tsaCa ?? [], io);
  if (anchors.length > 0) return anchors;
  const home = defaultHome(io.env, io.cwd, flags.home);
  let ca: Uint8Array;
  try {
    ca = (await loadAuthority(home, { now: io.now() })).ca;
  } catch (e) {
    throw new TrailsealError("USAGE", "give --tsa-ca FILE: the trust anchor of the TSA", {
      cause: e,
      hint: `there is no local authority in ${home} to fall back on`,
    });
  }
  say(io, "notice", `no --tsa-ca given: trusting the local authority's CA (${home}/ca.crt)`);
  return [ca];
}

/** The token of a .tsr: a granted TimeStampResp's, or the bytes themselves (a bare token). */
function tokenOf(bytes: Uint8Array): Uint8Array {
  let response: ReturnType<typeof parseResponse>;
  try {
    response = parseResponse(bytes);
  } catch {
    return bytes; // not a TimeStampResp: take it as a bare token
  }
  if (response.token === undefined) {
    // The TSA's own words say why (openssl shows them too); the caller prefixes the file name.
    const text =
      response.statusText === undefined ? "" : `; status text '${printable(response.statusText)}'`;
    throw new TrailsealError(
      "TIMESTAMP_INVALID",
      `the response's status is ${response.status} and it carries no token (${response.failInfo === undefined ? "no failInfo" : `failInfo ${response.failInfo.join(",")}`}${text})`,
    );
  }
  return response.token;
}

function factsText(facts: TokenFacts, stamped: Stamped, imprint: Uint8Array): string {
  const what =
    "data" in stamped
      ? stamped.data
      : `the data of ${facts.imprintAlgorithm} digest ${toHex(imprint)}`;
  return [
    `TIMESTAMP valid: ${what} existed at ${facts.genTime.toISOString()}`,
    `  TSA       ${facts.tsaName}`,
    `  policy    ${facts.policy}`,
    `  serial    ${facts.serial}`,
    `  imprint   ${facts.imprintAlgorithm} ${toHex(imprint)}`,
    `  signer    ${facts.signer.subject} (sha256:${facts.signer.fingerprint})`,
    "",
  ].join("\n");
}

async function verify(
  tsrPath: string,
  extra: string | undefined,
  flags: StampFlags,
  io: Io,
): Promise<number> {
  if (extra !== undefined)
    throw new TrailsealError("USAGE", `unexpected argument ${extra}; the data goes with --data`);
  const stamped = stampedOf(flags);
  if (flags.output !== undefined || flags.tsa !== undefined || flags.tsaTlsCa !== undefined) {
    throw new TrailsealError(
      "USAGE",
      "-o, --tsa and --tsa-tls-ca go with stamping, not with --verify",
    );
  }
  const anchors = await tsaAnchors(flags, io);
  const untrusted = await loadCertificates(flags.untrusted ?? [], io);
  const bytes = await readInput(tsrPath, io);
  try {
    const token = tokenOf(bytes);
    const imprint =
      "data" in stamped
        ? await hashFile(stamped.data, tokenImprintHash(token), io)
        : stamped.digest;
    const facts = await verifyToken(token, {
      imprint,
      anchors,
      ...(untrusted.length === 0 ? {} : { certificates: untrusted }),
      ...(flags.policyOid === undefined ? {} : { policyOid: checkPolicyOid(flags.policyOid) }),
    });
    io.stdout.write(
      flags.json === true
        ? `${JSON.stringify(factsJson(facts), null, 2)}\n`
        : factsText(facts, stamped, imprint),
    );
    return EXIT_OK;
  } catch (e) {
    // Only a verdict (the token is invalid or untrusted) is named and given as JSON.
    if (!(e instanceof TrailsealError) || exitCodeFor(e) !== EXIT_FAILED) return reportError(io, e);
    // Name the .tsr in the verdict: "token imprint … does not match" alone does not say which.
    const named = e.amend({ message: `${tsrPath}: ${e.message}` });
    if (flags.json === true) {
      io.stdout.write(
        `${JSON.stringify({ valid: false, code: named.code, message: named.message }, null, 2)}\n`,
      );
    }
    return reportError(io, named);
  }
}
