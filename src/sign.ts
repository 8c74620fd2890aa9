/**
 * Checkpoint signatures: detached CMS SignedData (RFC 5652 §5) with the CAdES-BES signed
 * attributes (RFC 5035 signingCertificateV2), made and checked with node:crypto. The profile is
 * written down in docs/SIGNATURES.md; `openssl cms -verify` accepts what signDetached makes.
 *
 * Verification returns the verified facts or throws (SIGNATURE_INVALID naming the failed check,
 * CHAIN_UNTRUSTED for the signer's chain); it never returns a boolean.
 */
import { createHash, createPublicKey, sign, verify, constants, type KeyObject } from "node:crypto";
import { TrailsealError } from "./errors.js";
import { equal } from "./bytes.js";
import { readCertificates } from "./pem.js";
import { readPrivateKeys } from "./keys.js";
import {
  ChainValidator,
  EKU_CODE_SIGNING,
  certificateInfo,
  type CertificateInfo,
} from "./pkix/chain.js";
import {
  DER_NULL,
  OID,
  addUnsignedAttribute as addUnsignedAttributeDer,
  decodeOctetString,
  decodeOid,
  decodePssParameters,
  decodeSignedData,
  decodeSigningCertificateV2,
  decodeTime,
  encodeOctetString,
  encodeOid,
  encodePssParameters,
  encodeSignedAttributes,
  encodeSignedData,
  encodeSigningCertificateV2,
  encodeTime,
  type Attribute,
} from "./pkix/signed.js";

export { ChainValidator } from "./pkix/chain.js";

/** A signer: certificate chain (leaf first, then intermediates; DER) and the leaf's private key. */
export interface SigningIdentity {
  chain: readonly Uint8Array[];
  key: KeyObject;
  /** RSA only: PKCS#1 v1.5 (default) or RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32). */
  scheme?: "pkcs1" | "pss";
}

/** The OID of id-aa-signatureTimeStampToken (CAdES-T), for addUnsignedAttribute. */
export const SIGNATURE_TIMESTAMP_TOKEN_OID = OID.signatureTimeStampToken;

type HashName = "sha256" | "sha384" | "sha512";
const HASH_OID: Record<HashName, string> = {
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};
const HASH_BY_OID = new Map<string, HashName>(
  Object.entries(HASH_OID).map(([k, v]) => [v, k as HashName]),
);
const HASH_DISPLAY: Record<HashName, string> = {
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};
/** ECDSA hashes by curve (RFC 5753 §7.1: match the hash to the curve size). */
const EC_HASH: Record<string, HashName> = {
  prime256v1: "sha256",
  secp384r1: "sha384",
  secp521r1: "sha512",
};
const ECDSA_OID: Record<HashName, string> = {
  sha256: OID.ecdsaWithSha256,
  sha384: OID.ecdsaWithSha384,
  sha512: OID.ecdsaWithSha512,
};
const RSA_PKCS1_OIDS = new Map<string, HashName | null>([
  [OID.rsaEncryption, null],
  [OID.sha256WithRSAEncryption, "sha256"],
  [OID.sha384WithRSAEncryption, "sha384"],
  [OID.sha512WithRSAEncryption, "sha512"],
]);
const PSS_SALT = 32;
/** anyExtendedKeyUsage (RFC 5280 §4.2.1.12). */
const EKU_ANY = "2.5.29.37.0";

function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(data).digest());
}

