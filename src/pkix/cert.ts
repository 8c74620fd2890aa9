/**
 * The one certificate model: the facts trailseal uses about an X.509 certificate (RFC 5280 §4.1),
 * read once per certificate with the project's DER reader and kept in one bounded cache by
 * fingerprint. Names are shown as OpenSSL writes them and signatures are checked by node:crypto's
 * X509Certificate; nothing of either crosses this module's API (DER in, strings, dates and
 * KeyObjects out).
 *
 * Only the extensions trailseal acts on are decoded (basicConstraints, keyUsage, extKeyUsage,
 * subjectKeyIdentifier); any other extension, however it is encoded, never makes a certificate
 * unreadable; a critical one we do not understand is listed for path validation to refuse.
 */
import { X509Certificate, createPublicKey, hash, type KeyObject } from "node:crypto";
import { TrailsealError } from "../errors.js";
import { DerError, DerReader, TAG, type AlgorithmIdentifier, type Tlv } from "./der.js";
import { weakSignatureHash } from "./algorithms.js";
import { OID } from "./oid.js";

/** What path validation, signature checks and display need to know about one certificate. */
export interface Certificate {
  readonly der: Uint8Array;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprint: string;
  /** Display names in OpenSSL's order, one line, e.g. `C=XX, O=trailseal test, CN=…`. */
  readonly subject: string;
  readonly issuer: string;
  /** The exact DER of the issuer and subject Names (matched byte for byte). */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** Serial number as lowercase hex of the INTEGER content octets, those octets, and the value. */
  readonly serial: string;
  readonly serialBytes: Uint8Array;
  readonly serialNumber: bigint;
  /** The validity period; an Invalid Date where the time does not parse (see `invalidTime`). */
  readonly notBefore: Date;
  readonly notAfter: Date;
  /**
   * Why a validity time is not a valid time (e.g. a 15-character UTCTime), or null. Such a
   * certificate is still read (openssl reads it too, saying "Bad time value"), but it is valid
   * at no time: every validity check refuses it.
   */
  readonly invalidTime: string | null;
  /** The exact SubjectPublicKeyInfo DER, its SHA-256 (how trailseal names a recipient), its algorithm. */
  readonly spki: Uint8Array;
  readonly spkiFingerprint: string;
  readonly spkiAlgorithm: string;
  /** The public key; throws KEY_UNSUPPORTED when OpenSSL cannot read its algorithm. */
  readonly publicKey: KeyObject;
  /** basicConstraints cA; false when the extension is absent. */
  readonly isCa: boolean;
  readonly pathLenConstraint: number | undefined;
  /** keyUsage bit names, or null when the extension is absent (no restriction). */
  readonly keyUsage: ReadonlySet<string> | null;
  /** extendedKeyUsage purposes (dotted OIDs), [] when absent. */
  readonly extendedKeyUsages: readonly string[];
  /** Criticality of extendedKeyUsage, null when absent. */
  readonly ekuCritical: boolean | null;
  readonly subjectKeyIdentifier: Uint8Array | null;
  readonly unknownCriticalExtensions: readonly string[];
  readonly signatureAlgorithm: AlgorithmIdentifier;
  /** The digest of this certificate's own signature when it is one we refuse (SHA-1, MD5), else null. */
  readonly weakSignatureHash: string | null;
  /** Verifies that this certificate is signed by `issuerKey`. */
  verifiedBy(issuerKey: KeyObject): boolean;
}

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

/** Critical extensions we understand (or that do not restrict path validity for our use). */
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.authorityKeyIdentifier,
  OID.extKeyUsage,
]);

const cache = new Map<string, Certificate>();
const CACHE_LIMIT = 512;

/**
 * Lowercase hex SHA-256 of `der`. One-shot `hash`: a chain validation and each certificate
 * look-up take several per signature, and createHash's object costs more than the hashing.
 */
export function fingerprintOf(der: Uint8Array): string {
  return hash("sha256", der, "hex");
}

/**
 * The facts of a DER certificate (memoised by fingerprint). Throws NOT_A_CERTIFICATE naming the
 * fingerprint and the first fault when it is not one.
 *
 * @example
 *   const { subject, notAfter, extendedKeyUsages } = certificate(der);
 */
