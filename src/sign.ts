/**
 * Checkpoint signatures: detached CMS SignedData (RFC 5652 §5) with the CAdES-BES signed
 * attributes (RFC 5035 signingCertificateV2), made and checked with node:crypto. The profile is
 * written down in docs/SIGNATURES.md; `openssl cms -verify` accepts what signDetached makes.
 *
 * Verification returns the verified facts or throws (SIGNATURE_INVALID naming the failed check,
 * CHAIN_UNTRUSTED for the signer's chain); it never returns a boolean.
 */
import { TrailsealError } from "./errors.js";
import { equal } from "./bytes.js";
import { readCertificates } from "./pem.js";
import { publicKeyFingerprint, readPrivateKeys } from "./keys.js";
import { shownPkcs11Uri } from "./pkcs11/uri.js";
import { ChainValidator } from "./pkix/chain.js";
import { allowsSigning, certificate, type Certificate } from "./pkix/cert.js";
import { EKU, OID } from "./pkix/oid.js";
import { DerReader, encodeTime, nullOrAbsent } from "./pkix/der.js";
import {
  EC_HASH,
  signatureProfile,
  signingKeyFacts,
  spkiOf,
  type ExternalSigner,
  type HashName,
  type SignFunction,
  type SigningKey,
  type SigningKeyFacts,
} from "./pkix/algorithms.js";
import {
  addUnsignedAttribute as addUnsignedAttributeDer,
  decodeSignedData,
  signSignedData,
  verifySigner,
} from "./pkix/signed.js";

export { ChainValidator } from "./pkix/chain.js";
export type { ExternalSigner, SignFunction, SigningKey };

/**
 * A signer: certificate chain (leaf first, then intermediates; DER) and the leaf's private key,
 * in memory or on a token (an ExternalSigner such as src/pkcs11/ops.ts's TokenSigner).
 */
export interface SigningIdentity {
  chain: readonly Uint8Array[];
  key: SigningKey;
  /** RSA only: PKCS#1 v1.5 (default) or RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32). */
  scheme?: "pkcs1" | "pss";
}

/** The OID of id-aa-signatureTimeStampToken (CAdES-T), for addUnsignedAttribute. */
export const SIGNATURE_TIMESTAMP_TOKEN_OID = OID.signatureTimeStampToken;