function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}

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
  const certSpkis = certs.map((c) => spkiOf(certificateInfo(c).publicKey));
  const key = (keys.find((k) => certSpkis.some((s) => equal(s, spkiOf(k.key)))) ?? keys[0]!).key;
  const kind = key.asymmetricKeyType;
  if (kind !== "rsa" && kind !== "ec") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the key in ${options.keySource} is ${kind ?? "unknown"}; signing needs RSA or ECDSA`,
    );
  }
  if (kind === "ec" && EC_HASH[key.asymmetricKeyDetails?.namedCurve ?? ""] === undefined) {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the key in ${options.keySource} is on curve ${key.asymmetricKeyDetails?.namedCurve ?? "unknown"}; signing needs P-256, P-384 or P-521`,
    );
  }
  if (kind === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new TrailsealError(
      "KEY_TOO_SMALL",
      `the RSA key in ${options.keySource} has ${key.asymmetricKeyDetails?.modulusLength ?? 0} bits; signing needs 2048 or more`,
    );
  }
  if (options.scheme === "pss" && kind !== "rsa") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `RSASSA-PSS needs an RSA key; ${options.keySource} holds an EC key`,
    );
  }
  const spki = spkiOf(key);
  const leafIndex = certSpkis.findIndex((s) => equal(s, spki));
  if (leafIndex < 0) {
    const leaf = certificateInfo(certs[0]!);
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
  const leaf = certificateInfo(chain[0]!);
  const warnings: string[] = [];
  if (!signsData(leaf)) {
    warnings.push(
      `the signing certificate "${leaf.subject}" (${options.certSource}) has a keyUsage without digitalSignature; its signatures will not verify`,
    );
  }
  if (!leaf.extendedKeyUsages.includes(EKU_CODE_SIGNING)) {
    warnings.push(
      `the signing certificate "${leaf.subject}" (${options.certSource}) has no code-signing extended key usage, which SPS requires`,
    );
  }
  for (const der of chain) {
    const c = certificateInfo(der);
    // Only the anchor's own signature does not count; which one that is, the verifier decides.
    if (c.weakSignatureHash !== null && !equal(c.subjectDer, c.issuerDer)) {
      warnings.push(
        `the certificate "${c.subject}" (${options.certSource}) is signed with ${c.weakSignatureHash}; verify refuses a chain through it`,
      );
    }
  }
  if (options.now !== undefined) {
    if (options.now.getTime() > leaf.notAfter.getTime()) {
      warnings.push(
        `the signing certificate "${leaf.subject}" expired on ${leaf.notAfter.toISOString()}; its signatures will not verify`,
      );
    } else if (options.now.getTime() < leaf.notBefore.getTime()) {
      warnings.push(
        `the signing certificate "${leaf.subject}" is not valid before ${leaf.notBefore.toISOString()}`,
      );
    }
  }
  const identity: SigningIdentity = {
    chain,
    key,
    ...(options.scheme === undefined ? {} : { scheme: options.scheme }),
  };
  return Promise.resolve({ identity, warnings });
}

// ---------------------------------------------------------------------------------------------
// Signing

interface SignatureProfile {
  hash: HashName;
  algorithm: string;
  parameters?: Uint8Array;
  sign: (data: Uint8Array) => Uint8Array;
}

function profileFor(identity: SigningIdentity): SignatureProfile {
  const key = identity.key;
  if (key.type !== "private")
    throw new TrailsealError("KEY_INVALID", "the signing identity needs a private key");
  if (key.asymmetricKeyType === "rsa") {
    if (identity.scheme === "pss") {
      return {
        hash: "sha256",
        algorithm: OID.rsassaPss,
        parameters: encodePssParameters(OID.sha256, PSS_SALT),
        sign: (data) =>
          new Uint8Array(
            sign("sha256", data, {
              key,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: PSS_SALT,
            }),
          ),
      };
    }
    return {
      hash: "sha256",
      algorithm: OID.sha256WithRSAEncryption,
      parameters: DER_NULL,
      sign: (data) =>
        new Uint8Array(sign("sha256", data, { key, padding: constants.RSA_PKCS1_PADDING })),
    };
  }
  if (key.asymmetricKeyType === "ec") {
    if (identity.scheme === "pss")
      throw new TrailsealError("KEY_UNSUPPORTED", "RSASSA-PSS needs an RSA key");
    const curve = key.asymmetricKeyDetails?.namedCurve ?? "";
    const hash = EC_HASH[curve];
    if (hash === undefined)
      throw new TrailsealError("KEY_UNSUPPORTED", `cannot sign with an EC key on curve ${curve}`);
    return {
      hash,
      algorithm: ECDSA_OID[hash],
      sign: (data) => new Uint8Array(sign(hash, data, { key, dsaEncoding: "der" })),
    };
  }
  throw new TrailsealError(
    "KEY_UNSUPPORTED",
    `cannot sign with a ${key.asymmetricKeyType ?? "unknown"} key`,
  );
}

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
  const leaf = certificateInfo(leafDer);
  const profile = profileFor(identity);
  const attrs: Attribute[] = [
    { oid: OID.contentType, values: [encodeOid(OID.data)] },
    { oid: OID.signingTime, values: [encodeTime(signingTime)] },
    { oid: OID.messageDigest, values: [encodeOctetString(digest(profile.hash, content))] },
    {
      oid: OID.signingCertificateV2,
      values: [
        encodeSigningCertificateV2(digest("sha256", leafDer), leaf.issuerDer, leaf.serialBytes),
      ],
    },
  ];
  const signedAttributes = encodeSignedAttributes(attrs);
  const signature = profile.sign(signedAttributes);
  return Promise.resolve(
    encodeSignedData({
      certificates: identity.chain,
      digestAlgorithm: HASH_OID[profile.hash],
      issuer: leaf.issuerDer,
      serial: leaf.serialBytes,
      signedAttributes,
      signatureAlgorithm: profile.algorithm,
      ...(profile.parameters === undefined ? {} : { signatureParameters: profile.parameters }),
      signature,
    }),
  );
}