export function certificate(der: Uint8Array): Certificate {
  const fingerprint = fingerprintOf(der);
  const hit = cache.get(fingerprint);
  if (hit !== undefined) return hit;
  const copy = Uint8Array.from(der);
  let facts: Certificate;
  try {
    facts = parse(copy, fingerprint);
  } catch (e) {
    // A fault of the DER reader is worded as the fault alone: this message names the certificate.
    const why =
      e instanceof TrailsealError && e.cause instanceof DerError
        ? e.cause.message
        : (e as Error).message;
    throw new TrailsealError(
      "NOT_A_CERTIFICATE",
      `not an X.509 certificate (sha256:${fingerprint}): ${why}`,
      { cause: e },
    );
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(fingerprint, facts);
  return facts;
}

interface Extensions {
  isCa: boolean;
  pathLenConstraint: number | undefined;
  keyUsage: Set<string> | null;
  extendedKeyUsages: string[];
  ekuCritical: boolean | null;
  subjectKeyIdentifier: Uint8Array | null;
  unknownCriticalExtensions: string[];
}

function parse(der: Uint8Array, fingerprint: string): Certificate {
  const r: DerReader = new DerReader(der, "certificate", "NOT_A_CERTIFICATE");
  const [tbsTlv, sigAlg, sigValue, extra] = r.children(
    r.expect(r.whole(), TAG.SEQUENCE, "Certificate"),
  );
  r.expect(sigValue, TAG.BIT_STRING, "signatureValue");
  if (extra !== undefined) r.fail("unexpected element after signatureValue");
  const tbs = r.children(r.expect(tbsTlv, TAG.SEQUENCE, "tbsCertificate"));
  // version [0] EXPLICIT is optional (v1 certificates omit it).
  const f = tbs[0]?.tag === TAG.CTX0 ? tbs.slice(1) : tbs;
  const serialTlv = r.expect(f[0], TAG.INTEGER, "serialNumber");
  const issuer = r.expect(f[2], TAG.SEQUENCE, "issuer");
  const validity = r.children(r.expect(f[3], TAG.SEQUENCE, "validity"));
  const subject = r.expect(f[4], TAG.SEQUENCE, "subject");
  const spkiTlv = r.expect(f[5], TAG.SEQUENCE, "subjectPublicKeyInfo");
  const spki = r.raw(spkiTlv);
  const spkiAlgorithm = r.algorithm(r.children(spkiTlv)[0], "subjectPublicKeyInfo algorithm").oid;
  const extensions = readExtensions(
    r,
    f.slice(6).find((t) => t.tag === TAG.CTX3),
  );
  const signatureAlgorithm = r.algorithm(sigAlg, "signatureAlgorithm");
  const serialBytes = r.value(serialTlv);
  const native = new X509Certificate(der);
  let publicKey: KeyObject | undefined;
  return {
    der,
    fingerprint,
    subject: displayName(native.subject),
    issuer: displayName(native.issuer),
    issuerDer: r.raw(issuer),
    subjectDer: r.raw(subject),
    serial: Buffer.from(serialBytes).toString("hex"),
    serialBytes,
    serialNumber: r.bigint(serialTlv, "serialNumber"),
    ...validityOf(r, validity),
    spki,
    spkiFingerprint: fingerprintOf(spki),
    spkiAlgorithm,
    get publicKey(): KeyObject {
      publicKey ??= readPublicKey(spki, spkiAlgorithm);
      return publicKey;
    },
    ...extensions,
    signatureAlgorithm,
    weakSignatureHash: weakSignatureHash(signatureAlgorithm),
    verifiedBy: (issuerKey) => {
      try {
        return native.verify(issuerKey);
      } catch {
        return false;
      }
    },
  };
}

/** The validity times (RFC 5280 §4.1.2.5), kept readable when one does not parse. */
function validityOf(
  r: DerReader,
  validity: readonly Tlv[],
): { notBefore: Date; notAfter: Date; invalidTime: string | null } {
  const problems: string[] = [];
  const [notBefore, notAfter] = (["notBefore", "notAfter"] as const).map((name, i) => {
    try {
      return r.time(validity[i], name);
    } catch (e) {
      if (!(e instanceof TrailsealError) && !(e instanceof DerError)) throw e;
      problems.push(`${name}: ${e.message}`);
      return new Date(NaN);
    }
  }) as [Date, Date];
  return { notBefore, notAfter, invalidTime: problems.length === 0 ? null : problems.join("; ") };
}

/** True when `cert` is within its validity period at `at` (never when a time is invalid). */
export function validAt(cert: Certificate, at: Date): boolean {
  return (
    cert.invalidTime === null &&
    at.getTime() >= cert.notBefore.getTime() &&
    at.getTime() <= cert.notAfter.getTime()
  );
}

/** A validity time for messages: ISO 8601, or "an invalid time". */
export function shownTime(d: Date): string {
  return Number.isNaN(d.getTime()) ? "an invalid time" : d.toISOString();
}

function readPublicKey(spki: Uint8Array, algorithm: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the certificate's public key (algorithm ${algorithm}) is not one OpenSSL reads`,
      { cause: e },
    );
  }
}

