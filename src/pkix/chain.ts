/**
 * X.509 certification path building and validation (a pragmatic subset of RFC 5280 §6): from a
 * leaf through the given intermediates to one of the given trust anchors, checked at one instant.
 *
 * Only `anchors` are trusted. Certificates that arrive with the data (a SignedData's certificate
 * set, a timestamp token) are candidates for the path and nothing more: each link is proven by its
 * signature, never by a name match. What is checked per link: the signature with the issuer's key,
 * validity of every certificate (anchor included) at `at`, basicConstraints cA and keyUsage
 * keyCertSign on every issuer, pathLenConstraint, and no unknown critical extension; no signature
 * over SHA-1 or MD5 below the anchor, and no issuer (anchor included) with an RSA key under 2048
 * bits. Not checked:
 * revocation, name constraints and policies (certificates that mark those critical are refused,
 * since we cannot honour them).
 *
 * Certificates are parsed with pkijs (this folder is the adapter); signatures are checked by
 * node:crypto's X509Certificate. Nothing of either crosses this module's API: DER in, strings,
 * dates and KeyObjects out.
 */
import { X509Certificate, createHash, type KeyObject } from "node:crypto";
import { TrailsealError } from "../errors.js";
import { equal, toArrayBuffer, toBytes } from "../bytes.js";
import { pkijs } from "./engine.js";

/** A validated path: `chain[0]` is the leaf, the last element is the anchor. DER. */
export interface ChainResult {
  chain: Uint8Array[];
  anchor: Uint8Array;
}

/** OIDs of extended key usages (RFC 5280 §4.2.1.12). */
export const EKU_CODE_SIGNING = "1.3.6.1.5.5.7.3.3";
export const EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8";

const EXT_SUBJECT_KEY_ID = "2.5.29.14";
const EXT_KEY_USAGE = "2.5.29.15";
const EXT_BASIC_CONSTRAINTS = "2.5.29.19";
const EXT_EXT_KEY_USAGE = "2.5.29.37";
/** Critical extensions we understand (or that do not restrict path validity for our use). */
const KNOWN_CRITICAL = new Set([
  EXT_SUBJECT_KEY_ID,
  EXT_KEY_USAGE,
  "2.5.29.17", // subjectAltName
  EXT_BASIC_CONSTRAINTS,
  "2.5.29.35", // authorityKeyIdentifier
  EXT_EXT_KEY_USAGE,
]);

/** keyUsage bit names, in bit order (RFC 5280 §4.2.1.3). */
const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** What path validation and signature verification need to know about one certificate. */
export interface CertificateInfo {
  readonly der: Uint8Array;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprint: string;
  /** Display names in openssl's order, e.g. `C=XX, O=trailseal test, CN=…`. */
  readonly subject: string;
  readonly issuer: string;
  /** The exact DER of the issuer and subject Names (for matching, RFC 5280 §7.1 simplified to bytes). */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** Serial number as lowercase hex of the INTEGER content octets, and those octets. */
  readonly serial: string;
  readonly serialBytes: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** basicConstraints cA; false when the extension is absent. */
  readonly isCa: boolean;
  readonly pathLenConstraint: number | undefined;
  /** keyUsage bit names, or null when the extension is absent (no restriction). */
  readonly keyUsage: ReadonlySet<string> | null;
  readonly extendedKeyUsages: readonly string[];
  /** Criticality of extendedKeyUsage, null when absent. */
  readonly ekuCritical: boolean | null;
  readonly subjectKeyIdentifier: Uint8Array | null;
  readonly unknownCriticalExtensions: readonly string[];
  readonly publicKey: KeyObject;
  /** The digest of this certificate's own signature when it is one we refuse (SHA-1, MD5), else null. */
  readonly weakSignatureHash: string | null;
  /** Verifies that this certificate is signed by `issuerKey`. */
  verifiedBy(issuerKey: KeyObject): boolean;
}

const parsed = new Map<string, CertificateInfo>();
const PARSE_CACHE_LIMIT = 512;

/** Certificate signature algorithms over digests that collisions have broken. */
const WEAK_SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.2": "MD2",
  "1.2.840.113549.1.1.4": "MD5",
  "1.2.840.113549.1.1.5": "SHA-1",
  "1.3.14.3.2.29": "SHA-1",
  "1.2.840.10045.4.1": "SHA-1",
  "1.2.840.10040.4.3": "SHA-1",
};
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const SHA1 = "1.3.14.3.2.26";
/** The smallest RSA key trusted to sign certificates (as for signing data). */
const MIN_RSA_BITS = 2048;

