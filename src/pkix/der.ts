/**
 * The one DER layer of trailseal (X.690). Reading: tag-length-value slices of the original bytes,
 * strict DER by default and BER by an explicit mode for the containers that are BER by definition
 * (PKCS#7, PKCS#12); it never re-encodes, so fingerprints and signatures are over the bytes as
 * they came. `DerReader` names the structure and the first fault in a TrailsealError. Writing:
 * TLVs by concatenation in DER (shortest lengths, sorted SET OF). Also: what a blob is (classify)
 * and the certificates of a PKCS#7 bundle.
 */
import { TrailsealError, type ErrorCode } from "../errors.js";
import { concat, utf8 } from "../bytes.js";
import { OID } from "./oid.js";

/**
 * How strictly to read. "der" (the default) is X.690 §10: definite lengths in their shortest form
 * and primitive strings. "ber" is X.690 §8 as PKCS#7 and PKCS#12 containers use it (they are BER
 * by definition, RFC 2315 §7, RFC 7292 §4): indefinite lengths and constructed strings are taken.
 * Slices keep the exact bytes either way, so a certificate inside a BER bundle is still its DER.
 */
export type DerMode = "der" | "ber";

/** One tag-length-value: `start` is the first header byte, `end` one past the last byte. */
export interface Tlv {
  readonly tag: number;
  readonly constructed: boolean;
  readonly start: number;
  readonly valueStart: number;
  /** One past the last content byte: `end`, or `end - 2` before an end-of-contents (BER). */
  readonly valueEnd: number;
  readonly end: number;
  readonly mode: DerMode;
}

/** Thrown (and only caught by callers in this folder and pem/keys) when DER is malformed. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Nesting deeper than this is an attack on the reader, not a certificate. */
const MAX_DEPTH = 64;

/** Reads the TLV at `offset` (X.690 §8.1.2 identifier, §8.1.3 length; §10.1 for DER). */
export function readTlv(
  bytes: Uint8Array,
  offset: number,
  limit = bytes.length,
  mode: DerMode = "der",
  depth = 0,
): Tlv {
  if (offset >= limit) throw new DerError(`truncated at byte ${offset}`);
  if (depth > MAX_DEPTH) throw new DerError(`nested deeper than ${MAX_DEPTH} at byte ${offset}`);
  const first = bytes[offset]!;
  if ((first & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${offset}`);
  const constructed = (first & 0x20) !== 0;
  let pos = offset + 1;
  if (pos >= limit) throw new DerError(`truncated at byte ${pos}`);
  const lb = bytes[pos++]!;
  if (lb === 0x80) {
    if (mode === "der") throw new DerError(`indefinite length at byte ${offset} (BER, not DER)`);
    if (!constructed) throw new DerError(`indefinite length of a primitive at byte ${offset}`);
    return indefinite(bytes, offset, first, pos, limit, depth);
  }
  let length = lb;
  if (lb > 0x80) {
    const n = lb & 0x7f;
    if (n > 4) throw new DerError(`length too large at byte ${offset}`);
    if (pos + n > limit) throw new DerError(`truncated at byte ${pos}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[pos++]!;
    // X.690 §10.1: the shortest form, so that each value has exactly one encoding.
    if (mode === "der" && (length < 0x80 || bytes[offset + 2] === 0)) {
      throw new DerError(`non-minimal length at byte ${offset}`);
    }
  }
  const end = pos + length;
  if (end > limit) {
    throw new DerError(`truncated: element at byte ${offset} needs ${end - limit} more bytes`);
  }
  if (mode === "der" && constructed && (first & 0xc0) === 0 && STRING_TAGS.has(first & 0x1f)) {
    throw new DerError(`constructed string at byte ${offset} (BER, not DER)`);
  }
  return { tag: first, constructed, start: offset, valueStart: pos, valueEnd: end, end, mode };
}

/** Universal string types that DER requires primitive (X.690 §10.2): BIT/OCTET and char strings. */
const STRING_TAGS = new Set([3, 4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30]);

/** X.690 §8.1.3.6: the contents run to an end-of-contents (00 00) at this level. */
function indefinite(
  bytes: Uint8Array,
  offset: number,
  tag: number,
  valueStart: number,
  limit: number,
  depth: number,
): Tlv {
  let pos = valueStart;
  for (;;) {
    if (pos + 2 > limit) throw new DerError(`no end-of-contents for the element at byte ${offset}`);
    if (bytes[pos] === 0 && bytes[pos + 1] === 0) break;
    pos = readTlv(bytes, pos, limit, "ber", depth + 1).end;
  }
  return {
    tag,
    constructed: true,
    start: offset,
    valueStart,
    valueEnd: pos,
    end: pos + 2,
    mode: "ber",
  };
}

/** The children of a constructed TLV, in order; throws when they do not exactly fill it. */
export function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.valueEnd) {
    const child = readTlv(bytes, pos, parent.valueEnd, parent.mode);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Reads the single top-level TLV and checks that nothing follows it. */
export function readWhole(bytes: Uint8Array, mode: DerMode = "der"): Tlv {
  const tlv = readTlv(bytes, 0, bytes.length, mode);
  if (tlv.end !== bytes.length) {
    const n = bytes.length - tlv.end;
    throw new DerError(`${n} ${n === 1 ? "byte" : "bytes"} of trailing data after the DER element`);
  }
  return tlv;
}

/** The exact bytes of a TLV, header included. */
export function slice(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

/** The content octets of a TLV; a constructed (BER) string is the concatenation of its parts. */
export function contents(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  if (!tlv.constructed || tlv.mode === "der") return bytes.subarray(tlv.valueStart, tlv.valueEnd);
  return concat(...children(bytes, tlv).map((c) => contents(bytes, c)));
}

/** The dotted form of an OBJECT IDENTIFIER (X.690 §8.19), refusing non-minimal arcs. */
export function oid(bytes: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== 0x06) throw new DerError(`expected an OBJECT IDENTIFIER at byte ${tlv.start}`);
  if (tlv.valueEnd === tlv.valueStart) throw new DerError("empty object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.valueStart; i < tlv.valueEnd; i++) {
    const b = bytes[i]!;
    if (value === 0 && b === 0x80) throw new DerError("non-minimal object identifier");
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128)
      throw new DerError("object identifier arc too large");
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    } else if (i === tlv.valueEnd - 1) {
      throw new DerError("truncated object identifier");
    }
  }
  return arcs.join(".");
}

