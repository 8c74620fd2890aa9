/**
 * A minimal DER reader (X.690 §8.1, §10): enough to tell what a blob is (certificate, PKCS#7,
 * PKCS#12, private key, CSR, public key), to slice certificates out of PKCS#7 bundles and the
 * SubjectPublicKeyInfo out of a certificate with their exact bytes, and to name the first
 * structural fault. It never re-encodes, so fingerprints are of the bytes as they came.
 */

/** One tag-length-value: `start` is the first header byte, `end` one past the last value byte. */
export interface Tlv {
  readonly tag: number;
  readonly constructed: boolean;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

/** Thrown (and only caught by callers in this folder and pem/keys) when DER is malformed. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Reads the TLV at `offset` (X.690 §8.1.2 identifier, §10.1 definite lengths only). */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  if (offset >= limit) throw new DerError(`truncated at byte ${offset}`);
  const first = bytes[offset]!;
  if ((first & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${offset}`);
  let pos = offset + 1;
  if (pos >= limit) throw new DerError(`truncated at byte ${pos}`);
  const lb = bytes[pos++]!;
  let length: number;
  if (lb < 0x80) {
    length = lb;
  } else {
    const n = lb & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at byte ${offset} (BER, not DER)`);
    if (n > 4) throw new DerError(`length too large at byte ${offset}`);
    if (pos + n > limit) throw new DerError(`truncated at byte ${pos}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[pos++]!;
  }
  const end = pos + length;
  if (end > limit) {
    throw new DerError(`truncated: element at byte ${offset} needs ${end - limit} more bytes`);
  }
  return { tag: first, constructed: (first & 0x20) !== 0, start: offset, valueStart: pos, end };
}

/** The children of a constructed TLV, in order; throws when they do not exactly fill it. */
export function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.end) {
    const child = readTlv(bytes, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Reads the single top-level TLV and checks that nothing follows it. */
export function readWhole(bytes: Uint8Array): Tlv {
  const tlv = readTlv(bytes, 0);
  if (tlv.end !== bytes.length) {
    throw new DerError(`${bytes.length - tlv.end} bytes of trailing data after the DER element`);
  }
  return tlv;
}

export function slice(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

/** The dotted form of an OBJECT IDENTIFIER's value (X.690 §8.19). */
export function oid(bytes: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== 0x06) throw new DerError(`expected an OBJECT IDENTIFIER at byte ${tlv.start}`);
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.valueStart; i < tlv.end; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join(".");
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;

export const OID_PKCS7_SIGNED_DATA = "1.2.840.113549.1.7.2";

/** What a DER blob is, judged by its outer shape only. */
export type DerKind =
  | "certificate"
  | "pkcs7"
  | "pkcs12"
  | "private-key"
  | "encrypted-private-key"
  | "rsa-private-key"
  | "ec-private-key"
  | "certificate-request"
  | "public-key"
  | "unknown";

/**
 * Classifies a DER blob by its outer ASN.1 shape:
 * - Certificate (RFC 5280 §4.1): SEQUENCE { tbs SEQUENCE(≥6), AlgorithmIdentifier, BIT STRING }
 * - CertificationRequest (RFC 2986 §4): same outline, but the info has 4 parts ending in [0]
 * - ContentInfo signedData (RFC 2315 §7): SEQUENCE { OID, [0] EXPLICIT … }
 * - PFX (RFC 7292 §4): SEQUENCE { INTEGER 3, ContentInfo, MacData? }
 * - PrivateKeyInfo (RFC 5208 §5): SEQUENCE { INTEGER 0|1, AlgorithmIdentifier, OCTET STRING … }
 * - EncryptedPrivateKeyInfo (RFC 5208 §6): SEQUENCE { AlgorithmIdentifier, OCTET STRING }
 * - RSAPrivateKey (RFC 8017 A.1.2): SEQUENCE of 9+ INTEGERs
 * - ECPrivateKey (RFC 5915 §3): SEQUENCE { INTEGER 1, OCTET STRING, [0]?, [1]? }
 * - SubjectPublicKeyInfo (RFC 5280 §4.1.2.7): SEQUENCE { AlgorithmIdentifier, BIT STRING }
 * Throws DerError when the bytes are not one well-formed DER element.
 */
export function classify(der: Uint8Array): DerKind {
  const top = readWhole(der);
  if (top.tag !== SEQUENCE) return "unknown";
  const parts = children(der, top);
  const [a, b, c] = parts;
  if (a === undefined || b === undefined) return "unknown";
  if (a.tag === SEQUENCE && b.tag === SEQUENCE && c?.tag === BIT_STRING && parts.length === 3) {
    const inner = children(der, a);
    if (inner.length === 4 && inner[0]?.tag === INTEGER && inner[3]?.tag === 0xa0) {
      return "certificate-request";
    }
    if (inner.length >= 6) return "certificate";
    return "unknown";
  }
  if (a.tag === OID && b.tag === 0xa0) {
    return oid(der, a) === OID_PKCS7_SIGNED_DATA ? "pkcs7" : "unknown";
  }
  if (a.tag === INTEGER) {
    const version = integerValue(der, a);
    if (version === 3 && b.tag === SEQUENCE) return "pkcs12";
    if ((version === 0 || version === 1) && b.tag === SEQUENCE && c?.tag === OCTET_STRING) {
      return "private-key";
    }
    if (version === 1 && b.tag === OCTET_STRING) return "ec-private-key";
    if (version === 0 && parts.length >= 9 && parts.every((p) => p.tag === INTEGER)) {
      return "rsa-private-key";
    }
    return "unknown";
  }
  if (a.tag === SEQUENCE && b.tag === OCTET_STRING && parts.length === 2) {
    return "encrypted-private-key";
  }
  if (a.tag === SEQUENCE && b.tag === BIT_STRING && parts.length === 2) return "public-key";
  return "unknown";
}

function integerValue(bytes: Uint8Array, tlv: Tlv): number {
  if (tlv.end - tlv.valueStart > 4) return -1;
  let v = 0;
  for (let i = tlv.valueStart; i < tlv.end; i++) v = v * 256 + bytes[i]!;
  return v;
}

/** Checks the outline of a Certificate (RFC 5280 §4.1) and returns its TBSCertificate parts. */
export function certificateParts(der: Uint8Array): Tlv[] {
  const top = readWhole(der);
  if (top.tag !== SEQUENCE) throw new DerError("not a SEQUENCE");
  const parts = children(der, top);
  if (parts.length !== 3 || parts[0]?.tag !== SEQUENCE || parts[2]?.tag !== BIT_STRING) {
    throw new DerError("not a certificate: expected tbsCertificate, signatureAlgorithm, signature");
  }
  const tbs = children(der, parts[0]);
  // version [0] EXPLICIT is optional (v1 certificates omit it).
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  if (fields.length < 6) throw new DerError("tbsCertificate has too few fields");
  return fields;
}

/** The exact SubjectPublicKeyInfo bytes of a certificate (RFC 5280 §4.1.2.7). */
export function certificateSpki(der: Uint8Array): Uint8Array {
  const spki = certificateParts(der)[5]!;
  if (spki.tag !== SEQUENCE) throw new DerError("subjectPublicKeyInfo is not a SEQUENCE");
  return slice(der, spki);
}

/**
 * The certificates of a PKCS#7 SignedData bundle (RFC 2315 §9.1; RFC 5652 §5.1), in order,
 * as the exact bytes they have in the bundle. Only X.509 certificates (plain SEQUENCEs) are
 * taken from the `certificates [0] IMPLICIT` set; attribute certificates are skipped.
 */
export function pkcs7Certificates(der: Uint8Array): Uint8Array[] {
  const top = readWhole(der);
  const [type, explicit] = children(der, top);
  if (type === undefined || explicit === undefined || oid(der, type) !== OID_PKCS7_SIGNED_DATA) {
    throw new DerError("not a PKCS#7 signedData ContentInfo");
  }
  const signedData = children(der, explicit)[0];
  if (signedData?.tag !== SEQUENCE) throw new DerError("signedData is not a SEQUENCE");
  const out: Uint8Array[] = [];
  for (const field of children(der, signedData)) {
    if (field.tag !== 0xa0) continue;
    for (const cert of children(der, field)) {
      if (cert.tag === SEQUENCE) out.push(slice(der, cert));
    }
  }
  return out;
}

export { SEQUENCE, SET, INTEGER, BIT_STRING, OCTET_STRING, OID };

/** The algorithm OID of a PrivateKeyInfo (RFC 5208 §5), or undefined when it is not one. */
export function privateKeyAlgorithm(der: Uint8Array): string | undefined {
  try {
    if (classify(der) !== "private-key") return undefined;
    const [, algorithm] = children(der, readWhole(der));
    const algorithmOid = algorithm === undefined ? undefined : children(der, algorithm)[0];
    return algorithmOid === undefined ? undefined : oid(der, algorithmOid);
  } catch {
    return undefined;
  }
}

/** The algorithm OID of a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), or undefined. */
export function spkiAlgorithm(spki: Uint8Array): string | undefined {
  try {
    const [algorithm] = children(spki, readWhole(spki));
    const algorithmOid = algorithm === undefined ? undefined : children(spki, algorithm)[0];
    return algorithmOid === undefined ? undefined : oid(spki, algorithmOid);
  } catch {
    return undefined;
  }
}