/** The SignerInfo's signature value: what a CAdES-T signature timestamp stamps. */
export function signatureValue(signedData: Uint8Array): Uint8Array {
  const sd = decodeSignedData(signedData);
  const si = onlySigner(sd.signerInfos.length, sd.signerInfos[0]);
  return si.signature;
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
    const st = single(si.signedAttrs ?? [], OID.signingTime, "signingTime");
    return st === null ? null : decodeTime(st, "signingTime attribute");
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
}

function invalid(check: string): TrailsealError {
  return new TrailsealError("SIGNATURE_INVALID", `signature invalid: ${check}`);
}

function single(attrs: readonly Attribute[], oid: string, name: string): Uint8Array | null {
  const found = attrs.filter((a) => a.oid === oid);
  if (found.length === 0) return null;
  if (found.length > 1 || found[0]!.values.length !== 1)
    throw invalid(`the ${name} attribute must have exactly one value`);
  return found[0]!.values[0]!;
}

function findSigner(
  certs: readonly Uint8Array[],
  sid: ReturnType<typeof decodeSignedData>["signerInfos"][number]["sid"],
): CertificateInfo {
  for (const der of certs) {
    let info: CertificateInfo;
    try {
      info = certificateInfo(der);
    } catch {
      continue;
    }
    if (
      sid.kind === "issuerAndSerialNumber"
        ? equal(info.issuerDer, sid.issuer) && equal(info.serialBytes, sid.serial)
        : info.subjectKeyIdentifier !== null && equal(info.subjectKeyIdentifier, sid.keyIdentifier)
    ) {
      return info;
    }
  }
  throw invalid("the signer's certificate is not included in the signature");
}

/** RFC 5280 §4.2.1.3: a key that signs data needs digitalSignature (or nonRepudiation), if restricted. */
function signsData(cert: CertificateInfo): boolean {
  const ku = cert.keyUsage;
  return ku === null || ku.has("digitalSignature") || ku.has("nonRepudiation");
}

function parses(der: Uint8Array): boolean {
  try {
    certificateInfo(der);
    return true;
  } catch {
    return false;
  }
}

/** node:crypto throws on some malformed inputs (e.g. an impossible PSS salt length): that is a bad signature. */
function safeVerify(
  hash: string,
  data: Uint8Array,
  key: Parameters<typeof verify>[2],
  signature: Uint8Array,
): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

