/**
 * The ASN.1 of CMS SignedData (RFC 5652 §5) and the attributes trailseal signs, as plain DER.
 *
 * pkijs re-encodes what it parses and defaults to SHA-1; a detached checkpoint signature needs
 * neither, and adding an unsigned attribute (a CAdES-T timestamp) must leave every signed byte as
 * it was. So this module reads DER into tag-length-value slices of the original bytes and writes
 * DER by concatenation. Nothing here signs or hashes: src/sign.ts does that with node:crypto.
 *
 * Input is DER only (X.690 §10): indefinite lengths (BER) are refused.
 */
import { TrailsealError } from "../errors.js";
import { concat } from "../bytes.js";

// ---------------------------------------------------------------------------------------------
// DER reading

interface Tlv {
  readonly tag: number;
  /** Offsets into the buffer: header start, value start, one past the end. */
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}

  fail(why: string): never {
    throw new TrailsealError("SIGNATURE_INVALID", `${this.what} is malformed: ${why}`);
  }

  /** Reads the TLV at `offset` (X.690 §8.1.2–8.1.3; definite lengths only, §10.1). */
  tlv(offset: number, limit: number): Tlv {
    const b = this.bytes;
    if (offset + 2 > limit) this.fail(`truncated at byte ${offset}`);
    const tag = b[offset]!;
    if ((tag & 0x1f) === 0x1f) this.fail(`multi-byte tag at byte ${offset}`);
    let pos = offset + 1;
    const lb = b[pos++]!;
    let length = lb;
    if (lb >= 0x80) {
      const n = lb & 0x7f;
      if (n === 0) this.fail(`indefinite length at byte ${offset} (BER, not DER)`);
      if (n > 4 || pos + n > limit) this.fail(`bad length at byte ${offset}`);
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + b[pos++]!;
      // X.690 §10.1: the shortest form, so each value has exactly one encoding.
      if (length < 0x80 || b[offset + 2] === 0) this.fail(`non-minimal length at byte ${offset}`);
    }
    const end = pos + length;
    if (end > limit) this.fail(`truncated: element at byte ${offset} runs past its container`);
    return { tag, start: offset, valueStart: pos, end };
  }

  whole(): Tlv {
    const t = this.tlv(0, this.bytes.length);
    if (t.end !== this.bytes.length) this.fail(`${this.bytes.length - t.end} trailing byte(s)`);
    return t;
  }

  children(parent: Tlv): Tlv[] {
    if ((parent.tag & 0x20) === 0)
      this.fail(`expected a constructed element at byte ${parent.start}`);
    const out: Tlv[] = [];
    for (let pos = parent.valueStart; pos < parent.end;) {
      const c = this.tlv(pos, parent.end);
      out.push(c);
      pos = c.end;
    }
    return out;
  }

  expect(t: Tlv | undefined, tag: number, name: string): Tlv {
    if (t === undefined) this.fail(`${name} missing`);
    if (t.tag !== tag) this.fail(`${name}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
    return t;
  }

  raw(t: Tlv): Uint8Array {
    return this.bytes.subarray(t.start, t.end);
  }

  value(t: Tlv): Uint8Array {
    return this.bytes.subarray(t.valueStart, t.end);
  }

  oid(t: Tlv | undefined, name: string): string {
    return decodeOidValue(this.value(this.expect(t, TAG.OID, name)), this);
  }

  int(t: Tlv | undefined, name: string): number {
    const v = this.value(this.expect(t, TAG.INTEGER, name));
    if (v.length === 0 || v.length > 4 || (v[0]! & 0x80) !== 0)
      this.fail(`${name}: unsupported integer`);
    let n = 0;
    for (const x of v) n = n * 256 + x;
    return n;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function decodeOidValue(v: Uint8Array, r: Reader): string {
  if (v.length === 0) r.fail("empty object identifier");
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (n === 0 && b === 0x80) r.fail("non-minimal object identifier");
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) r.fail("object identifier arc too large");
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    } else if (i === v.length - 1) r.fail("truncated object identifier");
  }
  return arcs.join(".");
}

const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  CTX0: 0xa0,
  CTX1: 0xa1,
  CTX2: 0xa2,
  CTX3: 0xa3,
  CTX4: 0xa4,
  CTX0_PRIMITIVE: 0x80,
} as const;

// ---------------------------------------------------------------------------------------------
// DER writing

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  const n = body.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else if (n < 0x1000000) header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  else header = [tag, 0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return concat(new Uint8Array(header), body);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF: DER orders the encodings of the elements (X.690 §11.6). */
function setOf(elements: readonly Uint8Array[], tag: number = TAG.SET): Uint8Array {
  return tlv(tag, ...[...elements].sort(compareBytes));
}

/** An OBJECT IDENTIFIER TLV (X.690 §8.19). */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new TypeError(`bad object identifier ${oid}`);
  }
  const out: number[] = [];
  const push = (n: number): void => {
    const bytes = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) bytes.unshift((n & 0x7f) | 0x80);
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, new Uint8Array(out));
}

function encodeSmallInt(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if ((bytes[0]! & 0x80) !== 0) bytes.unshift(0);
  return tlv(TAG.INTEGER, new Uint8Array(bytes));
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, bytes);
}

/**
 * A CMS Time (RFC 5652 §11.3): UTCTime for 1950..2049, GeneralizedTime otherwise, whole seconds
 * in UTC with a `Z` (fractions are dropped, as DER requires no trailing zeros and we need none).
 */
export function encodeTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  const p = (n: number): string => String(n).padStart(2, "0");
  const rest =
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds()) +
    "Z";
  if (y >= 1950 && y < 2050) {
    return tlv(TAG.UTC_TIME, new TextEncoder().encode(p(y % 100) + rest));
  }
  return tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode(String(y).padStart(4, "0") + rest));
}

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2) with optional DER parameters. */
export function encodeAlgorithm(oid: string, parameters?: Uint8Array): Uint8Array {
  return tlv(TAG.SEQUENCE, encodeOid(oid), ...(parameters === undefined ? [] : [parameters]));
}

export const DER_NULL = new Uint8Array([0x05, 0x00]);

// ---------------------------------------------------------------------------------------------
// OIDs

export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  /** RFC 2634 §5.4 (ESSCertID, SHA-1). */
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  /** RFC 5035 §3 (ESSCertIDv2). */
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  /** RFC 3161 appendix A / CAdES-T. */
  signatureTimeStampToken: "1.2.840.113549.1.9.16.2.14",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha1WithRSAEncryption: "1.2.840.113549.1.1.5",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  rsassaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha1: "1.2.840.10045.4.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
} as const;

// ---------------------------------------------------------------------------------------------
// SignedData

/** One Attribute (RFC 5652 §5.3): its type and the DER of each AttributeValue. */
export interface Attribute {
  oid: string;
  values: Uint8Array[];
}

export interface AlgorithmIdentifier {
  oid: string;
  /** The DER of the parameters, or null when absent. */
  parameters: Uint8Array | null;
}

export type SignerIdentifier =
  | { kind: "issuerAndSerialNumber"; issuer: Uint8Array; serial: Uint8Array }
  | { kind: "subjectKeyIdentifier"; keyIdentifier: Uint8Array };

export interface SignerInfoParts {
  version: number;
  sid: SignerIdentifier;
  digestAlgorithm: AlgorithmIdentifier;
  signedAttrs: Attribute[] | null;
  /**
   * The signed attributes exactly as received, re-tagged as SET OF (0x31): the bytes the
   * signature covers (RFC 5652 §5.4). Null when there are none.
   */
  signedAttrsDer: Uint8Array | null;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
  unsignedAttrs: Attribute[];
}

export interface SignedDataParts {
  version: number;
  digestAlgorithms: string[];
  eContentType: string;
  /** The encapsulated content, or null when detached. */
  eContent: Uint8Array | null;
  /** The certificate set's X.509 certificates (other certificate formats are skipped). */
  certificates: Uint8Array[];
  signerInfos: SignerInfoParts[];
}

/** Decodes a ContentInfo holding SignedData. Throws SIGNATURE_INVALID when malformed. */
export function decodeSignedData(der: Uint8Array, what = "signature"): SignedDataParts {
  const r: Reader = new Reader(der, what);
  const ci = r.children(r.expect(r.whole(), TAG.SEQUENCE, "ContentInfo"));
  const contentType = r.oid(ci[0], "ContentInfo contentType");
  if (contentType !== OID.signedData) r.fail(`content type ${contentType} is not SignedData`);
  const explicit = r.children(r.expect(ci[1], TAG.CTX0, "ContentInfo content"));
  const sd = r.children(r.expect(explicit[0], TAG.SEQUENCE, "SignedData"));
  let i = 0;
  const version = r.int(sd[i++], "SignedData version");
  const digestAlgorithms = r
    .children(r.expect(sd[i++], TAG.SET, "digestAlgorithms"))
    .map((a) => algorithm(r, a, "digestAlgorithm").oid);
  const eci = r.children(r.expect(sd[i++], TAG.SEQUENCE, "encapContentInfo"));
  const eContentType = r.oid(eci[0], "eContentType");
  let eContent: Uint8Array | null = null;
  if (eci[1] !== undefined) {
    const inner = r.children(r.expect(eci[1], TAG.CTX0, "eContent"));
    eContent = r.value(r.expect(inner[0], TAG.OCTET_STRING, "eContent"));
  }
  const certificates: Uint8Array[] = [];
  if (sd[i]?.tag === TAG.CTX0) {
    for (const c of r.children(sd[i++]!)) if (c.tag === TAG.SEQUENCE) certificates.push(r.raw(c));
  }
  if (sd[i]?.tag === TAG.CTX1) i++; // revocationInfoChoices: not used
  const signerInfos = r
    .children(r.expect(sd[i++], TAG.SET, "signerInfos"))
    .map((s) => signerInfo(r, s));
  if (i !== sd.length) r.fail("unexpected element after signerInfos");
  return { version, digestAlgorithms, eContentType, eContent, certificates, signerInfos };
}

function algorithm(r: Reader, t: Tlv | undefined, name: string): AlgorithmIdentifier {
  const parts = r.children(r.expect(t, TAG.SEQUENCE, name));
  const oid = r.oid(parts[0], name);
  if (parts.length > 2) r.fail(`${name}: unexpected element`);
  return { oid, parameters: parts[1] === undefined ? null : r.raw(parts[1]) };
}

function attributes(r: Reader, t: Tlv): Attribute[] {
  return r.children(t).map((a) => {
    const parts = r.children(r.expect(a, TAG.SEQUENCE, "Attribute"));
    const oid = r.oid(parts[0], "attribute type");
    const values = r
      .children(r.expect(parts[1], TAG.SET, `attribute ${oid} values`))
      .map((v) => r.raw(v));
    if (parts.length !== 2) r.fail(`attribute ${oid}: unexpected element`);
    return { oid, values };
  });
}

function signerInfo(r: Reader, t: Tlv): SignerInfoParts {
  const s = r.children(r.expect(t, TAG.SEQUENCE, "SignerInfo"));
  let i = 0;
  const version = r.int(s[i++], "SignerInfo version");
  const sidTlv = s[i++];
  let sid: SignerIdentifier;
  if (sidTlv?.tag === TAG.SEQUENCE) {
    const ias = r.children(sidTlv);
    const issuer = r.expect(ias[0], TAG.SEQUENCE, "sid issuer");
    sid = {
      kind: "issuerAndSerialNumber",
      issuer: r.raw(issuer),
      serial: r.value(r.expect(ias[1], TAG.INTEGER, "sid serialNumber")),
    };
  } else if (sidTlv?.tag === TAG.CTX0_PRIMITIVE) {
    sid = { kind: "subjectKeyIdentifier", keyIdentifier: r.value(sidTlv) };
  } else {
    r.fail("SignerInfo sid missing or of unknown form");
  }
  const digestAlgorithm = algorithm(r, s[i++], "SignerInfo digestAlgorithm");
  let signedAttrs: Attribute[] | null = null;
  let signedAttrsDer: Uint8Array | null = null;
  if (s[i]?.tag === TAG.CTX0) {
    const t0 = s[i++]!;
    signedAttrs = attributes(r, t0);
    // RFC 5652 §5.4: the signature covers the EXPLICIT SET OF tag, not the [0] IMPLICIT one.
    signedAttrsDer = new Uint8Array(r.raw(t0));
    signedAttrsDer[0] = TAG.SET;
  }
  const signatureAlgorithm = algorithm(r, s[i++], "SignerInfo signatureAlgorithm");
  const signature = r.value(r.expect(s[i++], TAG.OCTET_STRING, "SignerInfo signature"));
  let unsignedAttrs: Attribute[] = [];
  if (s[i]?.tag === TAG.CTX1) unsignedAttrs = attributes(r, s[i++]!);
  if (i !== s.length) r.fail("unexpected element at the end of SignerInfo");
  return {
    version,
    sid,
    digestAlgorithm,
    signedAttrs,
    signedAttrsDer,
    signatureAlgorithm,
    signature: new Uint8Array(signature),
    unsignedAttrs,
  };
}

/** The DER SET OF Attribute that a signer signs (RFC 5652 §5.4), sorted per X.690 §11.6. */
export function encodeSignedAttributes(attrs: readonly Attribute[]): Uint8Array {
  return setOf(attrs.map(encodeAttribute));
}

function encodeAttribute(a: Attribute): Uint8Array {
  return tlv(TAG.SEQUENCE, encodeOid(a.oid), setOf(a.values));
}

export interface SignedDataInput {
  /** DER certificates for the certificate set (leaf first by convention; DER sorts them). */
  certificates: readonly Uint8Array[];
  digestAlgorithm: string;
  /** The signer's issuer Name DER and serial INTEGER content octets. */
  issuer: Uint8Array;
  serial: Uint8Array;
  /** As returned by encodeSignedAttributes: the SET OF that was signed. */
  signedAttributes: Uint8Array;
  signatureAlgorithm: string;
  signatureParameters?: Uint8Array;
  signature: Uint8Array;
}

/** A detached SignedData ContentInfo (RFC 5652 §5.1) with one SignerInfo, version 1 throughout. */
export function encodeSignedData(input: SignedDataInput): Uint8Array {
  const digestAlg = encodeAlgorithm(input.digestAlgorithm);
  // [0] IMPLICIT replaces the SET tag of the signed attributes; the body stays byte for byte.
  const signedAttrs = new Uint8Array(input.signedAttributes);
  signedAttrs[0] = TAG.CTX0;
  const signer = tlv(
    TAG.SEQUENCE,
    encodeSmallInt(1),
    tlv(TAG.SEQUENCE, input.issuer, tlv(TAG.INTEGER, input.serial)),
    digestAlg,
    signedAttrs,
    encodeAlgorithm(input.signatureAlgorithm, input.signatureParameters),
    encodeOctetString(input.signature),
  );
  const signedData = tlv(
    TAG.SEQUENCE,
    encodeSmallInt(1),
    setOf([digestAlg]),
    tlv(TAG.SEQUENCE, encodeOid(OID.data)),
    setOf(input.certificates, TAG.CTX0),
    setOf([signer]),
  );
  return tlv(TAG.SEQUENCE, encodeOid(OID.signedData), tlv(TAG.CTX0, signedData));
}

/**
 * Adds `valueDer` as a value of the unsigned attribute `oid` of the only SignerInfo (a new
 * attribute, or one more value of an existing one). Only the enclosing lengths change: the signed
 * attributes, signature and certificates keep their exact bytes.
 */
export function addUnsignedAttribute(
  signedData: Uint8Array,
  oid: string,
  valueDer: Uint8Array,
): Uint8Array {
  const r: Reader = new Reader(signedData, "signature");
  new Reader(valueDer, `attribute ${oid} value`).whole();
  const ciTlv = r.expect(r.whole(), TAG.SEQUENCE, "ContentInfo");
  const ci = r.children(ciTlv);
  const explicit = r.expect(ci[1], TAG.CTX0, "ContentInfo content");
  const sdTlv = r.expect(r.children(explicit)[0], TAG.SEQUENCE, "SignedData");
  const sd = r.children(sdTlv);
  const infosTlv = r.expect(sd[sd.length - 1], TAG.SET, "signerInfos");
  const infos = r.children(infosTlv);
  if (infos.length !== 1) r.fail(`expected exactly one SignerInfo, found ${infos.length}`);
  const si = r.children(r.expect(infos[0], TAG.SEQUENCE, "SignerInfo"));
  const last = si[si.length - 1]!;
  const kept = last.tag === TAG.CTX1 ? si.slice(0, -1) : si;
  const unsigned = last.tag === TAG.CTX1 ? attributes(r, last) : [];
  const existing = unsigned.find((a) => a.oid === oid);
  if (existing !== undefined) existing.values.push(valueDer);
  else unsigned.push({ oid, values: [valueDer] });
  const newSigner = tlv(
    TAG.SEQUENCE,
    ...kept.map((t) => r.raw(t)),
    setOf(unsigned.map(encodeAttribute), TAG.CTX1),
  );
  const newSd = tlv(TAG.SEQUENCE, ...sd.slice(0, -1).map((t) => r.raw(t)), tlv(TAG.SET, newSigner));
  return tlv(TAG.SEQUENCE, r.raw(ci[0]!), tlv(TAG.CTX0, newSd));
}

// ---------------------------------------------------------------------------------------------
// Attribute values

/** contentType value: an OBJECT IDENTIFIER. */
export function decodeOid(valueDer: Uint8Array, what: string): string {
  const r: Reader = new Reader(valueDer, what);
  return r.oid(r.whole(), what);
}

/** messageDigest value: an OCTET STRING. */
export function decodeOctetString(valueDer: Uint8Array, what: string): Uint8Array {
  const r: Reader = new Reader(valueDer, what);
  return r.value(r.expect(r.whole(), TAG.OCTET_STRING, what));
}

/** signingTime value (RFC 5652 §11.3): UTCTime or GeneralizedTime, in UTC with seconds. */
export function decodeTime(valueDer: Uint8Array, what: string): Date {
  const r: Reader = new Reader(valueDer, what);
  const t = r.whole();
  const s = new TextDecoder().decode(r.value(t));
  let m: RegExpMatchArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (
    t.tag === TAG.GENERALIZED_TIME &&
    (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d*[1-9])?Z$/.exec(s))
  ) {
    year = Number(m[1]);
  } else {
    r.fail(`not a UTC time: ${JSON.stringify(s)}`);
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    r.fail(`invalid date ${JSON.stringify(s)}`);
  }
  return date;
}

/** One ESSCertIDv2 (RFC 5035 §4). `hashAlgorithm` defaults to SHA-256 when absent. */
export interface EssCertId {
  hashAlgorithm: string;
  certHash: Uint8Array;
  /** From issuerSerial when present: the directoryName DERs of the GeneralNames and the serial. */
  issuerSerial: { issuers: Uint8Array[]; serial: Uint8Array } | null;
}

/**
 * SigningCertificateV2 value (RFC 5035 §3) for one certificate: its SHA-256 hash (the default
 * hashAlgorithm, so omitted per DER) and issuerSerial (the issuer as a directoryName).
 */
export function encodeSigningCertificateV2(
  certSha256: Uint8Array,
  issuer: Uint8Array,
  serial: Uint8Array,
): Uint8Array {
  const issuerSerial = tlv(
    TAG.SEQUENCE,
    tlv(TAG.SEQUENCE, tlv(TAG.CTX4, issuer)), // GeneralNames { directoryName [4] EXPLICIT Name }
    tlv(TAG.INTEGER, serial),
  );
  const essCertIdV2 = tlv(TAG.SEQUENCE, encodeOctetString(certSha256), issuerSerial);
  return tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, essCertIdV2));
}

/** Decodes a SigningCertificateV2 value (RFC 5035 §3); policies are ignored. */
export function decodeSigningCertificateV2(valueDer: Uint8Array): EssCertId[] {
  const r: Reader = new Reader(valueDer, "signingCertificateV2 attribute");
  const top = r.children(r.expect(r.whole(), TAG.SEQUENCE, "SigningCertificateV2"));
  return r.children(r.expect(top[0], TAG.SEQUENCE, "certs")).map((c) => {
    const parts = r.children(r.expect(c, TAG.SEQUENCE, "ESSCertIDv2"));
    let i = 0;
    let hashAlgorithm: string = OID.sha256;
    if (parts[i]?.tag === TAG.SEQUENCE)
      hashAlgorithm = algorithm(r, parts[i++], "ESSCertIDv2 hashAlgorithm").oid;
    const certHash = r.value(r.expect(parts[i++], TAG.OCTET_STRING, "ESSCertIDv2 certHash"));
    let issuerSerial: EssCertId["issuerSerial"] = null;
    if (parts[i] !== undefined) {
      const is = r.children(r.expect(parts[i], TAG.SEQUENCE, "issuerSerial"));
      const issuers = r
        .children(r.expect(is[0], TAG.SEQUENCE, "issuerSerial issuer"))
        .filter((g) => g.tag === TAG.CTX4)
        .map((g) => r.raw(r.children(g)[0] ?? r.fail("empty directoryName")));
      issuerSerial = {
        issuers,
        serial: r.value(r.expect(is[1], TAG.INTEGER, "issuerSerial serialNumber")),
      };
    }
    return { hashAlgorithm, certHash, issuerSerial };
  });
}

/** RSASSA-PSS-params (RFC 4055 §3.1) for one hash, MGF1 with the same hash, and a salt length. */
export function encodePssParameters(hashOid: string, saltLength: number): Uint8Array {
  const hash = encodeAlgorithm(hashOid, DER_NULL);
  return tlv(
    TAG.SEQUENCE,
    tlv(TAG.CTX0, hash),
    tlv(TAG.CTX1, encodeAlgorithm(OID.mgf1, hash)),
    tlv(TAG.CTX2, encodeSmallInt(saltLength)),
  );
}

/** Decodes RSASSA-PSS-params; absent fields take the RFC 4055 defaults (SHA-1, MGF1-SHA-1, 20). */
export function decodePssParameters(der: Uint8Array | null): {
  hash: string;
  mgfHash: string;
  saltLength: number;
} {
  let hash: string = OID.sha1;
  let mgfHash: string = OID.sha1;
  let saltLength = 20;
  if (der === null) return { hash, mgfHash, saltLength };
  let lastTag = 0;
  const r: Reader = new Reader(der, "RSASSA-PSS parameters");
  for (const f of r.children(r.expect(r.whole(), TAG.SEQUENCE, "RSASSA-PSS-params"))) {
    const inner = r.children(f)[0];
    if (f.tag <= lastTag) r.fail("fields out of order or repeated");
    lastTag = f.tag;
    if (f.tag === TAG.CTX0) hash = hashAlgorithm(r, inner, "hashAlgorithm");
    else if (f.tag === TAG.CTX1) {
      const mgf = algorithm(r, inner, "maskGenAlgorithm");
      if (mgf.oid !== OID.mgf1) r.fail(`mask generation ${mgf.oid} is not MGF1`);
      if (mgf.parameters === null) r.fail("MGF1 without a hash");
      const pr: Reader = new Reader(mgf.parameters, "MGF1 parameters");
      mgfHash = hashAlgorithm(pr, pr.whole(), "MGF1 hash");
    } else if (f.tag === TAG.CTX2) saltLength = r.int(inner, "saltLength");
    else if (f.tag === TAG.CTX3) {
      if (r.int(inner, "trailerField") !== 1) r.fail("trailerField is not 1");
    } else r.fail("unknown field");
  }
  return { hash, mgfHash, saltLength };
}

/** A hash AlgorithmIdentifier: parameters absent or NULL (RFC 5754 §2). */
function hashAlgorithm(r: Reader, t: Tlv | undefined, name: string): string {
  const a = algorithm(r, t, name);
  const p = a.parameters;
  if (p !== null && !(p.length === 2 && p[0] === TAG.NULL && p[1] === 0)) {
    r.fail(`${name}: parameters must be absent or NULL`);
  }
  return a.oid;
}
