/**
 * The one table of signature algorithms trailseal accepts, for checkpoint signatures and
 * time-stamp tokens alike, and the one place that signs with them:
 *   RSA PKCS#1 v1.5 with SHA-256/384/512 (RFC 8017 §8.2; RFC 4055 §5),
 *   RSASSA-PSS with SHA-256/384/512, MGF1 with the same hash, salt length as given (RFC 4055 §3),
 *   ECDSA with SHA-256/384/512 (RFC 5758 §3.2; RFC 5753 §7.1).
 * SHA-1 (and MD5) signatures are refused: a chosen-prefix collision forges them.
 */
import { constants, createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { TrailsealError } from "../errors.js";
import {
  DerReader,
  encodeAlgorithm,
  encodeInteger,
  nullOrAbsent,
  seq,
  tlv,
  DER_NULL,
  TAG,
  type AlgorithmIdentifier,
} from "./der.js";
import { OID } from "./oid.js";

export type HashName = "sha256" | "sha384" | "sha512";

/** The hashes accepted for digests and signatures, by OID. */
export const ACCEPTED_HASHES: ReadonlyMap<string, HashName> = new Map([
  [OID.sha256, "sha256"],
  [OID.sha384, "sha384"],
  [OID.sha512, "sha512"],
]);
export const HASH_OID: Readonly<Record<HashName, string>> = {
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};
/** Hashes that are refused by name rather than as unknown. */
export const WEAK_HASHES: ReadonlyMap<string, string> = new Map([
  [OID.sha1, "SHA-1"],
  [OID.md5, "MD5"],
]);

/** PKCS#1 v1.5 and ECDSA signature OIDs: key type and hash (null = the digestAlgorithm's). */
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { keyType: "rsa" | "ec"; hash: HashName | null }> =
  new Map([
    [OID.rsaEncryption, { keyType: "rsa", hash: null }],
    [OID.sha256WithRSAEncryption, { keyType: "rsa", hash: "sha256" }],
    [OID.sha384WithRSAEncryption, { keyType: "rsa", hash: "sha384" }],
    [OID.sha512WithRSAEncryption, { keyType: "rsa", hash: "sha512" }],
    [OID.ecPublicKey, { keyType: "ec", hash: null }],
    [OID.ecdsaWithSha256, { keyType: "ec", hash: "sha256" }],
    [OID.ecdsaWithSha384, { keyType: "ec", hash: "sha384" }],
    [OID.ecdsaWithSha512, { keyType: "ec", hash: "sha512" }],
  ]);

/** Signature algorithm OIDs over SHA-1 or weaker, refused by name. */
const WEAK_SIGNATURE_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  [OID.md2WithRSAEncryption, "MD2"],
  [OID.md5WithRSAEncryption, "MD5"],
  [OID.sha1WithRSAEncryption, "SHA-1"],
  [OID.sha1WithRSAOiw, "SHA-1"],
  [OID.ecdsaWithSha1, "SHA-1"],
  [OID.dsaWithSha1, "SHA-1"],
  [OID.sha224WithRSAEncryption, "SHA-224"],
  [OID.ecdsaWithSha224, "SHA-224"],
]);

/** RSASSA-PSS-params (RFC 4055 §3.1) for one hash, MGF1 with the same hash, and a salt length. */
export function encodePssParameters(hashOid: string, saltLength: number): Uint8Array {
  const hash = encodeAlgorithm(hashOid, DER_NULL);
  return seq(
    tlv(TAG.CTX0, hash),
    tlv(TAG.CTX1, encodeAlgorithm(OID.mgf1, hash)),
    tlv(TAG.CTX2, encodeInteger(saltLength)),
  );
}

export interface PssParameters {
  hash: string;
  mgfHash: string;
  saltLength: number;
}

