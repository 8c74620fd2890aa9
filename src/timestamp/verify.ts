/**
 * Full verification of RFC 3161 time-stamp tokens. pkijs checks little more than the signature;
 * this checks everything a relying party needs (RFC 3161 §2.3, §2.4.2; RFC 5652 §5.4, §5.6;
 * RFC 2634 §5.4 and RFC 5035 for ESS; RFC 5816) and returns the verified facts, or throws.
 */
import { createHash, verify as nodeVerify } from "node:crypto";
import { equal, toHex } from "../bytes.js";
import { TrailsealError } from "../errors.js";
import { validateChain, type ChainValidator } from "../pkix/chain.js";
import {
  certificateFacts,
  decodeTstInfo,
  HASH_NAMES,
  OID,
  parseToken,
  SIGNATURE_ALGORITHMS,
  type CertificateFacts,
} from "../pkix/tsp.js";

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

/** Hashes too weak to bind anything: refused in imprints, message digests and signatures. */
const WEAK_HASHES: ReadonlySet<string> = new Set(["sha1", "md5"]);

function invalid(message: string, hint?: string): TrailsealError {
  return new TrailsealError(
    "TIMESTAMP_INVALID",
    message,
    hint === undefined ? undefined : { hint },
  );
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
  const parsed = parseToken(token);
  if (parsed.eContentType !== OID.tstInfo) {
    throw invalid(`token content type is ${parsed.eContentType}, not id-ct-TSTInfo`);
  }
  if (parsed.signers.length !== 1) {
    throw invalid(
      `token has ${parsed.signers.length} signers; RFC 3161 §2.4.2 requires exactly one`,
    );
  }
  const signerInfo = parsed.signers[0]!;
  const tst = decodeTstInfo(parsed.tstInfoDer);
  if (tst.version !== 1) throw invalid(`TSTInfo version ${tst.version} is not 1`);

  // The imprint: algorithm first, so a SHA-1 token is named as such rather than as a mismatch.
  const imprintAlgorithm = IMPRINT_ALGORITHMS[tst.hashOid];
  if (imprintAlgorithm === undefined) {
    const name = HASH_NAMES[tst.hashOid];
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

  // The signer certificate, found by its sid among the token's and the caller's certificates.
  const candidates = [...parsed.certificates, ...(options.certificates ?? [])].map((der, i) => {
    try {
      return certificateFacts(der, "token certificate");
    } catch (e) {
      throw new TrailsealError(
        "TIMESTAMP_INVALID",
        `certificate ${i + 1} of the token is malformed`,
        { cause: e },
      );
    }
  });
  const sid = signerInfo.sid;
  const signer = candidates.find((c) =>
    "keyId" in sid
      ? subjectKeyIdMatches(c, sid.keyId)
      : c.serial === sid.serial && equal(c.issuerDer, sid.issuerDer),
  );
  if (signer === undefined) {
    throw invalid(
      "the token's signer certificate is neither in the token nor given",
      "ask the TSA with certReq, or pass its certificate",
    );
  }

  // Signed attributes (RFC 5652 §5.3, §5.4): contentType and messageDigest, exactly one value each.
  const signed = signerInfo.signedAttrsForSignature;
  if (signed === null) throw invalid("token signerInfo has no signed attributes");
  if (signerInfo.contentTypes.length !== 1 || signerInfo.contentTypes[0] !== OID.tstInfo) {
    throw invalid("token contentType attribute is missing or not id-ct-TSTInfo");
  }
  const digestName = HASH_NAMES[signerInfo.digestOid];
  if (digestName === undefined || WEAK_HASHES.has(digestName)) {
    throw invalid(`token digest algorithm ${digestName ?? signerInfo.digestOid} is refused`);
  }
  const messageDigest = signerInfo.messageDigests[0];
  if (signerInfo.messageDigests.length !== 1 || messageDigest === undefined) {
    throw invalid("token messageDigest attribute is missing or repeated");
  }
  if (
    !equal(messageDigest, new Uint8Array(createHash(digestName).update(parsed.tstInfoDer).digest()))
  ) {
    throw invalid("token messageDigest does not match the TSTInfo (content altered)");
  }

  // The signature over the signed attributes.
  const algorithm = SIGNATURE_ALGORITHMS[signerInfo.signatureOid];
  if (algorithm === undefined) {
    throw invalid(
      `token signature algorithm ${signerInfo.signatureOid} is not supported (RSA PKCS#1 v1.5 or ECDSA)`,
    );
  }
  const signatureHash = algorithm.hash ?? digestName;
  if (WEAK_HASHES.has(signatureHash))
    throw invalid(`token signature uses ${signatureHash}, which is refused`);
  // A TSA key this small can be factored, and tokens for any time forged with it.
  const bits = signer.publicKey.asymmetricKeyDetails?.modulusLength;
  if (signer.publicKey.asymmetricKeyType === "rsa" && (bits ?? 0) < 2048) {
    throw invalid(`${signer.subject} has a ${bits ?? 0}-bit RSA key; 2048 bits or more required`);
  }
  if (signer.publicKey.asymmetricKeyType !== algorithm.keyType) {
    throw invalid(
      `token signature algorithm does not fit the ${signer.publicKey.asymmetricKeyType ?? "unknown"} key of ${signer.subject}`,
    );
  }
  let signatureOk: boolean;
  try {
    signatureOk = nodeVerify(signatureHash, signed, signer.publicKey, signerInfo.signature);
  } catch {
    signatureOk = false;
  }
  if (!signatureOk)
    throw invalid(`token signature does not verify with the key of ${signer.subject}`);

  // ESS signingCertificate(V2) binds the signer certificate (RFC 3161 §2.4.2, RFC 5816 §2.2.1).
  const essFirst = signerInfo.essCertIds[0];
  if (essFirst === undefined) {
    throw invalid(
      "token lacks the ESS signingCertificate(V2) attribute that binds the TSA certificate",
    );
  }
  const essHash = HASH_NAMES[essFirst.hashOid];
  if (essHash === undefined)
    throw invalid(`ESS certificate hash algorithm ${essFirst.hashOid} is unknown`);
  if (!equal(essFirst.certHash, new Uint8Array(createHash(essHash).update(signer.der).digest()))) {
    throw invalid(`ESS signingCertificate does not bind the signer certificate ${signer.subject}`);
  }
  if (
    essFirst.issuerSerial !== null &&
    (essFirst.issuerSerial.serial !== signer.serial ||
      (essFirst.issuerSerial.issuerDer !== null &&
        !equal(essFirst.issuerSerial.issuerDer, signer.issuerDer)))
  ) {
    throw invalid(
      `ESS signingCertificate issuerSerial does not name the signer certificate ${signer.subject}`,
    );
  }

  // RFC 3161 §2.3: the TSA certificate has exactly one EKU, timeStamping, marked critical.
  if (signer.eku === null || !signer.eku.oids.includes(OID.ekuTimeStamping)) {
    throw invalid(`TSA certificate ${signer.subject} lacks the timeStamping extended key usage`);
  }
  if (!signer.eku.critical) {
    throw invalid(
      `TSA certificate ${signer.subject} has the timeStamping extended key usage, but not critical (RFC 3161 §2.3)`,
    );
  }
  if (signer.eku.oids.length !== 1) {
    throw invalid(
      `TSA certificate ${signer.subject} has extended key usages besides timeStamping (RFC 3161 §2.3)`,
    );
  }
  // RFC 3161 §2.4.2: the tsa field, when present, MUST name the certificate that verifies the
  // token; otherwise the verdict would show a name the TSA has no certificate for.
  if (
    tst.tsaNameDer !== null &&
    !equal(tst.tsaNameDer, signer.subjectDer) &&
    tst.tsaName !== signer.subject
  ) {
    throw invalid(
      `token names its TSA ${tst.tsaName ?? "?"}, but it is signed by ${signer.subject} (RFC 3161 §2.4.2)`,
    );
  }
  if (tst.genTime < signer.notBefore || tst.genTime > signer.notAfter) {
    throw invalid(
      `TSA certificate ${signer.subject} is not valid at genTime ${tst.genTime.toISOString()} (valid ${signer.notBefore.toISOString()} to ${signer.notAfter.toISOString()})`,
    );
  }

  let chain: Uint8Array[] = [signer.der];
  if (options.anchors !== null) {
    const others = candidates.filter((c) => c !== signer).map((c) => c.der);
    const result =
      options.validator !== undefined
        ? await options.validator.validate(signer.der, others, options.anchors, tst.genTime)
        : await validateChain(signer.der, others, options.anchors, tst.genTime);
    chain = result.chain;
  }

  return {
    genTime: tst.genTime,
    serial: tst.serial.toString(16),
    policy: tst.policy,
    tsaName: tst.tsaName ?? signer.subject,
    nonce: tst.nonce,
    imprintAlgorithm,
    ...(tst.accuracy === null ? {} : { accuracy: tst.accuracy }),
    signer: { subject: signer.subject, fingerprint: signer.fingerprint },
    chain,
  };
}

function subjectKeyIdMatches(cert: CertificateFacts, keyId: Uint8Array): boolean {
  // RFC 5652 §5.3 lets a signer be named by the subjectKeyIdentifier of its certificate.
  return cert.subjectKeyId !== null && equal(cert.subjectKeyId, keyId);
}

/**
 * The node hash name of a token's imprint algorithm ("sha256", "sha384", "sha512"), so a caller
 * can hash the data to compare; a refused or unknown algorithm yields "sha256" and the
 * verification then names the real problem.
 */
export function tokenImprintHash(token: Uint8Array): string {
  try {
    const oid = decodeTstInfo(parseToken(token).tstInfoDer).hashOid;
    return IMPRINT_ALGORITHMS[oid] === undefined ? "sha256" : (HASH_NAMES[oid] ?? "sha256");
  } catch {
    return "sha256";
  }
}
