/**
 * Full verification of RFC 3161 time-stamp tokens. pkijs checks little more than the signature;
 * this checks everything a relying party needs (RFC 3161 §2.3, §2.4.2; RFC 5652 §5.4, §5.6;
 * RFC 2634 §5.4 and RFC 5035 for ESS; RFC 5816) and returns the verified facts, or throws.
 */
import { equal, toHex } from "../bytes.js";
import { TrailsealError } from "../errors.js";
import { validateChain, type ChainValidator } from "../pkix/chain.js";
import { decodeSignedData, verifySigner, type SignedDataParts } from "../pkix/signed.js";
import { decodeTstInfo, HASHES, OID, type TstInfo } from "../pkix/tsp.js";
import { EKU } from "../pkix/oid.js";
import { nameToString } from "../pkix/name.js";
import { shownTime, validAt, type Certificate } from "../pkix/cert.js";

export type { ChainValidator };

/** What a verified token states. */
export interface TokenFacts {
  genTime: Date;
  /** The token serial number, lower-case hex. */
  serial: string;
  policy: string;
  /** The TSA name from the token (directoryName), else the signer certificate subject. */
  tsaName: string;
  nonce: bigint | null;
  imprintAlgorithm: "SHA-256" | "SHA-384" | "SHA-512";
  accuracy?: { seconds: number; millis: number; micros: number };
  signer: { subject: string; fingerprint: string };
  /** The validated chain, leaf (TSA) first, anchor last; only the leaf when no anchors were given. */
  chain: Uint8Array[];
}

export interface VerifyTokenOptions {
  /** The expected imprint (the digest that was stamped). */
  imprint: Uint8Array;
  /** The nonce sent in the request; omitted or null skips the check. */
  nonce?: bigint | null;
  /** The policy asked for; omitted or null accepts any policy. */
  policyOid?: string | null;
  /** Trust anchors (DER): the TSA chain must reach one of them, valid at genTime. */
  anchors: readonly Uint8Array[];
  /** Extra certificates for path building (e.g. when the token carries none). */
  certificates?: readonly Uint8Array[];
  validator?: ChainValidator;
}

const IMPRINT_ALGORITHMS: Readonly<Record<string, TokenFacts["imprintAlgorithm"]>> = {
  [OID.sha256]: "SHA-256",
  [OID.sha384]: "SHA-384",
  [OID.sha512]: "SHA-512",
};

function invalid(message: string): TrailsealError {
  return new TrailsealError("TIMESTAMP_INVALID", message);
}

/** Reads a token's SignedData and TSTInfo (BER taken: some TSAs send it). */
function readToken(token: Uint8Array): { sd: SignedDataParts; tst: TstInfo } {
  const sd = decodeSignedData(token, {
    what: "time-stamp token",
    code: "TIMESTAMP_INVALID",
    mode: "ber",
  });
  if (sd.eContentType !== OID.tstInfo) {
    throw invalid(`token content type is ${sd.eContentType}, not id-ct-TSTInfo`);
  }
  if (sd.eContent === null)
    throw invalid("time-stamp token is malformed: eContent missing (detached)");
  return { sd, tst: decodeTstInfo(sd.eContent) };
}

/**
 * Verifies a TimeStampToken fully against `options` and returns what it states.
 * Throws TIMESTAMP_INVALID (the message names the failed check) or CHAIN_UNTRUSTED.
 *
 * @example
 *   const facts = await verifyToken(token, { imprint: sha256(data), anchors: [caDer] });
 *   console.log(facts.genTime, facts.tsaName);
 */
export async function verifyToken(
  token: Uint8Array,
  options: VerifyTokenOptions,
): Promise<TokenFacts> {
  return checkToken(token, options);
}

/**
 * The checks of `verifyToken`; with `anchors: null` the chain step is skipped (a remote stamper
 * without configured anchors still checks everything else before it keeps a token).
 */
export async function checkToken(
  token: Uint8Array,
  options: Omit<VerifyTokenOptions, "anchors"> & { anchors: readonly Uint8Array[] | null },
): Promise<TokenFacts> {
  const { sd, tst } = readToken(token);
  if (sd.signerInfos.length !== 1) {
    throw invalid(
      `token has ${sd.signerInfos.length} signers; RFC 3161 §2.4.2 requires exactly one`,
    );
  }
  const imprintAlgorithm = checkTstInfo(tst, options);
  // The signer: pkix's one SignedData check (algorithms, messageDigest, key size, ESS binding).
  const { signer, others } = verifySigner(sd, {
    invalid,
    name: (c) => c.subject,
    content: sd.eContent!,
    code: "TIMESTAMP_INVALID",
    essV1: true,
    ...(options.certificates === undefined ? {} : { certificates: options.certificates }),
  });
  checkTsaCertificate(signer, tst);

  let chain: Uint8Array[] = [signer.der];
  if (options.anchors !== null) {
    const at = tst.genTime;
    const result =
      options.validator !== undefined
        ? await options.validator.validate(signer.der, others, options.anchors, at, TSA_ANCHOR)
        : await validateChain(signer.der, others, options.anchors, at, TSA_ANCHOR);
    chain = result.chain;
  }

  return {
    genTime: tst.genTime,
    serial: tst.serial.toString(16),
    policy: tst.policy,
    // A directoryName is shown as the certificate it must be; other GeneralNames as they are.
    tsaName: tst.tsaNameDer !== null || tst.tsaName === null ? signer.subject : tst.tsaName,
    nonce: tst.nonce,
    imprintAlgorithm,
    ...(tst.accuracy === null ? {} : { accuracy: tst.accuracy }),
    signer: { subject: signer.subject, fingerprint: signer.fingerprint },
    chain,
  };
}