/** Decodes RSASSA-PSS-params; absent fields take the RFC 4055 defaults (SHA-1, MGF1-SHA-1, 20). */
export function decodePssParameters(
  der: Uint8Array | null,
  code = "SIGNATURE_INVALID" as const,
): PssParameters {
  const out: PssParameters = { hash: OID.sha1, mgfHash: OID.sha1, saltLength: 20 };
  if (der === null || nullOrAbsent(der)) return out;
  let lastTag = 0;
  const r: DerReader = new DerReader(der, "RSASSA-PSS parameters", code);
  for (const f of r.children(r.expect(r.whole(), TAG.SEQUENCE, "RSASSA-PSS-params"))) {
    const inner = r.children(f)[0];
    if (f.tag <= lastTag) r.fail("fields out of order or repeated");
    lastTag = f.tag;
    if (f.tag === TAG.CTX0) out.hash = hashOf(r, r.algorithm(inner, "hashAlgorithm"));
    else if (f.tag === TAG.CTX1) {
      const mgf = r.algorithm(inner, "maskGenAlgorithm");
      if (mgf.oid !== OID.mgf1) r.fail(`mask generation ${mgf.oid} is not MGF1`);
      if (mgf.parameters === null) r.fail("MGF1 without a hash");
      const pr: DerReader = new DerReader(mgf.parameters, "MGF1 parameters", code);
      out.mgfHash = hashOf(pr, pr.algorithm(pr.whole(), "MGF1 hash"));
    } else if (f.tag === TAG.CTX2) out.saltLength = r.int(inner, "saltLength");
    else if (f.tag === TAG.CTX3) {
      if (r.int(inner, "trailerField") !== 1) r.fail("trailerField is not 1");
    } else r.fail("unknown field");
  }
  return out;
}

/** A hash AlgorithmIdentifier: parameters absent or NULL (RFC 5754 §2). */
function hashOf(r: DerReader, a: AlgorithmIdentifier): string {
  if (!nullOrAbsent(a.parameters)) r.fail(`hash ${a.oid}: parameters must be absent or NULL`);
  return a.oid;
}

/** The hash a certificate's own signature is over when it is one we refuse, else null. */
export function weakSignatureHash(algorithm: AlgorithmIdentifier): string | null {
  const weak = WEAK_SIGNATURE_ALGORITHMS.get(algorithm.oid);
  if (weak !== undefined) return weak;
  if (algorithm.oid !== OID.rsassaPss) return null;
  try {
    return WEAK_HASHES.get(decodePssParameters(algorithm.parameters).hash) ?? null;
  } catch {
    return null;
  }
}

/** node:crypto throws on some malformed inputs (e.g. an impossible PSS salt length): a bad signature. */
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

/**
 * Checks `signature` over `data` with `key` under `algorithm`; `digestHash` is the SignerInfo's
 * digest algorithm (the hash of rsaEncryption and bare ecPublicKey signatures). Returns whether
 * the signature verifies; throws `invalid(check)` for an algorithm that is refused or does not
 * fit the key.
 */
export function verifySignatureValue(
  key: KeyObject,
  digestHash: HashName,
  algorithm: AlgorithmIdentifier,
  data: Uint8Array,
  signature: Uint8Array,
  invalid: (check: string) => Error,
): boolean {
  const keyType = key.asymmetricKeyType;
  const weak = WEAK_SIGNATURE_ALGORITHMS.get(algorithm.oid);
  if (weak !== undefined) throw invalid(`${weak} signature algorithm refused`);
  if (algorithm.oid === OID.rsassaPss) {
    if (keyType !== "rsa" && keyType !== "rsa-pss")
      throw invalid(`RSASSA-PSS does not fit the signer's ${keyType} key`);
    const p = decodePssParameters(algorithm.parameters);
    const hash = ACCEPTED_HASHES.get(p.hash);
    if (hash === undefined || p.mgfHash !== p.hash) {
      const name = WEAK_HASHES.get(p.hash);
      throw invalid(
        name !== undefined
          ? `${name} signature algorithm refused (RSASSA-PSS)`
          : `unsupported RSASSA-PSS parameters (hash ${p.hash}, MGF1 hash ${p.mgfHash})`,
      );
    }
    const padding = constants.RSA_PKCS1_PSS_PADDING;
    return safeVerify(hash, data, { key, padding, saltLength: p.saltLength }, signature);
  }
  const known = SIGNATURE_ALGORITHMS.get(algorithm.oid);
  if (known === undefined) throw invalid(`unsupported signature algorithm ${algorithm.oid}`);
  if (keyType !== known.keyType)
    throw invalid(`signature algorithm ${algorithm.oid} does not fit the signer's ${keyType} key`);
  const hash = known.hash ?? digestHash;
  if (known.keyType === "rsa") {
    if (!nullOrAbsent(algorithm.parameters))
      throw invalid("RSA signature algorithm parameters must be NULL or absent");
    return safeVerify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  }
  if (algorithm.parameters !== null)
    throw invalid("ECDSA signature algorithm parameters must be absent");
  return safeVerify(hash, data, { key, dsaEncoding: "der" }, signature);
}