const HASH_DISPLAY: Record<HashName, string> = {
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

// ---------------------------------------------------------------------------------------------
// Loading an identity

/**
 * Reads a signing identity: certificates (leaf first, then intermediates; any form src/pem.ts
 * reads: PEM, DER, PKCS#7, PKCS#12) and the leaf's private key (any form src/keys.ts reads;
 * `passphrase` opens an encrypted key or PKCS#12).
 * Warns when the leaf lacks the code-signing EKU (SPS asks for it) or, given `now`, is outside its
 * validity; throws KEY_INVALID naming both files when the key belongs to none of the certificates.
 *
 * @example
 *   const { identity, warnings } = await loadSigningIdentity(certPem, keyPem, {
 *     certSource: "signer.pem", keySource: "signer.key" });
 */
export async function loadSigningIdentity(
  certBytes: Uint8Array,
  keyBytes: Uint8Array,
  options: {
    certSource: string;
    keySource: string;
    passphrase?: string;
    now?: Date;
    scheme?: "pkcs1" | "pss";
  },
): Promise<{ identity: SigningIdentity; warnings: string[] }> {
  const passphrase = options.passphrase === undefined ? {} : { passphrase: options.passphrase };
  const certs = await readCertificates(certBytes, { source: options.certSource, ...passphrase });
  const keys = await readPrivateKeys(keyBytes, { source: options.keySource, ...passphrase });
  // A file may hold several keys (PKCS#12): take the one a certificate was issued for.
  const certSpkis = certs.map((c) => spkiOf(certificate(c).publicKey));
  const key = (keys.find((k) => certSpkis.some((s) => equal(s, spkiOf(k.key)))) ?? keys[0]!).key;
  return Promise.resolve(identityOf(certs, key, options));
}

/**
 * The certificates of a key on a token: those in `certBytes` (a file the caller read, named
 * `certSource`), or, given none, the certificate the token holds with the key's id. KEY_INVALID
 * naming the key (its URI without the query, where a PIN may be) when there is neither. Used for
 * signing identities and TSA identities alike.
 */
export async function tokenCertificates(
  signer: { readonly certificate: Uint8Array | null },
  certBytes: Uint8Array | null,
  options: { certSource: string; keySource: string },
): Promise<Uint8Array[]> {
  if (certBytes !== null) return readCertificates(certBytes, { source: options.certSource });
  if (signer.certificate !== null) return [signer.certificate];
  throw new TrailsealError(
    "KEY_INVALID",
    `${shownPkcs11Uri(options.keySource)} has no certificate with its id on the token; give its certificate as a file`,
  );
}

/**
 * A signing identity with its key on a token: `signer` (src/pkcs11/ops.ts tokenSigner) and its
 * certificates (leaf first, then intermediates) as `tokenCertificates` finds them. The same checks
 * and warnings as loadSigningIdentity; KEY_INVALID when the key is not the leaf's.
 *
 * @example
 *   const { key } = await openTokenKey(uri, { pin, env: process.env });
 *   const { identity } = await tokenSigningIdentity(tokenSigner(key), null, {
 *     certSource: "the token", keySource: uri });
 */
export async function tokenSigningIdentity(
  signer: ExternalSigner & { readonly certificate: Uint8Array | null },
  certBytes: Uint8Array | null,
  options: { certSource: string; keySource: string; now?: Date; scheme?: "pkcs1" | "pss" },
): Promise<{ identity: SigningIdentity; warnings: string[] }> {
  const certs = await tokenCertificates(signer, certBytes, options);
  return identityOf(certs, signer, { ...options, keySource: shownPkcs11Uri(options.keySource) });
}

/** Checks a signing key against its certificates and makes the identity (leaf first). */
function identityOf(
  certs: readonly Uint8Array[],
  key: SigningKey,
  options: { certSource: string; keySource: string; now?: Date; scheme?: "pkcs1" | "pss" },
): { identity: SigningIdentity; warnings: string[] } {
  const facts = signingKeyFacts(key);
  checkSigningKey(facts, options.keySource, options.scheme);
  const leafIndex = certs.findIndex(
    (c) => publicKeyFingerprint(certificate(c).publicKey) === facts.spkiFingerprint,
  );
  if (leafIndex < 0) {
    const leaf = certificate(certs[0]!);
    throw new TrailsealError(
      "KEY_INVALID",
      `the private key in ${options.keySource} does not match the certificate "${leaf.subject}" in ${options.certSource}` +
        (certs.length > 1
          ? ` (nor any of the other ${certs.length - 1} certificate(s) there)`
          : ""),
      { hint: "give the certificate issued for this key, or the key of this certificate" },
    );
  }
  // Leaf first, then the others in the order given.
  const chain = [certs[leafIndex]!, ...certs.filter((_, i) => i !== leafIndex)];
  const warnings = identityWarnings(chain, options.certSource, options.now);
  const identity: SigningIdentity = {
    chain,
    key,
    ...(options.scheme === undefined ? {} : { scheme: options.scheme }),
  };
  return { identity, warnings };
}

/** Refuses a key signatures cannot be made with: not RSA or ECDSA, an odd curve, RSA < 2048. */
function checkSigningKey(
  facts: SigningKeyFacts,
  keySource: string,
  scheme: "pkcs1" | "pss" | undefined,
): void {
  const kind = facts.type;
  if (kind !== "rsa" && kind !== "ec") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the key in ${keySource} is ${kind}; signing needs RSA or ECDSA`,
    );
  }
  if (kind === "ec" && EC_HASH[facts.curve ?? ""] === undefined) {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the key in ${keySource} is on curve ${facts.curve ?? "unknown"}; signing needs P-256, P-384 or P-521`,
    );
  }
  if (kind === "rsa" && facts.bits < 2048) {
    throw new TrailsealError(
      "KEY_TOO_SMALL",
      `the RSA key in ${keySource} has ${facts.bits} bits; signing needs 2048 or more`,
    );
  }
  if (scheme === "pss" && kind !== "rsa") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `RSASSA-PSS needs an RSA key; ${keySource} holds an EC key`,
    );
  }
}