const TSA_ANCHOR = "tsa-trust-anchor" as const;

/** The TSTInfo against the request: version, imprint (algorithm first), nonce and policy. */
function checkTstInfo(
  tst: TstInfo,
  options: Omit<VerifyTokenOptions, "anchors">,
): TokenFacts["imprintAlgorithm"] {
  if (tst.version !== 1) throw invalid(`TSTInfo version ${tst.version} is not 1`);
  // The algorithm first, so a SHA-1 token is named as such rather than as a mismatch.
  const imprintAlgorithm = IMPRINT_ALGORITHMS[tst.hashOid];
  if (imprintAlgorithm === undefined) {
    const name = HASHES[tst.hashOid]?.name;
    throw invalid(
      name === undefined
        ? `token imprint uses an unknown hash algorithm ${tst.hashOid}`
        : `token imprint uses ${name.toUpperCase()}, which is refused (SHA-256 or stronger required)`,
    );
  }
  if (tst.hashParamsOdd)
    throw invalid("token imprint hash algorithm has parameters other than NULL");
  if (!equal(tst.digest, options.imprint)) {
    throw invalid(
      `token imprint ${toHex(tst.digest)} does not match the data (${toHex(options.imprint)})`,
    );
  }
  if (options.nonce !== undefined && options.nonce !== null && tst.nonce !== options.nonce) {
    throw invalid(
      tst.nonce === null
        ? `token has no nonce; the request sent ${options.nonce.toString(16)}`
        : `token nonce ${tst.nonce.toString(16)} does not match the request nonce ${options.nonce.toString(16)}`,
    );
  }
  if (
    options.policyOid !== undefined &&
    options.policyOid !== null &&
    tst.policy !== options.policyOid
  ) {
    throw invalid(`token policy ${tst.policy} is not the requested policy ${options.policyOid}`);
  }
  return imprintAlgorithm;
}

/** RFC 3161 §2.3, §2.4.2: what only a TSA certificate must be. */
function checkTsaCertificate(signer: Certificate, tst: TstInfo): void {
  // The TSA certificate has exactly one EKU, timeStamping, marked critical.
  const ekus = signer.extendedKeyUsages;
  if (!ekus.includes(EKU.timeStamping)) {
    throw invalid(`TSA certificate ${signer.subject} lacks the timeStamping extended key usage`);
  }
  if (signer.ekuCritical !== true) {
    throw invalid(
      `TSA certificate ${signer.subject} has the timeStamping extended key usage, but not critical (RFC 3161 §2.3)`,
    );
  }
  if (ekus.length !== 1) {
    throw invalid(
      `TSA certificate ${signer.subject} has extended key usages besides timeStamping (RFC 3161 §2.3)`,
    );
  }
  // The tsa field, when present, MUST name the certificate that verifies the token; otherwise
  // the verdict would show a name the TSA has no certificate for.
  if (
    tst.tsaNameDer !== null &&
    !equal(tst.tsaNameDer, signer.subjectDer) &&
    tst.tsaName !== nameToString(signer.subjectDer)
  ) {
    throw invalid(
      `token names its TSA ${tst.tsaName ?? "?"}, but it is signed by ${signer.subject} (RFC 3161 §2.4.2)`,
    );
  }
  if (!validAt(signer, tst.genTime)) {
    throw invalid(
      `TSA certificate ${signer.subject} is not valid at genTime ${tst.genTime.toISOString()} (valid ${shownTime(signer.notBefore)} to ${shownTime(signer.notAfter)})`,
    );
  }
}

/** The genTime a token claims, without verifying anything (null when it cannot be read). */
export function tokenGenTime(token: Uint8Array): Date | null {
  try {
    return readToken(token).tst.genTime;
  } catch {
    return null;
  }
}

/**
 * The node hash name of a token's imprint algorithm ("sha256", "sha384", "sha512"), so a caller
 * can hash the data to compare; a refused or unknown algorithm yields "sha256" and the
 * verification then names the real problem.
 */
export function tokenImprintHash(token: Uint8Array): string {
  try {
    const oid = readToken(token).tst.hashOid;
    return IMPRINT_ALGORITHMS[oid] === undefined ? "sha256" : (HASHES[oid]?.name ?? "sha256");
  } catch {
    return "sha256";
  }
}