function verifySignatureValue(
  signer: CertificateInfo,
  digestHash: HashName,
  algorithm: { oid: string; parameters: Uint8Array | null },
  data: Uint8Array,
  signature: Uint8Array,
): void {
  const key = signer.publicKey;
  const keyType = key.asymmetricKeyType;
  const params = algorithm.parameters;
  const nullOrAbsent =
    params === null || (params.length === 2 && params[0] === 0x05 && params[1] === 0x00);
  let ok: boolean;
  if (RSA_PKCS1_OIDS.has(algorithm.oid)) {
    if (!nullOrAbsent) throw invalid("RSA signature algorithm parameters must be NULL or absent");
    const hash = RSA_PKCS1_OIDS.get(algorithm.oid) ?? digestHash;
    if (keyType !== "rsa")
      throw invalid(
        `signature algorithm ${algorithm.oid} does not fit the signer's ${keyType} key`,
      );
    ok = safeVerify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } else if (algorithm.oid === OID.rsassaPss) {
    if (keyType !== "rsa" && keyType !== "rsa-pss")
      throw invalid(`RSASSA-PSS does not fit the signer's ${keyType} key`);
    const p = decodePssParameters(algorithm.parameters);
    const hash = HASH_BY_OID.get(p.hash);
    if (hash === undefined || p.mgfHash !== p.hash)
      throw invalid(`unsupported RSASSA-PSS parameters (hash ${p.hash}, MGF1 hash ${p.mgfHash})`);
    ok = safeVerify(
      hash,
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength },
      signature,
    );
  } else if (
    algorithm.oid === OID.ecPublicKey ||
    [...Object.values(ECDSA_OID)].includes(algorithm.oid)
  ) {
    if (keyType !== "ec")
      throw invalid(
        `signature algorithm ${algorithm.oid} does not fit the signer's ${keyType} key`,
      );
    if (params !== null) throw invalid("ECDSA signature algorithm parameters must be absent");
    const hash =
      algorithm.oid === OID.ecPublicKey
        ? digestHash
        : [...HASH_BY_OID.values()].find((h) => ECDSA_OID[h] === algorithm.oid)!;
    ok = safeVerify(hash, data, { key, dsaEncoding: "der" }, signature);
  } else if (algorithm.oid === OID.sha1WithRSAEncryption || algorithm.oid === OID.ecdsaWithSha1) {
    throw invalid("SHA-1 signature algorithm refused");
  } else {
    throw invalid(`unsupported signature algorithm ${algorithm.oid}`);
  }
  if (!ok)
    throw invalid(
      `the signature over the signed attributes does not verify with the key of "${signer.subject}"`,
    );
}