/** An INTEGER's value (X.690 §8.3), two's complement. */
export function bigintValue(bytes: Uint8Array, tlv: Tlv): bigint {
  const v = bytes.subarray(tlv.valueStart, tlv.valueEnd);
  if (v.length === 0) throw new DerError(`empty INTEGER at byte ${tlv.start}`);
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  return (v[0]! & 0x80) !== 0 ? n - (1n << BigInt(v.length * 8)) : n;
}

/** A Time (RFC 5280 §4.1.2.5; RFC 5652 §11.3): UTCTime or GeneralizedTime in UTC. */
export function timeValue(bytes: Uint8Array, tlv: Tlv): Date {
  const s = utf8.decode(bytes.subarray(tlv.valueStart, tlv.valueEnd));
  let m: RegExpExecArray | null;
  let year: number;
  let fraction = 0;
  if (tlv.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (
    tlv.tag === 0x18 &&
    (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z$/.exec(s))
  ) {
    year = Number(m[1]);
    fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  } else {
    throw new DerError(`not a UTC time: ${JSON.stringify(s)}`);
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se, fraction));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw new DerError(`invalid date ${JSON.stringify(s)}`);
  }
  return date;
}

/**
 * A reader of one structure that throws `code` naming `what` on the first fault: the parsers
 * of SignedData, TSP and certificates are written against it.
 */