/** ECDSA hashes by curve (RFC 5753 §7.1: match the hash to the curve size). */
export const EC_HASH: Readonly<Record<string, HashName>> = {
  prime256v1: "sha256",
  secp384r1: "sha384",
  secp521r1: "sha512",
};
const ECDSA_OID: Readonly<Record<HashName, string>> = {
  sha256: OID.ecdsaWithSha256,
  sha384: OID.ecdsaWithSha384,
  sha512: OID.ecdsaWithSha512,
};
const PSS_SALT = 32;

/**
 * The signing step, replaceable: whatever turns the DER of the signed attributes into a
 * signature value (a KeyObject here; a key on a PKCS#11 token behind the same shape).
 */
export type SignFunction = (toBeSigned: Uint8Array) => Promise<Uint8Array>;

/**
 * A private key that signs outside this process: a key on a PKCS#11 token (src/pkcs11/ops.ts
 * TokenSigner has this shape). It is told the scheme and hash and signs the data given.
 */
export interface ExternalSigner {
  readonly keyType: "RSA" | "EC";
  readonly curve: "P-256" | "P-384" | "P-521" | null;
  /** RSA modulus bits or EC field bits. */
  readonly bits: number;
  /** Lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo, when the signer knows it. */
  readonly spkiFingerprint: string | null;
  sign(
    data: Uint8Array,
    algorithm: { scheme: "pkcs1" | "pss" | "ecdsa"; hash: HashName },
  ): Promise<Uint8Array>;
}

/** A signing key: in memory, or outside the process. */
export type SigningKey = KeyObject | ExternalSigner;

export function isExternalSigner(key: SigningKey): key is ExternalSigner {
  return "sign" in key && typeof key.sign === "function";
}

/** How a key signs: the digest, the AlgorithmIdentifier written, and the signing step. */
export interface SignatureProfile {
  hash: HashName;
  algorithm: string;
  parameters?: Uint8Array;
  sign: SignFunction;
  /**
   * The same step, synchronous, for a key in memory (the in-process TSA answers at once);
   * absent for an external signer.
   */
  signSync?: (toBeSigned: Uint8Array) => Uint8Array;
}

/** What the checks on a signing key read: its type, size, curve (node's name), SPKI fingerprint. */
export interface SigningKeyFacts {
  /** "rsa", "ec", or what else the key is (refused by the callers). */
  type: string;
  /** RSA modulus bits (0 for other keys). */
  bits: number;
  curve: string | null;
  spkiFingerprint: string | null;
}

export function signingKeyFacts(key: SigningKey): SigningKeyFacts {
  if (isExternalSigner(key)) {
    return {
      type: key.keyType.toLowerCase(),
      bits: key.keyType === "RSA" ? key.bits : 0,
      curve: key.curve === null ? null : (NIST_CURVES[key.curve] ?? null),
      spkiFingerprint: key.spkiFingerprint,
    };
  }
  return {
    type: key.asymmetricKeyType ?? "unknown",
    bits: key.asymmetricKeyDetails?.modulusLength ?? 0,
    curve: key.asymmetricKeyDetails?.namedCurve ?? null,
    spkiFingerprint: createHash("sha256").update(spkiOf(key)).digest("hex"),
  };
}

/** Node's names of the curves a token reports by their NIST names. */
const NIST_CURVES: Readonly<Record<string, string>> = {
  "P-256": "prime256v1",
  "P-384": "secp384r1",
  "P-521": "secp521r1",
};