/** SHA-1/MD5 in a certificate's signature algorithm (RSASSA-PSS: its hash, SHA-1 by default). */
function weakSignatureHash(cert: InstanceType<typeof pkijs.Certificate>): string | null {
  const alg = cert.signatureAlgorithm;
  const weak = WEAK_SIGNATURE_ALGORITHMS[alg.algorithmId];
  if (weak !== undefined) return weak;
  if (alg.algorithmId !== RSASSA_PSS) return null;
  // RFC 4055 §3.1: hashAlgorithm DEFAULT sha1.
  const params = new pkijs.RSASSAPSSParams(
    alg.algorithmParams === undefined ? {} : { schema: alg.algorithmParams },
  );
  return params.hashAlgorithm.algorithmId === SHA1 ? "SHA-1" : null;
}

/** Lowercase hex SHA-256 of `der`. */
export function fingerprintOf(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/**
 * Parses a DER certificate (memoised by fingerprint). Throws NOT_A_CERTIFICATE when it is not one.
 */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const fingerprint = fingerprintOf(der);
  const hit = parsed.get(fingerprint);
  if (hit !== undefined) return hit;
  let info: CertificateInfo;
  try {
    info = parse(der, fingerprint);
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    throw new TrailsealError(
      "NOT_A_CERTIFICATE",
      `not an X.509 certificate (sha256:${fingerprint}): ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (parsed.size >= PARSE_CACHE_LIMIT) parsed.clear();
  parsed.set(fingerprint, info);
  return info;
}

function parse(der: Uint8Array, fingerprint: string): CertificateInfo {
  const native = new X509Certificate(der);
  const cert = pkijs.Certificate.fromBER(toArrayBuffer(der));
  let isCa = false;
  let pathLenConstraint: number | undefined;
  let keyUsage: Set<string> | null = null;
  let extendedKeyUsages: string[] = [];
  let ekuCritical: boolean | null = null;
  let subjectKeyIdentifier: Uint8Array | null = null;
  const unknownCriticalExtensions: string[] = [];
  for (const ext of cert.extensions ?? []) {
    const value = ext.parsedValue as unknown;
    switch (ext.extnID) {
      case EXT_BASIC_CONSTRAINTS: {
        const bc = value as InstanceType<typeof pkijs.BasicConstraints>;
        isCa = bc.cA === true;
        const p = bc.pathLenConstraint;
        if (p !== undefined) pathLenConstraint = typeof p === "number" ? p : p.valueBlock.valueDec;
        break;
      }
      case EXT_KEY_USAGE: {
        // KeyUsage ::= BIT STRING (RFC 5280 §4.2.1.3); bit 0 is the most significant bit.
        const bits = (value as { valueBlock: { valueHexView: Uint8Array } }).valueBlock
          .valueHexView;
        keyUsage = new Set();
        KEY_USAGE_BITS.forEach((name, i) => {
          const byte = bits[i >> 3];
          if (byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0) keyUsage!.add(name);
        });
        break;
      }
      case EXT_EXT_KEY_USAGE:
        extendedKeyUsages = [...(value as InstanceType<typeof pkijs.ExtKeyUsage>).keyPurposes];
        ekuCritical = ext.critical;
        break;
      case EXT_SUBJECT_KEY_ID:
        subjectKeyIdentifier = new Uint8Array(
          (value as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView,
        );
        break;
    }
    if (ext.critical && !KNOWN_CRITICAL.has(ext.extnID)) unknownCriticalExtensions.push(ext.extnID);
  }
  const serialBytes = new Uint8Array(cert.serialNumber.valueBlock.valueHexView);
  return {
    der,
    fingerprint,
    subject: displayName(native.subject),
    issuer: displayName(native.issuer),
    issuerDer: toBytes(cert.issuer.valueBeforeDecode),
    subjectDer: toBytes(cert.subject.valueBeforeDecode),
    serial: Buffer.from(serialBytes).toString("hex"),
    serialBytes,
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    isCa,
    pathLenConstraint,
    keyUsage,
    extendedKeyUsages,
    ekuCritical,
    subjectKeyIdentifier,
    unknownCriticalExtensions,
    publicKey: native.publicKey,
    weakSignatureHash: weakSignatureHash(cert),
    verifiedBy: (issuerKey) => {
      try {
        return native.verify(issuerKey);
      } catch {
        return false;
      }
    },
  };
}

/** node prints a Name one RDN per line; one line reads better in messages. */
function displayName(name: string): string {
  return name.split("\n").join(", ");
}

/** The extended key usage OIDs of a certificate (empty when it has none). */
export function extendedKeyUsages(der: Uint8Array): string[] {
  return [...certificateInfo(der).extendedKeyUsages];
}

/** Whether the extendedKeyUsage extension is critical; null when the certificate has none. */
export function isEkuCritical(der: Uint8Array): boolean | null {
  return certificateInfo(der).ekuCritical;
}

/** The subject Name of a certificate as one line, e.g. `C=XX, O=trailseal test, CN=…`. */
export function certificateSubject(der: Uint8Array): string {
  return certificateInfo(der).subject;
}

/** The issuer Name of a certificate as one line. */
export function certificateIssuer(der: Uint8Array): string {
  return certificateInfo(der).issuer;
}

const MAX_PATH = 8;

/**
 * Builds and validates a path leaf -> intermediates -> one of `anchors`, at instant `at`.
 * Returns the path (leaf first, anchor last) or throws CHAIN_UNTRUSTED naming the leaf and why.
 *
 * @example
 *   const { chain } = await validateChain(leafDer, [intermediateDer], [rootDer], signingTime);
 */
export async function validateChain(
  leaf: Uint8Array,
  intermediates: readonly Uint8Array[],
  anchors: readonly Uint8Array[],
  at: Date,
): Promise<ChainResult> {
  return Promise.resolve(buildPath(leaf, intermediates, anchors, at));
}

function buildPath(
  leafDer: Uint8Array,
  intermediates: readonly Uint8Array[],
  anchors: readonly Uint8Array[],
  at: Date,
): ChainResult {
  if (Number.isNaN(at.getTime())) {
    throw new TrailsealError("CHAIN_UNTRUSTED", "cannot validate a chain at an invalid time");
  }
  const leaf = certificateInfo(leafDer);
  const untrusted = (why: string): TrailsealError =>
    new TrailsealError(
      "CHAIN_UNTRUSTED",
      `certificate "${leaf.subject}" (sha256:${leaf.fingerprint}) is not trusted at ${iso(at)}: ${why}`,
      {
        hint: "pass the CA that issued it as a trust anchor (--ca FILE for signers, --tsa-ca FILE for TSAs)",
      },
    );
  if (anchors.length === 0) throw untrusted("no trust anchors were given");
  const anchorInfos = anchors.map(certificateInfo);
  const anchorSet = new Set(anchorInfos.map((a) => a.fingerprint));
  const pool: CertificateInfo[] = [
    ...anchorInfos,
    ...intermediates.map(certificateInfo).filter((c) => !anchorSet.has(c.fingerprint)),
  ];

  const leafProblem = ownProblem(leaf, at);
  if (leafProblem !== null) throw untrusted(leafProblem);

  const failures: string[] = [];
  const walk = (path: CertificateInfo[]): CertificateInfo[] | null => {
    const cert = path[path.length - 1]!;
    if (anchorSet.has(cert.fingerprint)) return path;
    // No SHA-1 or MD5 in evidence: a chosen-prefix collision forges a certificate a CA signed so.
    if (cert.weakSignatureHash !== null) {
      failures.push(
        `weak signature: "${cert.subject}" is signed with ${cert.weakSignatureHash}, which is refused`,
      );
      return null;
    }
    if (path.length > MAX_PATH) {
      failures.push(`no path to a trust anchor: longer than ${MAX_PATH} certificates`);
      return null;
    }
    const candidates = pool.filter(
      (c) =>
        equal(c.subjectDer, cert.issuerDer) && !path.some((p) => p.fingerprint === c.fingerprint),
    );
    if (candidates.length === 0 && equal(cert.subjectDer, cert.issuerDer) && path.length > 1) {
      failures.push(
        `no path to a trust anchor: "${cert.subject}" is a root that is not a trust anchor`,
      );
      return null;
    }
    if (candidates.length === 0) {
      failures.push(
        `no path to a trust anchor: the issuer "${cert.issuer}" of "${cert.subject}" is neither a ` +
          `trust anchor nor among the ${intermediates.length} included certificate(s)`,
      );
      return null;
    }
    for (const issuer of candidates) {
      const role = anchorSet.has(issuer.fingerprint) ? "trust anchor" : "included certificate";
      const bits = issuer.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (issuer.publicKey.asymmetricKeyType?.startsWith("rsa") === true && bits < MIN_RSA_BITS) {
        failures.push(
          `weak key: the ${role} "${issuer.subject}" has a ${bits}-bit RSA key; ${MIN_RSA_BITS} bits or more required`,
        );
        continue;
      }
      if (!cert.verifiedBy(issuer.publicKey)) {
        failures.push(
          `bad signature: "${cert.subject}" is not signed by the key of the ${role} ` +
            `"${issuer.subject}" (sha256:${issuer.fingerprint})`,
        );
        continue;
      }
      if (!issuer.isCa) {
        failures.push(`issuer not a CA: "${issuer.subject}" has no basicConstraints cA`);
        continue;
      }
      if (issuer.keyUsage !== null && !issuer.keyUsage.has("keyCertSign")) {
        failures.push(`issuer not a CA: "${issuer.subject}" lacks keyUsage keyCertSign`);
        continue;
      }
      // The CAs strictly between this issuer and the leaf (RFC 5280 §4.2.1.9).
      const below = path.length - 1;
      if (issuer.pathLenConstraint !== undefined && below > issuer.pathLenConstraint) {
        failures.push(
          `path too long: "${issuer.subject}" allows ${issuer.pathLenConstraint} intermediate(s) below it`,
        );
        continue;
      }
      const problem = ownProblem(issuer, at);
      if (problem !== null) {
        failures.push(`${role} ${problem}`);
        continue;
      }
      const found = walk([...path, issuer]);
      if (found !== null) return found;
    }
    return null;
  };

  const path = walk([leaf]);
  if (path === null) throw untrusted([...new Set(failures)].join("; "));
  const chain = path.map((c) => c.der);
  return { chain, anchor: chain[chain.length - 1]! };
}

/** A certificate's own fault at `at` (validity period, unknown critical extensions), or null. */
function ownProblem(cert: CertificateInfo, at: Date): string | null {
  if (at.getTime() > cert.notAfter.getTime()) {
    return `expired at ${iso(at)}: "${cert.subject}" was valid until ${iso(cert.notAfter)}`;
  }
  if (at.getTime() < cert.notBefore.getTime()) {
    return `not yet valid at ${iso(at)}: "${cert.subject}" is valid from ${iso(cert.notBefore)}`;
  }
  if (cert.unknownCriticalExtensions.length > 0) {
    return `"${cert.subject}" has unsupported critical extension(s) ${cert.unknownCriticalExtensions.join(", ")}`;
  }
  return null;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, "Z");
}

interface CacheEntry {
  result: ChainResult;
  /** Every certificate of the path is valid throughout [from, until]. */
  from: number;
  until: number;
}

/**
 * Memoises validateChain: a trail whose 120 checkpoints share one signer validates its chain once.
 * An entry is keyed by the fingerprints of the leaf, of the intermediates offered and of the
 * anchors (so a changed certificate anywhere is validated afresh), and reused for any instant at
 * which every certificate of the validated path is within its validity period, since nothing else
 * that validation checks depends on the time. Failures are not cached.
 */
export class ChainValidator {
  readonly #cache = new Map<string, CacheEntry[]>();
  /** How many full path validations ran (cache misses). */
  validations = 0;

  async validate(
    leaf: Uint8Array,
    intermediates: readonly Uint8Array[],
    anchors: readonly Uint8Array[],
    at: Date,
  ): Promise<ChainResult> {
    const key = [leaf, intermediates, anchors]
      .map((set) =>
        (set instanceof Uint8Array ? [set] : [...set]).map(fingerprintOf).sort().join(","),
      )
      .join("|");
    const t = at.getTime();
    const entries = this.#cache.get(key) ?? [];
    const hit = entries.find((e) => e.from <= t && t <= e.until);
    if (hit !== undefined) return { chain: [...hit.result.chain], anchor: hit.result.anchor };
    this.validations++;
    const result = await validateChain(leaf, intermediates, anchors, at);
    const infos = result.chain.map(certificateInfo);
    entries.push({
      result,
      from: Math.max(...infos.map((c) => c.notBefore.getTime())),
      until: Math.min(...infos.map((c) => c.notAfter.getTime())),
    });
    this.#cache.set(key, entries);
    return { chain: [...result.chain], anchor: result.anchor };
  }
}