/** What will make a signing identity's signatures fail or fall short of SPS, as warnings. */
function identityWarnings(
  chain: readonly Uint8Array[],
  certSource: string,
  now: Date | undefined,
): string[] {
  const leaf = certificate(chain[0]!);
  const warnings: string[] = [];
  if (!allowsSigning(leaf)) {
    warnings.push(
      `the signing certificate "${leaf.subject}" (${certSource}) has a keyUsage without digitalSignature; its signatures will not verify`,
    );
  }
  if (!leaf.extendedKeyUsages.includes(EKU.codeSigning)) {
    warnings.push(
      `the signing certificate "${leaf.subject}" (${certSource}) has no code-signing extended key usage, which SPS requires`,
    );
  }
  for (const der of chain) {
    const c = certificate(der);
    // Only the anchor's own signature does not count; which one that is, the verifier decides.
    if (c.weakSignatureHash !== null && !equal(c.subjectDer, c.issuerDer)) {
      warnings.push(
        `the certificate "${c.subject}" (${certSource}) is signed with ${c.weakSignatureHash}; verify refuses a chain through it`,
      );
    }
  }
  if (now !== undefined) {
    if (leaf.invalidTime !== null) {
      warnings.push(
        `the signing certificate "${leaf.subject}" has an invalid validity period (${leaf.invalidTime}); its signatures will not verify`,
      );
    } else if (now.getTime() > leaf.notAfter.getTime()) {
      warnings.push(
        `the signing certificate "${leaf.subject}" expired on ${leaf.notAfter.toISOString()}; its signatures will not verify`,
      );
    } else if (now.getTime() < leaf.notBefore.getTime()) {
      warnings.push(
        `the signing certificate "${leaf.subject}" is not valid before ${leaf.notBefore.toISOString()}`,
      );
    }
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Signing

/**
 * Signs `content` as a detached CMS SignedData (ContentInfo DER): SHA-256 (SHA-384/512 for ECDSA
 * P-384/P-521), signed attributes contentType id-data, signingTime, messageDigest and
 * signingCertificateV2; the identity's chain in the certificate set.
 *
 * @example
 *   const p7s = await signDetached(checkpointBytes, identity, new Date());
 */
export async function signDetached(
  content: Uint8Array,
  identity: SigningIdentity,
  signingTime: Date,
): Promise<Uint8Array> {
  if (Number.isNaN(signingTime.getTime()))
    throw new TypeError("signDetached: invalid signing time");
  const leafDer = identity.chain[0];
  if (leafDer === undefined)
    throw new TrailsealError("NO_CERTIFICATE", "the signing identity has no certificate");
  return signSignedData({
    leaf: certificate(leafDer),
    profile: signatureProfile(identity.key, identity.scheme),
    certificates: identity.chain,
    eContentType: OID.data,
    content,
    encapsulate: false,
    attributes: [{ oid: OID.signingTime, values: [encodeTime(signingTime)] }],
  });
}

/** The SignerInfo's signature value: what a CAdES-T signature timestamp stamps. */
export function signatureValue(signedData: Uint8Array): Uint8Array {
  const sd = decodeSignedData(signedData);
  return onlySigner(sd.signerInfos.length, sd.signerInfos[0]).signature;
}

/**
 * The signingTime a SignedData claims, without verifying anything (null when it has none or
 * cannot be read). For tools that must name the instant a signature speaks for, e.g. openssl's
 * `-attime` in `trailseal export`; `verifyDetached` is what checks it.
 */
export function claimedSigningTime(signedData: Uint8Array): Date | null {
  try {
    const sd = decodeSignedData(signedData);
    const si = onlySigner(sd.signerInfos.length, sd.signerInfos[0]);
    const st = si.signedAttrs?.find((a) => a.oid === OID.signingTime)?.values[0];
    if (st === undefined) return null;
    const r: DerReader = new DerReader(st, "signingTime attribute", "SIGNATURE_INVALID");
    return r.time(r.whole(), "signingTime");
  } catch {
    return null;
  }
}

/**
 * Adds an unsigned attribute to the only SignerInfo (e.g. SIGNATURE_TIMESTAMP_TOKEN_OID with a
 * TimeStampToken's DER). The signed bytes are unchanged, so the signature stays valid.
 */
export function addUnsignedAttribute(
  signedData: Uint8Array,
  oid: string,
  valueDer: Uint8Array,
): Uint8Array {
  return addUnsignedAttributeDer(signedData, oid, valueDer);
}

function onlySigner<T>(count: number, first: T | undefined): T {
  if (count !== 1 || first === undefined) {
    throw new TrailsealError("SIGNATURE_INVALID", `expected exactly one signer, found ${count}`);
  }
  return first;
}

// ---------------------------------------------------------------------------------------------
// Verification

/** What a valid signature proves. */
export interface SignatureFacts {
  signer: { subject: string; issuer: string; serial: string; fingerprint: string };
  /** The signed signingTime attribute, or null when absent. */
  signingTime: Date | null;
  /** Whether the signer certificate carries the code-signing EKU (SPS requires it). */
  codeSigning: boolean;
  /** The validated path: signer first, trust anchor last. DER. */
  chain: Uint8Array[];
  signatureValue: Uint8Array;
  digestAlgorithm: "SHA-256" | string;
  unsignedAttributes: { oid: string; values: Uint8Array[] }[];
}

export interface VerifyDetachedOptions {
  /** Trust anchors (DER). Certificates inside the signature are never trusted by themselves. */
  anchors: readonly Uint8Array[];
  /** Shares chain validations between signatures (one per signer and validity window). */
  validator?: ChainValidator;
  /** Validate the chain at this instant (e.g. a verified timestamp's genTime) instead of signingTime. */
  at?: Date;
  /** Certificates from elsewhere to find the signer and its intermediates among (never trusted). */
  certificates?: readonly Uint8Array[];
}

function invalid(check: string): TrailsealError {
  return new TrailsealError("SIGNATURE_INVALID", `signature invalid: ${check}`);
}

const quoted = (c: Certificate): string => `"${c.subject}"`;

/**
 * Verifies a detached SignedData over `content` and the signer's chain to one of `anchors` at
 * the signing time (or `options.at`). Returns the facts or throws SIGNATURE_INVALID (the message
 * names the failed check) or CHAIN_UNTRUSTED.
 *
 * The SignerInfo is checked by pkix's one signer check (accepted algorithms, messageDigest, key
 * size, ESS binding); the checkpoint profile adds: id-data detached, signingCertificateV2,
 * versions and digestAlgorithms as RFC 5652 fixes them, a critical EKU that allows code signing.
 *
 * @example
 *   const facts = await verifyDetached(p7s, content, { anchors: [rootDer], validator });
 */
export async function verifyDetached(
  signedData: Uint8Array,
  content: Uint8Array,
  options: VerifyDetachedOptions,
): Promise<SignatureFacts> {
  const sd = decodeSignedData(signedData);
  if (sd.eContentType !== OID.data)
    throw invalid(`the encapsulated content type ${sd.eContentType} is not id-data`);
  if (sd.eContent !== null) throw invalid("the signature is not detached (it carries its content)");
  const si = onlySigner(sd.signerInfos.length, sd.signerInfos[0]);
  // Fields outside the signed attributes are not covered by the signature: hold them to the one
  // value RFC 5652 allows, so that no byte of a signature can change without it failing.
  const sidVersion = si.sid.kind === "issuerAndSerialNumber" ? 1 : 3;
  if (si.version !== sidVersion)
    throw invalid(`SignerInfo version ${si.version} does not fit its sid (RFC 5652 §5.3)`);
  if (sd.version !== sidVersion)
    throw invalid(`SignedData version ${sd.version} should be ${sidVersion} (RFC 5652 §5.1)`);
  if (sd.digestAlgorithms.length !== 1 || sd.digestAlgorithms[0] !== si.digestAlgorithm.oid) {
    throw invalid("digestAlgorithms does not list exactly the signer's digest algorithm");
  }
  if (!nullOrAbsent(si.digestAlgorithm.parameters)) {
    throw invalid("digest algorithm parameters must be absent or NULL");
  }
  const verified = verifySigner(sd, {
    invalid,
    name: quoted,
    content,
    code: "SIGNATURE_INVALID",
    ...(options.certificates === undefined ? {} : { certificates: options.certificates }),
  });
  const { signer, signingTime } = verified;
  // A missing code-signing EKU is reported, not enforced (SPS asks for it); but a critical EKU
  // that excludes it restricts the key to other purposes (RFC 5280 §4.2.1.12; a TSA's is critical
  // by RFC 3161 §2.3 so that its key signs nothing but tokens).
  const ekus = signer.extendedKeyUsages;
  if (signer.ekuCritical === true && !ekus.includes(EKU.codeSigning) && !ekus.includes(EKU.any)) {
    throw invalid(
      `the critical extendedKeyUsage of "${signer.subject}" (${ekus.join(", ")}) does not allow code signing`,
    );
  }
  const at = options.at ?? signingTime;
  if (at === null) throw invalid("no signingTime attribute and no validation time given");
  const validator = options.validator ?? new ChainValidator();
  const { chain } = await validator.validate(signer.der, verified.others, options.anchors, at);
  return {
    signer: {
      subject: signer.subject,
      issuer: signer.issuer,
      serial: signer.serial,
      fingerprint: signer.fingerprint,
    },
    signingTime,
    codeSigning: ekus.includes(EKU.codeSigning),
    chain,
    signatureValue: si.signature,
    digestAlgorithm: HASH_DISPLAY[verified.hash],
    unsignedAttributes: si.unsignedAttrs.map((a) => ({ oid: a.oid, values: [...a.values] })),
  };
}

/** Signs checkpoint contents (CMS SignedData, detached): what a trail writer is given. */
export interface CheckpointSigner {
  sign(content: Uint8Array, signingTime: Date): Promise<Uint8Array>;
  /** The signature value inside a SignedData (what a CAdES-T timestamp stamps). */
  signatureValue(signedData: Uint8Array): Uint8Array;
}

/**
 * A trail writer's checkpoint signer over a signing identity (detached SignedData; the signature
 * value is what a CAdES-T timestamp stamps).
 *
 * @example
 *   const writer = await TrailWriter.create({ ...options, signer: checkpointSigner(identity) });
 */
export function checkpointSigner(identity: SigningIdentity): CheckpointSigner {
  return {
    sign: (content, at) => signDetached(content, identity, at),
    signatureValue,
  };
}