/** The algorithm a key of this type signs with: the hash, the OID, its parameters. */
function algorithmFor(
  keyType: string,
  curve: string,
  scheme: "pkcs1" | "pss",
): {
  hash: HashName;
  algorithm: string;
  parameters?: Uint8Array;
  scheme: "pkcs1" | "pss" | "ecdsa";
} {
  if (keyType === "rsa") {
    if (scheme === "pss") {
      const parameters = encodePssParameters(OID.sha256, PSS_SALT);
      return { hash: "sha256", algorithm: OID.rsassaPss, parameters, scheme };
    }
    return { hash: "sha256", algorithm: OID.sha256WithRSAEncryption, parameters: DER_NULL, scheme };
  }
  if (keyType === "ec") {
    if (scheme === "pss")
      throw new TrailsealError("KEY_UNSUPPORTED", "RSASSA-PSS needs an RSA key");
    const hash = EC_HASH[curve];
    if (hash === undefined)
      throw new TrailsealError("KEY_UNSUPPORTED", `cannot sign with an EC key on curve ${curve}`);
    return { hash, algorithm: ECDSA_OID[hash], scheme: "ecdsa" };
  }
  throw new TrailsealError("KEY_UNSUPPORTED", `cannot sign with a ${keyType} key`);
}

/**
 * The profile for a private key: RSA PKCS#1 v1.5 SHA-256 (or RSASSA-PSS SHA-256, MGF1-SHA-256,
 * salt 32 with `scheme: "pss"`), ECDSA with the hash that fits the curve. An external signer
 * gets the same algorithms, signed through its own `sign`.
 */
export function signatureProfile(
  key: SigningKey,
  scheme: "pkcs1" | "pss" = "pkcs1",
): SignatureProfile {
  if (isExternalSigner(key)) {
    const curve = key.curve === null ? "unknown" : (NIST_CURVES[key.curve] ?? key.curve);
    const { scheme: s, ...a } = algorithmFor(key.keyType.toLowerCase(), curve, scheme);
    return { ...a, sign: (data) => key.sign(data, { scheme: s, hash: a.hash }) };
  }
  if (key.type !== "private")
    throw new TrailsealError("KEY_INVALID", "the signing identity needs a private key");
  const { scheme: s, ...a } = algorithmFor(
    key.asymmetricKeyType ?? "unknown",
    key.asymmetricKeyDetails?.namedCurve ?? "",
    scheme,
  );
  const options = signOptions(key, s);
  const signSync = (data: Uint8Array): Uint8Array => new Uint8Array(sign(a.hash, data, options));
  return { ...a, signSync, sign: (data) => Promise.resolve(signSync(data)) };
}

/** node:crypto's sign options for a key in memory and a scheme. */
function signOptions(key: KeyObject, scheme: "pkcs1" | "pss" | "ecdsa") {
  return scheme === "ecdsa"
    ? { key, dsaEncoding: "der" as const }
    : scheme === "pss"
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT }
      : { key, padding: constants.RSA_PKCS1_PADDING };
}

/** EC field sizes in bits, by the curve's NIST name. */
const CURVE_BITS = { "P-256": 256, "P-384": 384, "P-521": 521 } as const;

/**
 * A private RSA or EC key in memory as a signer that signs on libuv's thread pool (node:crypto's
 * `sign` with a callback), so that a server signs on every core while its own thread reads and
 * answers requests; null for another key, which then signs in the caller's thread. Same
 * algorithms, same bytes: only the thread differs.
 */
export function offThreadSigner(key: KeyObject): ExternalSigner | null {
  const facts = signingKeyFacts(key);
  const nist = Object.entries(NIST_CURVES).find(([, name]) => name === facts.curve)?.[0];
  const curve = nist === undefined ? null : (nist as keyof typeof CURVE_BITS);
  if (key.type !== "private" || !(facts.type === "rsa" || (facts.type === "ec" && curve !== null)))
    return null;
  return {
    keyType: facts.type === "rsa" ? "RSA" : "EC",
    curve,
    bits: curve === null ? facts.bits : CURVE_BITS[curve],
    spkiFingerprint: facts.spkiFingerprint,
    sign: (data, { scheme, hash }) =>
      new Promise((resolve, reject) => {
        sign(hash, data, signOptions(key, scheme), (e, signature) => {
          if (e === null) resolve(new Uint8Array(signature));
          else reject(e);
        });
      }),
  };
}

/** The SubjectPublicKeyInfo DER of a key (of its public half for a private key). */
export function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}