export class DerReader {
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
    readonly code: ErrorCode,
    readonly mode: DerMode = "der",
  ) {}

  /** Throws; the fault alone (without `what`) is the cause's message, for callers that re-word it. */
  fail(why: string): never {
    throw new TrailsealError(this.code, `${this.what} is malformed: ${why}`, {
      cause: new DerError(why),
    });
  }

  #guard<T>(read: () => T): T {
    try {
      return read();
    } catch (e) {
      if (e instanceof DerError) this.fail(e.message);
      throw e;
    }
  }

  whole(): Tlv {
    return this.#guard(() => readWhole(this.bytes, this.mode));
  }

  children(parent: Tlv): Tlv[] {
    if (!parent.constructed) this.fail(`expected a constructed element at byte ${parent.start}`);
    return this.#guard(() => children(this.bytes, parent));
  }

  expect(t: Tlv | undefined, tag: number, name: string): Tlv {
    if (t === undefined) this.fail(`${name} missing`);
    if (t.tag !== tag) this.fail(`${name}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
    return t;
  }

  /** Fails when a SEQUENCE holds more than the `read` fields its parser took. */
  end(fields: readonly Tlv[], read: number, name: string): void {
    if (read !== fields.length) this.fail(`unexpected element at the end of ${name}`);
  }

  /** The element's exact bytes. */
  raw(t: Tlv): Uint8Array {
    return slice(this.bytes, t);
  }

  /** The content octets (of a constructed BER string: its parts joined). */
  value(t: Tlv): Uint8Array {
    return this.#guard(() => contents(this.bytes, t));
  }

  oid(t: Tlv | undefined, name: string): string {
    const tlv = this.expect(t, TAG.OID, name);
    return this.#guard(() => oid(this.bytes, tlv));
  }

  bigint(t: Tlv | undefined, name: string): bigint {
    const tlv = this.expect(t, TAG.INTEGER, name);
    return this.#guard(() => bigintValue(this.bytes, tlv));
  }

  /** A small non-negative INTEGER (versions, salt lengths). */
  int(t: Tlv | undefined, name: string): number {
    const v = this.value(this.expect(t, TAG.INTEGER, name));
    if (v.length === 0 || v.length > 4 || (v[0]! & 0x80) !== 0)
      this.fail(`${name}: unsupported integer`);
    let n = 0;
    for (const x of v) n = n * 256 + x;
    return n;
  }

  bool(t: Tlv | undefined, name: string): boolean {
    const v = this.value(this.expect(t, TAG.BOOLEAN, name));
    if (v.length !== 1) this.fail(`${name}: a BOOLEAN has one content octet`);
    return v[0] !== 0;
  }

  time(t: Tlv | undefined, name: string): Date {
    if (t === undefined) this.fail(`${name} missing`);
    const tlv = t;
    return this.#guard(() => timeValue(this.bytes, tlv));
  }

  /** AlgorithmIdentifier (RFC 5280 §4.1.1.2): its OID and the DER of its parameters. */
  algorithm(t: Tlv | undefined, name: string): AlgorithmIdentifier {
    const parts = this.children(this.expect(t, TAG.SEQUENCE, name));
    const id = this.oid(parts[0], name);
    if (parts.length > 2) this.fail(`${name}: unexpected element`);
    return { oid: id, parameters: parts[1] === undefined ? null : this.raw(parts[1]) };
  }
}

/** An AlgorithmIdentifier as read: the OID and the DER of its parameters (null when absent). */
export interface AlgorithmIdentifier {
  oid: string;
  parameters: Uint8Array | null;
}

/** Whether algorithm parameters are absent or NULL (RFC 5754 §2, RFC 8017 appendix A.2.4). */
export function nullOrAbsent(parameters: Uint8Array | null): boolean {
  return parameters === null || (parameters.length === 2 && parameters[0] === 5 && !parameters[1]);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Tag bytes (X.690 §8.1.2): universal types, and context-specific [n] constructed/primitive. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
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
  CTX1_PRIMITIVE: 0x81,
} as const;

// ---------------------------------------------------------------------------------------------
// DER writing (X.690 §10): every byte trailseal writes in a standard format comes from here.

/** One TLV with the given tag byte around the concatenated parts, its length in shortest form. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  // One buffer for header and body, each part copied once: a token or a checkpoint signature
  // nests a dozen levels deep, and copying the body again at every level was a third of the
  // work of encoding one (tsa serve's profile).
  const lengthBytes = n < 0x80 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const out = new Uint8Array(2 + lengthBytes + n);
  out[0] = tag;
  out[1] = lengthBytes === 0 ? n : 0x80 | lengthBytes;
  for (let i = 0; i < lengthBytes; i++) out[2 + i] = (n >>> (8 * (lengthBytes - 1 - i))) & 0xff;
  let at = 2 + lengthBytes;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...parts);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF: DER orders the encodings of the elements (X.690 §11.6). */
export function setOf(elements: readonly Uint8Array[], tag: number = TAG.SET): Uint8Array {
  return tlv(tag, ...[...elements].sort(compareBytes));
}

/** OIDs are few and fixed; each is encoded once. Callers copy the bytes, never write to them. */
const oidCache = new Map<string, Uint8Array>();

/** An OBJECT IDENTIFIER TLV (X.690 §8.19). */
export function encodeOid(dotted: string): Uint8Array {
  const cached = oidCache.get(dotted);
  if (cached !== undefined) return cached;
  const arcs = dotted.split(".").map(Number);
  if (
    arcs.length < 2 ||
    arcs.some((a) => !Number.isSafeInteger(a) || a < 0) ||
    arcs[0]! > 2 ||
    (arcs[0]! < 2 && arcs[1]! >= 40)
  ) {
    throw new TypeError(`bad object identifier ${dotted}`);
  }
  const out: number[] = [];
  const push = (n: number): void => {
    const bytes = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) bytes.unshift((n & 0x7f) | 0x80);
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const der = tlv(TAG.OID, new Uint8Array(out));
  if (oidCache.size >= 128) oidCache.clear();
  oidCache.set(dotted, der);
  return der;
}

/** The minimal two's-complement content octets of an integer (X.690 §8.3.2). */
function integerContent(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  for (;;) {
    bytes.unshift(Number(v & 0xffn));
    const sign = (bytes[0]! & 0x80) !== 0;
    v >>= 8n;
    if ((v === 0n && !sign) || (v === -1n && sign)) break;
  }
  return new Uint8Array(bytes);
}

/** An INTEGER TLV (X.690 §8.3); `tag` writes it under an implicit context tag instead. */
export function encodeInteger(value: bigint | number, tag: number = TAG.INTEGER): Uint8Array {
  return tlv(tag, integerContent(BigInt(value)));
}

export function encodeOctetString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, bytes);
}

export const DER_NULL = new Uint8Array([0x05, 0x00]);
export const DER_TRUE = new Uint8Array([0x01, 0x01, 0xff]);

const pad2 = (n: number): string => String(n).padStart(2, "0");

function timeDigits(date: Date): string {
  return (
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds())
  );
}

/**
 * A CMS Time (RFC 5652 §11.3; RFC 5280 §4.1.2.5): UTCTime for 1950..2049, GeneralizedTime
 * otherwise, whole seconds in UTC with a `Z`.
 */
export function encodeTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  if (y >= 1950 && y < 2050) {
    return tlv(TAG.UTC_TIME, utf8.encode(pad2(y % 100) + timeDigits(date) + "Z"));
  }
  return encodeGeneralizedTime(new Date(Math.floor(date.getTime() / 1000) * 1000));
}

/** GeneralizedTime with milliseconds when there are any, no trailing zeros (X.690 §11.7). */
export function encodeGeneralizedTime(date: Date): Uint8Array {
  const ms = date.getUTCMilliseconds();
  const fraction = ms === 0 ? "" : `.${String(ms).padStart(3, "0").replace(/0+$/, "")}`;
  const text = String(date.getUTCFullYear()).padStart(4, "0") + timeDigits(date) + fraction + "Z";
  return tlv(TAG.GENERALIZED_TIME, utf8.encode(text));
}

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2) with optional DER parameters. */
export function encodeAlgorithm(id: string, parameters?: Uint8Array): Uint8Array {
  return seq(encodeOid(id), ...(parameters === undefined ? [] : [parameters]));
}

// ---------------------------------------------------------------------------------------------
// Classifying and slicing (pem.ts, keys.ts)

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID_TAG = 0x06;

const OID_PKCS7_SIGNED_DATA = OID.signedData;

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
  | "crl"
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
 * - CertificateList (RFC 5280 §5.1): the certificate's outline, but the TBSCertList has
 *   [version INTEGER,] signature, issuer, then thisUpdate, a Time where a certificate has none
 * Throws DerError when the bytes are not one well-formed DER element.
 */
export function classify(der: Uint8Array): DerKind {
  try {
    return classifyAs(der, "der");
  } catch (e) {
    // PKCS#7 and PKCS#12 are BER by definition (RFC 2315 §7, RFC 7292 §4); nothing else may be.
    let kind: DerKind;
    try {
      kind = classifyAs(der, "ber");
    } catch {
      throw e;
    }
    if (kind === "pkcs7" || kind === "pkcs12") return kind;
    throw e;
  }
}

function classifyAs(der: Uint8Array, mode: DerMode): DerKind {
  const top = readWhole(der, mode);
  if (top.tag !== SEQUENCE) return "unknown";
  const parts = children(der, top);
  const [a, b, c] = parts;
  if (a === undefined || b === undefined) return "unknown";
  if (a.tag === SEQUENCE && b.tag === SEQUENCE && c?.tag === BIT_STRING && parts.length === 3) {
    const inner = children(der, a);
    if (inner.length === 4 && inner[0]?.tag === INTEGER && inner[3]?.tag === 0xa0) {
      return "certificate-request";
    }
    const thisUpdate = inner[inner[0]?.tag === INTEGER ? 3 : 2]?.tag;
    if (thisUpdate === TAG.UTC_TIME || thisUpdate === TAG.GENERALIZED_TIME) return "crl";
    if (inner.length >= 6) return "certificate";
    return "unknown";
  }
  if (a.tag === OID_TAG && b.tag === 0xa0) {
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
 * as the exact bytes they have in the bundle; the bundle may be BER, each certificate must be DER. Only X.509 certificates (plain SEQUENCEs) are
 * taken from the `certificates [0] IMPLICIT` set; attribute certificates are skipped.
 */
export function pkcs7Certificates(der: Uint8Array): Uint8Array[] {
  const top = readWhole(der, "ber");
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
      // A certificate is DER even inside a BER bundle (RFC 5280 §4.1): its bytes are its identity.
      if (cert.tag !== SEQUENCE) continue;
      const bytes = slice(der, cert);
      readWhole(bytes, "der");
      out.push(bytes);
    }
  }
  return out;
}

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