/**
 * Verifies a detached SignedData over `content` and the signer's chain to one of `anchors` at
 * the signing time (or `options.at`). Returns the facts or throws SIGNATURE_INVALID (the message
 * names the failed check) or CHAIN_UNTRUSTED.
 *
 * Required: exactly one SignerInfo; SHA-256/384/512 digest (SHA-1 refused); signed attributes
 * with contentType id-data, messageDigest equal to the content's digest and signingCertificateV2
 * naming the signer certificate (RFC 5035; `openssl cms -sign` adds it with `-cades`).
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
  const p = si.digestAlgorithm.parameters;
  if (p !== null && !(p.length === 2 && p[0] === 0x05 && p[1] === 0x00)) {
    throw invalid("digest algorithm parameters must be absent or NULL");
  }

  const digestOid = si.digestAlgorithm.oid;
  if (digestOid === OID.sha1) throw invalid("SHA-1 digest refused");
  const hash = HASH_BY_OID.get(digestOid);
  if (hash === undefined) throw invalid(`unsupported digest algorithm ${digestOid}`);

  const attrs = si.signedAttrs;
  if (attrs === null || si.signedAttrsDer === null) throw invalid("no signed attributes");
  const oids = attrs.map((a) => a.oid);
  if (new Set(oids).size !== oids.length)
    throw invalid("a signed attribute appears more than once");

  const contentType = single(attrs, OID.contentType, "contentType");
  if (contentType === null) throw invalid("the contentType signed attribute is missing");
  const ct = decodeOid(contentType, "contentType attribute");
  if (ct !== OID.data) throw invalid(`the contentType attribute ${ct} is not id-data`);

  const md = single(attrs, OID.messageDigest, "messageDigest");
  if (md === null) throw invalid("the messageDigest signed attribute is missing");
  if (!equal(decodeOctetString(md, "messageDigest attribute"), digest(hash, content))) {
    throw invalid("the content does not match the signed message digest");
  }

  const signer = findSigner(sd.certificates, si.sid);
  // The same floor as for signing: a key this small can be factored, and its signatures forged.
  const bits = signer.publicKey.asymmetricKeyDetails?.modulusLength;
  if (signer.publicKey.asymmetricKeyType?.startsWith("rsa") === true && (bits ?? 0) < 2048) {
    throw invalid(`"${signer.subject}" has a ${bits ?? 0}-bit RSA key; 2048 bits or more required`);
  }
  verifySignatureValue(signer, hash, si.signatureAlgorithm, si.signedAttrsDer, si.signature);
  if (!signsData(signer)) {
    throw invalid(
      `the keyUsage of "${signer.subject}" allows neither digitalSignature nor nonRepudiation`,
    );
  }
  // A missing code-signing EKU is reported, not enforced (SPS asks for it); but a critical EKU
  // that excludes it restricts the key to other purposes (RFC 5280 §4.2.1.12; a TSA's is critical
  // by RFC 3161 §2.3 so that its key signs nothing but tokens).
  if (
    signer.ekuCritical === true &&
    !signer.extendedKeyUsages.includes(EKU_CODE_SIGNING) &&
    !signer.extendedKeyUsages.includes(EKU_ANY)
  ) {
    throw invalid(
      `the critical extendedKeyUsage of "${signer.subject}" (${signer.extendedKeyUsages.join(", ")}) does not allow code signing`,
    );
  }

  const scv2 = single(attrs, OID.signingCertificateV2, "signingCertificateV2");
  if (scv2 === null) throw invalid("the signingCertificateV2 signed attribute is missing");
  const first = decodeSigningCertificateV2(scv2)[0];
  if (first === undefined) throw invalid("the signingCertificateV2 attribute names no certificate");
  if (first.hashAlgorithm === OID.sha1) throw invalid("SHA-1 in signingCertificateV2 refused");
  const certHash = HASH_BY_OID.get(first.hashAlgorithm);
  if (certHash === undefined)
    throw invalid(`unsupported signingCertificateV2 hash ${first.hashAlgorithm}`);
  if (!equal(first.certHash, digest(certHash, signer.der))) {
    throw invalid(`signingCertificateV2 does not name the signer certificate "${signer.subject}"`);
  }
  if (
    first.issuerSerial !== null &&
    !(
      equal(first.issuerSerial.serial, signer.serialBytes) &&
      first.issuerSerial.issuers.some((n) => equal(n, signer.issuerDer))
    )
  ) {
    throw invalid("the issuerSerial of signingCertificateV2 does not match the signer certificate");
  }

  const st = single(attrs, OID.signingTime, "signingTime");
  const signingTime = st === null ? null : decodeTime(st, "signingTime attribute");
  const at = options.at ?? signingTime;
  if (at === null) throw invalid("no signingTime attribute and no validation time given");

  const validator = options.validator ?? new ChainValidator();
  const others = sd.certificates.filter((c) => !equal(c, signer.der));
  if (!others.every(parses)) throw invalid("an included certificate is malformed");
  const { chain } = await validator.validate(signer.der, others, options.anchors, at);

  return {
    signer: {
      subject: signer.subject,
      issuer: signer.issuer,
      serial: signer.serial,
      fingerprint: signer.fingerprint,
    },
    signingTime,
    codeSigning: signer.extendedKeyUsages.includes(EKU_CODE_SIGNING),
    chain,
    signatureValue: si.signature,
    digestAlgorithm: HASH_DISPLAY[hash],
    unsignedAttributes: si.unsignedAttrs.map((a) => ({ oid: a.oid, values: [...a.values] })),
  };
}

/**
 * A trail writer's checkpoint signer over a signing identity (detached SignedData; the signature
 * value is what a CAdES-T timestamp stamps).
 *
 * @example
 *   const writer = await TrailWriter.create({ ...options, signer: checkpointSigner(identity) });
 */
export function checkpointSigner(identity: SigningIdentity): {
  sign(content: Uint8Array, signingTime: Date): Promise<Uint8Array>;
  signatureValue(signedData: Uint8Array): Uint8Array;
} {
  return {
    sign: (content, at) => signDetached(content, identity, at),
    signatureValue,
  };
}