/** Extensions (RFC 5280 §4.1.2.9, §4.2): only those we act on are decoded. */
function readExtensions(r: DerReader, wrapper: Tlv | undefined): Extensions {
  const out: Extensions = {
    isCa: false,
    pathLenConstraint: undefined,
    keyUsage: null,
    extendedKeyUsages: [],
    ekuCritical: null,
    subjectKeyIdentifier: null,
    unknownCriticalExtensions: [],
  };
  if (wrapper === undefined) return out;
  const list = r.expect(r.children(wrapper)[0], TAG.SEQUENCE, "extensions");
  for (const ext of r.children(list)) {
    const parts = r.children(r.expect(ext, TAG.SEQUENCE, "Extension"));
    const id = r.oid(parts[0], "extnID");
    const critical = parts[1]?.tag === TAG.BOOLEAN ? r.bool(parts[1], "critical") : false;
    const value = r.value(r.expect(parts[parts.length - 1], TAG.OCTET_STRING, "extnValue"));
    const v: DerReader = new DerReader(value, `extension ${id}`, "NOT_A_CERTIFICATE");
    switch (id) {
      case OID.basicConstraints: {
        const bc = v.children(v.expect(v.whole(), TAG.SEQUENCE, "basicConstraints"));
        let i = 0;
        if (bc[i]?.tag === TAG.BOOLEAN) out.isCa = v.bool(bc[i++], "cA");
        if (bc[i] !== undefined) out.pathLenConstraint = v.int(bc[i], "pathLenConstraint");
        break;
      }
      case OID.keyUsage: {
        // KeyUsage ::= BIT STRING (RFC 5280 §4.2.1.3); bit 0 is the most significant bit.
        const bits = v.value(v.expect(v.whole(), TAG.BIT_STRING, "keyUsage")).subarray(1);
        const usage = new Set<string>();
        KEY_USAGE_BITS.forEach((name, i) => {
          const byte = bits[i >> 3];
          if (byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0) usage.add(name);
        });
        out.keyUsage = usage;
        break;
      }
      case OID.extKeyUsage:
        out.extendedKeyUsages = v
          .children(v.expect(v.whole(), TAG.SEQUENCE, "extKeyUsage"))
          .map((p) => v.oid(p, "KeyPurposeId"));
        out.ekuCritical = critical;
        break;
      case OID.subjectKeyIdentifier:
        out.subjectKeyIdentifier = v.value(
          v.expect(v.whole(), TAG.OCTET_STRING, "subjectKeyIdentifier"),
        );
        break;
    }
    if (critical && !KNOWN_CRITICAL.has(id)) out.unknownCriticalExtensions.push(id);
  }
  return out;
}

/** node prints a Name one RDN per line; one line reads better in messages. */
function displayName(name: string | undefined): string {
  // node gives no string at all for an empty Name (a subject left empty, RFC 5280 §4.1.2.6).
  return (name ?? "").split("\n").join(", ");
}

/**
 * Full parse by OpenSSL (through node:crypto), so "valid DER" means what openssl would accept.
 * Throws DerError with OpenSSL's reason.
 */
export function checkWithOpenssl(der: Uint8Array): void {
  try {
    new X509Certificate(der);
  } catch (e) {
    throw new DerError(`certificate does not parse: ${(e as Error).message}`);
  }
}

/** RFC 5280 §4.2.1.3: a key that signs data needs digitalSignature (or nonRepudiation), if restricted. */
export function allowsSigning(cert: Certificate): boolean {
  const ku = cert.keyUsage;
  return ku === null || ku.has("digitalSignature") || ku.has("nonRepudiation");
}
