/**
 * RFC 3161 Time-Stamp Protocol structures and the pieces of CMS (RFC 5652), ESS (RFC 2634,
 * RFC 5035) and X.509 (RFC 5280) that a time-stamp token needs, as plain data in and DER out.
 *
 * Parsing goes through asn1js (it accepts BER, as some TSAs send it); encoding is written here
 * with a small TLV writer so every byte is under our control (DER SET OF ordering of signed
 * attributes, exact copies of names and serials). Nothing of asn1js leaves this file.
 */
import { createHash, createPublicKey, sign as nodeSign, type KeyObject } from "node:crypto";
import { concat, fromHex } from "../bytes.js";
import { TrailsealError, type ErrorCode } from "../errors.js";
import * as asn1js from "asn1js";
import { x509 } from "./engine.js";

/** A Name (RFC 5280 §4.1.2.4) in RFC 4514-like text, e.g. `CN=trailseal TSA, O=example`. */
/** Names repeat (one TSA stamps every checkpoint): parsed once each, in a small cache. */
const NAME_CACHE = new Map<string, string>();
const NAME_CACHE_SIZE = 256;

export function nameToString(der: Uint8Array): string {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const known = NAME_CACHE.get(key);
  if (known !== undefined) return known;
  let text: string;
  try {
    text = new x509.Name(Uint8Array.from(der)).toString();
  } catch {
    text = "<unreadable name>";
  }
  if (NAME_CACHE.size >= NAME_CACHE_SIZE) NAME_CACHE.clear();
  NAME_CACHE.set(key, text);
  return text;
}

export const OID = {
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  md5: "1.2.840.113549.2.5",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  sha384WithRSA: "1.2.840.113549.1.1.12",
  sha512WithRSA: "1.2.840.113549.1.1.13",
  sha224WithRSA: "1.2.840.113549.1.1.14",
  rsassaPss: "1.2.840.113549.1.1.10",
  ecdsaSha224: "1.2.840.10045.4.3.1",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  ecdsaSha384: "1.2.840.10045.4.3.3",
  ecdsaSha512: "1.2.840.10045.4.3.4",
  ekuTimeStamping: "1.3.6.1.5.5.7.3.8",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  subjectKeyIdentifier: "2.5.29.14",
} as const;

/** Node hash names of the digest algorithms we know, by OID. */
export const HASH_NAMES: Readonly<Record<string, string>> = {
  [OID.sha1]: "sha1",
  [OID.sha224]: "sha224",
  [OID.sha256]: "sha256",
  [OID.sha384]: "sha384",
  [OID.sha512]: "sha512",
  [OID.md5]: "md5",
};

/** Digest lengths in bytes, by OID. */
export const HASH_LENGTHS: Readonly<Record<string, number>> = {
  [OID.sha1]: 20,
  [OID.sha224]: 28,
  [OID.sha256]: 32,
  [OID.sha384]: 48,
  [OID.sha512]: 64,
  [OID.md5]: 16,
};

// ---------------------------------------------------------------------------------------------
// DER writing

function lengthBytes(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.of(0x80 | out.length, ...out);
}

/** One DER TLV with the given tag byte around the concatenated parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(...parts);
  return concat(Uint8Array.of(tag), lengthBytes(body.byteLength), body);
}

const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, ...parts);
const set = (...parts: Uint8Array[]): Uint8Array => tlv(0x31, ...parts);
const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);
const NULL = Uint8Array.of(0x05, 0x00);
const TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/**
 * OIDs are few and fixed (algorithms, attributes, the configured policy), and asn1js is slow to
 * encode one: each token needs about ten. Each is encoded once; callers copy the bytes into what
 * they build (tlv), never write to them.
 */
const oidDer = new Map<string, Uint8Array>();
const OID_CACHE_SIZE = 64;

export function derOid(oid: string): Uint8Array {
  let der = oidDer.get(oid);
  if (der === undefined) {
    der = new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER());
    if (oidDer.size >= OID_CACHE_SIZE) oidDer.clear();
    oidDer.set(oid, der);
  }
  return der;
}

export function derInteger(value: bigint): Uint8Array {
  return new Uint8Array(asn1js.Integer.fromBigInt(value).toBER());
}

/** The same INTEGER content under an implicit context tag (e.g. Accuracy's [0] millis). */
function implicitInteger(tag: number, value: bigint): Uint8Array {
  const der = derInteger(value);
  return concat(Uint8Array.of(tag), der.subarray(1));
}

/** DER SET OF: members sorted by their encodings (X.690 §11.6). */
function sortedSet(members: Uint8Array[]): Uint8Array[] {
  return [...members].sort((a, b) => {
    const n = Math.min(a.byteLength, b.byteLength);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.byteLength - b.byteLength;
  });
}

/** AlgorithmIdentifier for a hash; parameters absent (RFC 5754 §2). */
export function hashAlgorithm(oid: string): Uint8Array {
  return seq(derOid(oid));
}

// ---------------------------------------------------------------------------------------------
// DER reading

type Node = asn1js.AsnType & {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  valueBeforeDecodeView: Uint8Array;
};

/** Parses exactly one BER/DER element filling `bytes`; anything else is `code`. */
export function parseDer(bytes: Uint8Array, what: string, code: ErrorCode = "DER_INVALID"): Node {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(bytes);
  } catch (e) {
    throw new TrailsealError(code, `${what} is not valid DER`, { cause: e });
  }
  if (parsed.offset === -1 || parsed.offset !== bytes.byteLength) {
    throw new TrailsealError(
      code,
      parsed.offset === -1
        ? `${what} is not valid DER`
        : `${what} has trailing bytes after the DER`,
    );
  }
  return parsed.result as Node;
}

function children(n: Node | undefined): Node[] {
  const value = (n as unknown as { valueBlock: { value?: unknown } } | undefined)?.valueBlock.value;
  return Array.isArray(value) ? (value as Node[]) : [];
}

const UNIVERSAL = 1;
const CONTEXT = 3;

function is(n: Node | undefined, tagClass: number, tagNumber: number): n is Node {
  return n !== undefined && n.idBlock.tagClass === tagClass && n.idBlock.tagNumber === tagNumber;
}
const isSeq = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 16);
const isSet = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 17);
const isInt = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 2);
const isOid = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 6);
const isOctets = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 4);
const isBool = (n: Node | undefined): n is Node => is(n, UNIVERSAL, 1);
const isCtx = (n: Node | undefined, tag: number): n is Node => is(n, CONTEXT, tag);

function raw(n: Node): Uint8Array {
  return Uint8Array.from(n.valueBeforeDecodeView);
}

function oidOf(n: Node): string {
  return (n as unknown as asn1js.ObjectIdentifier).valueBlock.toString();
}

function intOf(n: Node): bigint {
  return (n as unknown as asn1js.Integer).toBigInt();
}

/** Content octets of a (possibly BER-constructed) OCTET STRING or implicit primitive. */
function octetsOf(n: Node): Uint8Array {
  if (n.idBlock.isConstructed) return concat(...children(n).map(octetsOf));
  return Uint8Array.from(
    (n as unknown as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView,
  );
}

function boolOf(n: Node): boolean {
  return (n as unknown as asn1js.Boolean).getValue();
}

function timeOf(n: Node): Date {
  return (n as unknown as asn1js.GeneralizedTime).toDate();
}

class Malformed extends Error {}

/** Runs `body`, turning structural surprises into `code` with a message naming `what`. */
function structure<T>(code: ErrorCode, what: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    const detail = e instanceof Malformed ? `: ${e.message}` : "";
    throw new TrailsealError(code, `${what} is malformed${detail}`, { cause: e });
  }
}

function need<T>(value: T | undefined | false, message: string): T {
  if (value === undefined || value === false) throw new Malformed(message);
  return value;
}

// ---------------------------------------------------------------------------------------------
// TimeStampReq (RFC 3161 §2.4.1)

export interface TsRequest {
  version: number;
  hashOid: string;
  /** The AlgorithmIdentifier of the imprint as sent (copied into the TSTInfo by the server). */
  hashAlgorithmDer: Uint8Array;
  /** Whether the imprint algorithm carries parameters other than NULL (RFC 5754 forbids). */
  hashParamsOdd: boolean;
  digest: Uint8Array;
  policy: string | null;
  nonce: bigint | null;
  certReq: boolean;
  hasExtensions: boolean;
}

export function encodeTimeStampReq(fields: {
  hashOid: string;
  digest: Uint8Array;
  policy: string | null;
  nonce: bigint | null;
  certReq: boolean;
}): Uint8Array {
  return seq(
    derInteger(1n),
    seq(hashAlgorithm(fields.hashOid), octets(fields.digest)),
    fields.policy === null ? new Uint8Array(0) : derOid(fields.policy),
    fields.nonce === null ? new Uint8Array(0) : derInteger(fields.nonce),
    fields.certReq ? TRUE : new Uint8Array(0),
  );
}

/** Parses a TimeStampReq; throws `FORMAT_INVALID` when it is not one. */
export function decodeTimeStampReq(der: Uint8Array): TsRequest {
  const root = parseDer(der, "time-stamp request", "FORMAT_INVALID");
  return structure("FORMAT_INVALID", "time-stamp request", () => {
    const items = children(need(isSeq(root) && root, "not a SEQUENCE"));
    let i = 0;
    const version = Number(intOf(need(isInt(items[i]) && items[i], "version missing")));
    i++;
    const imprint = children(need(isSeq(items[i]) && items[i], "messageImprint missing"));
    i++;
    const alg = need(isSeq(imprint[0]) && imprint[0], "hashAlgorithm missing");
    const hashOid = oidOf(need(isOid(children(alg)[0]) && children(alg)[0], "hash OID missing"));
    const hashParams = children(alg)[1];
    const hashParamsOdd = hashParams !== undefined && !is(hashParams, UNIVERSAL, 5);
    const digest = octetsOf(need(isOctets(imprint[1]) && imprint[1], "hashedMessage missing"));
    let policy: string | null = null;
    if (isOid(items[i])) policy = oidOf(items[i++]!);
    let nonce: bigint | null = null;
    if (isInt(items[i])) nonce = intOf(items[i++]!);
    let certReq = false;
    if (isBool(items[i])) certReq = boolOf(items[i++]!);
    let hasExtensions = false;
    if (isCtx(items[i], 0)) {
      hasExtensions = true;
      i++;
    }
    need(i === items.length, "unexpected fields");
    return {
      version,
      hashOid,
      hashAlgorithmDer: raw(alg),
      hashParamsOdd,
      digest,
      policy,
      nonce,
      certReq,
      hasExtensions,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// TimeStampResp (RFC 3161 §2.4.2)

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
export const FAIL_INFO = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type FailInfo = keyof typeof FAIL_INFO;

export const STATUS_NAMES = [
  "granted",
  "grantedWithMods",
  "rejection",
  "waiting",
  "revocationWarning",
  "revocationNotification",
] as const;

export interface TsResponse {
  status: number;
  statusStrings: string[];
  failInfo: FailInfo[];
  /** The TimeStampToken DER, exactly as received. */
  token: Uint8Array | null;
}

function encodeFailInfo(bit: number): Uint8Array {
  // A named BIT STRING in DER drops trailing zero bits (X.690 §11.2.2).
  const bytes = new Uint8Array(Math.floor(bit / 8) + 1);
  bytes[Math.floor(bit / 8)] = 0x80 >> (bit % 8);
  const unused = 7 - (bit % 8);
  return tlv(0x03, Uint8Array.of(unused), bytes);
}

export function encodeTimeStampResp(fields: {
  status: number;
  statusString?: string;
  failInfo?: FailInfo;
  token?: Uint8Array;
}): Uint8Array {
  const statusInfo = seq(
    derInteger(BigInt(fields.status)),
    fields.statusString === undefined
      ? new Uint8Array(0)
      : seq(tlv(0x0c, new TextEncoder().encode(fields.statusString))),
    fields.failInfo === undefined ? new Uint8Array(0) : encodeFailInfo(FAIL_INFO[fields.failInfo]),
  );
  return seq(statusInfo, fields.token ?? new Uint8Array(0));
}

/** Parses a TimeStampResp; throws `TIMESTAMP_INVALID` when it is not one. */
export function decodeTimeStampResp(der: Uint8Array): TsResponse {
  const root = parseDer(der, "time-stamp response", "TIMESTAMP_INVALID");
  return structure("TIMESTAMP_INVALID", "time-stamp response", () => {
    const items = children(need(isSeq(root) && root, "not a SEQUENCE"));
    const info = children(need(isSeq(items[0]) && items[0], "status missing"));
    const status = Number(intOf(need(isInt(info[0]) && info[0], "status missing")));
    let j = 1;
    const statusStrings: string[] = [];
    if (isSeq(info[j])) {
      for (const s of children(info[j]))
        statusStrings.push((s as unknown as asn1js.Utf8String).getValue());
      j++;
    }
    const failInfo: FailInfo[] = [];
    if (is(info[j], UNIVERSAL, 3)) {
      const bits = (info[j] as unknown as asn1js.BitString).valueBlock.valueHexView;
      for (const [name, bit] of Object.entries(FAIL_INFO)) {
        const byte = bits[Math.floor(bit / 8)];
        if (byte !== undefined && byte & (0x80 >> (bit % 8))) failInfo.push(name as FailInfo);
      }
    }
    const tokenNode = items[1];
    const token =
      tokenNode === undefined
        ? null
        : raw(need(isSeq(tokenNode) && tokenNode, "token not a SEQUENCE"));
    return { status, statusStrings, failInfo, token };
  });
}

// ---------------------------------------------------------------------------------------------
// Certificates (RFC 5280 §4.1), only what token verification needs

export interface CertificateFacts {
  der: Uint8Array;
  subject: string;
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  /** serialNumber INTEGER TLV as encoded, and its value. */
  serialDer: Uint8Array;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** extendedKeyUsage: its purposes and whether it is critical; null when absent. */
  eku: { oids: string[]; critical: boolean } | null;
  isCa: boolean;
  /** subjectKeyIdentifier contents; null when absent. */
  subjectKeyId: Uint8Array | null;
  fingerprint: string;
}

/**
 * Parsed certificates by SHA-256 of their DER: a TSA signs and a verifier checks many tokens with
 * the same certificate, and parsing one costs more than the signature. Bounded; entries are
 * immutable facts about immutable bytes.
 */
const factsCache = new Map<string, CertificateFacts>();
const FACTS_CACHE_SIZE = 256;

export function certificateFacts(der: Uint8Array, what = "certificate"): CertificateFacts {
  const fingerprint = createHash("sha256").update(der).digest("hex");
  const cached = factsCache.get(fingerprint);
  if (cached !== undefined) return cached;
  const facts = parseCertificateFacts(Uint8Array.from(der), what, fingerprint);
  if (factsCache.size >= FACTS_CACHE_SIZE) factsCache.clear();
  factsCache.set(fingerprint, facts);
  return facts;
}

function parseCertificateFacts(
  der: Uint8Array,
  what: string,
  fingerprint: string,
): CertificateFacts {
  const root = parseDer(der, what, "NOT_A_CERTIFICATE");
  return structure("NOT_A_CERTIFICATE", what, () => {
    const tbs = children(
      need(isSeq(children(root)[0]) && children(root)[0], "tbsCertificate missing"),
    );
    let i = isCtx(tbs[0], 0) ? 1 : 0;
    const serialNode = need(isInt(tbs[i]) && tbs[i], "serial missing");
    i += 2; // serialNumber, signature
    const issuer = need(isSeq(tbs[i]) && tbs[i], "issuer missing");
    const validity = children(need(isSeq(tbs[i + 1]) && tbs[i + 1], "validity missing"));
    const subject = need(isSeq(tbs[i + 2]) && tbs[i + 2], "subject missing");
    const spki = need(isSeq(tbs[i + 3]) && tbs[i + 3], "subjectPublicKeyInfo missing");
    let eku: CertificateFacts["eku"] = null;
    let isCa = false;
    let subjectKeyId: Uint8Array | null = null;
    const extsWrapper = tbs.slice(i + 4).find((n) => isCtx(n, 3));
    for (const ext of children(children(extsWrapper)[0])) {
      const parts = children(ext);
      const id = oidOf(need(isOid(parts[0]) && parts[0], "extension id missing"));
      const critical = isBool(parts[1]) ? boolOf(parts[1]) : false;
      const value = octetsOf(need(parts.find(isOctets), "extension value missing"));
      if (id === OID.extKeyUsage) {
        const list = parseDer(value, `${what} extendedKeyUsage`, "NOT_A_CERTIFICATE");
        eku = { oids: children(list).filter(isOid).map(oidOf), critical };
      } else if (id === OID.basicConstraints) {
        const bc = children(parseDer(value, `${what} basicConstraints`, "NOT_A_CERTIFICATE"));
        isCa = isBool(bc[0]) ? boolOf(bc[0]) : false;
      } else if (id === OID.subjectKeyIdentifier) {
        subjectKeyId = octetsOf(
          parseDer(value, `${what} subjectKeyIdentifier`, "NOT_A_CERTIFICATE"),
        );
      }
    }
    return {
      der,
      subject: nameToString(raw(subject)),
      subjectDer: raw(subject),
      issuerDer: raw(issuer),
      serialDer: raw(serialNode),
      serial: intOf(serialNode),
      notBefore: timeOf(need(validity[0], "notBefore missing")),
      notAfter: timeOf(need(validity[1], "notAfter missing")),
      publicKey: createPublicKey({ key: Buffer.from(raw(spki)), format: "der", type: "spki" }),
      eku,
      isCa,
      subjectKeyId,
      fingerprint,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// TSTInfo (RFC 3161 §2.4.2) and the token (CMS SignedData, RFC 5652 §5)

export interface TstInfoFields {
  policy: string;
  /** The imprint's AlgorithmIdentifier DER (from the request, or `hashAlgorithm(OID.sha256)`). */
  hashAlgorithmDer: Uint8Array;
  digest: Uint8Array;
  serial: bigint;
  genTime: Date;
  accuracyMillis?: number;
  nonce: bigint | null;
  /** The TSA's Name DER, put in as GeneralName directoryName; null leaves `tsa` out. */
  tsaName: Uint8Array | null;
}

export function encodeTstInfo(f: TstInfoFields): Uint8Array {
  let accuracy: Uint8Array = new Uint8Array(0);
  if (f.accuracyMillis !== undefined && f.accuracyMillis > 0) {
    const seconds = Math.floor(f.accuracyMillis / 1000);
    const millis = f.accuracyMillis % 1000;
    accuracy = seq(
      seconds > 0 ? derInteger(BigInt(seconds)) : new Uint8Array(0),
      millis > 0 ? implicitInteger(0x80, BigInt(millis)) : new Uint8Array(0),
    );
  }
  return seq(
    derInteger(1n),
    derOid(f.policy),
    seq(f.hashAlgorithmDer, octets(f.digest)),
    derInteger(f.serial),
    new Uint8Array(new asn1js.GeneralizedTime({ valueDate: f.genTime }).toBER()),
    accuracy,
    f.nonce === null ? new Uint8Array(0) : derInteger(f.nonce),
    f.tsaName === null ? new Uint8Array(0) : tlv(0xa0, tlv(0xa4, f.tsaName)),
  );
}

export interface TstInfo {
  version: number;
  policy: string;
  hashOid: string;
  /** Whether the imprint algorithm carries parameters other than NULL (RFC 5754 forbids). */
  hashParamsOdd: boolean;
  digest: Uint8Array;
  serial: bigint;
  genTime: Date;
  accuracy: { seconds: number; millis: number; micros: number } | null;
  ordering: boolean;
  nonce: bigint | null;
  /** The TSA name as text when it is a directoryName, else a short description; null if absent. */
  tsaName: string | null;
  /** The Name DER when the TSA name is a directoryName; null otherwise. */
  tsaNameDer: Uint8Array | null;
}

export function decodeTstInfo(der: Uint8Array): TstInfo {
  const root = parseDer(der, "TSTInfo", "TIMESTAMP_INVALID");
  return structure("TIMESTAMP_INVALID", "TSTInfo", () => {
    const items = children(need(isSeq(root) && root, "not a SEQUENCE"));
    const version = Number(intOf(need(isInt(items[0]) && items[0], "version missing")));
    const policy = oidOf(need(isOid(items[1]) && items[1], "policy missing"));
    const imprint = children(need(isSeq(items[2]) && items[2], "messageImprint missing"));
    const alg = children(need(isSeq(imprint[0]) && imprint[0], "hashAlgorithm missing"));
    const hashOid = oidOf(need(isOid(alg[0]) && alg[0], "hash OID missing"));
    const hashParamsOdd = alg[1] !== undefined && !is(alg[1], UNIVERSAL, 5);
    const digest = octetsOf(need(isOctets(imprint[1]) && imprint[1], "hashedMessage missing"));
    const serial = intOf(need(isInt(items[3]) && items[3], "serialNumber missing"));
    const genTime = timeOf(need(is(items[4], UNIVERSAL, 24) && items[4], "genTime missing"));
    let i = 5;
    let accuracy: TstInfo["accuracy"] = null;
    if (isSeq(items[i])) {
      accuracy = { seconds: 0, millis: 0, micros: 0 };
      for (const a of children(items[i])) {
        if (isInt(a)) accuracy.seconds = Number(intOf(a));
        else if (isCtx(a, 0)) accuracy.millis = Number(bigintOf(octetsOf(a)));
        else if (isCtx(a, 1)) accuracy.micros = Number(bigintOf(octetsOf(a)));
      }
      i++;
    }
    let ordering = false;
    if (isBool(items[i])) ordering = boolOf(items[i++]!);
    let nonce: bigint | null = null;
    if (isInt(items[i])) nonce = intOf(items[i++]!);
    let tsaName: string | null = null;
    let tsaNameDer: Uint8Array | null = null;
    if (isCtx(items[i], 0)) {
      const gn: Node | undefined = children(items[i])[0];
      const tag = gn === undefined ? "?" : String(gn.idBlock.tagNumber);
      if (isCtx(gn, 4)) {
        tsaNameDer = raw(need(children(gn)[0], "directoryName empty"));
        tsaName = nameToString(tsaNameDer);
      } else tsaName = `GeneralName [${tag}]`;
      i++;
    }
    if (isCtx(items[i], 1)) i++; // extensions: none is critical to us, and none are understood
    need(i === items.length, "unexpected fields after the TSA name");
    return {
      version,
      policy,
      hashOid,
      hashParamsOdd,
      digest,
      serial,
      genTime,
      accuracy,
      ordering,
      nonce,
      tsaName,
      tsaNameDer,
    };
  });
}

function bigintOf(content: Uint8Array): bigint {
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  return v;
}

/** What signs: the TSA's chain (leaf first, DER) and its private key. */
export interface TokenSigner {
  chain: readonly Uint8Array[];
  key: KeyObject;
}

export interface SignOptions {
  /** Attach the chain (the request's certReq); the signer is still bound by ESS. Default true. */
  includeCertificates?: boolean;
}

/** The signature AlgorithmIdentifier for a key, always with SHA-256. */
function signatureAlgorithm(key: KeyObject): Uint8Array {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return seq(derOid(OID.sha256WithRSA), NULL);
    case "ec":
      return seq(derOid(OID.ecdsaSha256));
    default:
      throw new TrailsealError(
        "KEY_UNSUPPORTED",
        `a TSA key must be RSA (PKCS#1 v1.5) or ECDSA, not ${key.asymmetricKeyType ?? "unknown"}`,
      );
  }
}

/**
 * Signs a TSTInfo as a TimeStampToken: ContentInfo(SignedData) with the TSTInfo as
 * id-ct-TSTInfo content, signed attributes contentType, messageDigest and signingCertificateV2
 * (RFC 5816, SHA-256 certHash with issuerSerial), and the chain attached.
 */
export function signTstInfo(
  tstInfo: Uint8Array,
  signer: TokenSigner,
  options: SignOptions = {},
): Uint8Array {
  const leaf = signer.chain[0];
  if (leaf === undefined) throw new TrailsealError("USAGE", "the TSA chain is empty");
  const cert = certificateFacts(leaf, "TSA certificate");
  // ESSCertIDv2's default hash is SHA-256 (RFC 5035 §4): the certificate's fingerprint.
  const essCertIdV2 = seq(
    octets(fromHex(cert.fingerprint)),
    seq(seq(tlv(0xa4, cert.issuerDer)), cert.serialDer),
  );
  const attributes = sortedSet([
    seq(derOid(OID.contentType), set(derOid(OID.tstInfo))),
    seq(
      derOid(OID.messageDigest),
      set(octets(new Uint8Array(createHash("sha256").update(tstInfo).digest()))),
    ),
    seq(derOid(OID.signingCertificateV2), set(seq(seq(essCertIdV2)))),
  ]);
  const sigAlg = signatureAlgorithm(signer.key);
  const signature = new Uint8Array(nodeSign("sha256", set(...attributes), signer.key));
  const signerInfo = seq(
    derInteger(1n),
    seq(cert.issuerDer, cert.serialDer),
    hashAlgorithm(OID.sha256),
    tlv(0xa0, ...attributes),
    sigAlg,
    octets(signature),
  );
  const signedData = seq(
    derInteger(3n),
    set(hashAlgorithm(OID.sha256)),
    seq(derOid(OID.tstInfo), tlv(0xa0, octets(tstInfo))),
    options.includeCertificates === false ? new Uint8Array(0) : tlv(0xa0, ...signer.chain),
    set(signerInfo),
  );
  return seq(derOid(OID.signedData), tlv(0xa0, signedData));
}

export interface EssCertId {
  version: 1 | 2;
  hashOid: string;
  certHash: Uint8Array;
  issuerSerial: { issuerDer: Uint8Array | null; serial: bigint } | null;
}

export interface ParsedSigner {
  /** issuerAndSerialNumber, or subjectKeyIdentifier (hex). */
  sid: { issuerDer: Uint8Array; serial: bigint } | { keyId: Uint8Array };
  digestOid: string;
  signatureOid: string;
  signature: Uint8Array;
  /** The signed attributes re-tagged as SET OF for signature checking; null when absent. */
  signedAttrsForSignature: Uint8Array | null;
  contentTypes: string[];
  messageDigests: Uint8Array[];
  essCertIds: EssCertId[];
}

export interface ParsedToken {
  contentType: string;
  eContentType: string;
  tstInfoDer: Uint8Array;
  certificates: Uint8Array[];
  signers: ParsedSigner[];
}

/** Parses a TimeStampToken (ContentInfo with SignedData, RFC 3161 §2.4.2). */
export function parseToken(der: Uint8Array): ParsedToken {
  const root = parseDer(der, "time-stamp token", "TIMESTAMP_INVALID");
  return structure("TIMESTAMP_INVALID", "time-stamp token", () => {
    const ci = children(need(isSeq(root) && root, "not a SEQUENCE"));
    const contentType = oidOf(need(isOid(ci[0]) && ci[0], "contentType missing"));
    need(contentType === OID.signedData, `content type ${contentType} is not SignedData`);
    const sd = children(
      need(
        isSeq(children(need(isCtx(ci[1], 0) && ci[1], "content missing"))[0]) && children(ci[1])[0],
        "SignedData missing",
      ),
    );
    const encap = children(need(isSeq(sd[2]) && sd[2], "encapContentInfo missing"));
    const eContentType = oidOf(need(isOid(encap[0]) && encap[0], "eContentType missing"));
    const eContent = children(
      need(isCtx(encap[1], 0) && encap[1], "eContent missing (detached)"),
    )[0];
    const tstInfoDer = octetsOf(
      need(isOctets(eContent) && eContent, "eContent not an OCTET STRING"),
    );
    const certificates: Uint8Array[] = [];
    let i = 3;
    if (isCtx(sd[i], 0)) {
      for (const c of children(sd[i])) if (isSeq(c)) certificates.push(raw(c));
      i++;
    }
    if (isCtx(sd[i], 1)) i++;
    const signerSet = need(isSet(sd[i]) && sd[i], "signerInfos missing");
    const signers = children(signerSet).map(parseSigner);
    return { contentType, eContentType, tstInfoDer, certificates, signers };
  });
}

function parseSigner(node: Node): ParsedSigner {
  const s = children(need(isSeq(node) && node, "signerInfo not a SEQUENCE"));
  const sidNode = need(s[1], "sid missing");
  let sid: ParsedSigner["sid"];
  if (isSeq(sidNode)) {
    const parts = children(sidNode);
    sid = {
      issuerDer: raw(need(parts[0], "sid issuer missing")),
      serial: intOf(need(isInt(parts[1]) && parts[1], "sid serial missing")),
    };
  } else {
    sid = { keyId: octetsOf(sidNode) };
  }
  const digestOid = oidOf(
    need(isOid(children(s[2])[0]) && children(s[2])[0], "digestAlgorithm missing"),
  );
  let i = 3;
  let signedAttrsForSignature: Uint8Array | null = null;
  const contentTypes: string[] = [];
  const messageDigests: Uint8Array[] = [];
  const essCertIds: EssCertId[] = [];
  if (isCtx(s[i], 0)) {
    const attrsNode = s[i]!;
    const rawAttrs = raw(attrsNode);
    // RFC 5652 §5.4: the signature covers the DER of the SET OF, not the [0] IMPLICIT tag.
    rawAttrs[0] = 0x31;
    signedAttrsForSignature = rawAttrs;
    for (const attr of children(attrsNode)) {
      const parts = children(attr);
      const type = oidOf(need(isOid(parts[0]) && parts[0], "attribute type missing"));
      const values = children(need(isSet(parts[1]) && parts[1], "attribute values missing"));
      for (const v of values) {
        if (type === OID.contentType)
          contentTypes.push(oidOf(need(isOid(v) && v, "contentType value")));
        else if (type === OID.messageDigest)
          messageDigests.push(octetsOf(need(isOctets(v) && v, "messageDigest value")));
        else if (type === OID.signingCertificate || type === OID.signingCertificateV2) {
          const certs = children(
            need(isSeq(children(v)[0]) && children(v)[0], "ESS certs missing"),
          );
          for (const id of certs)
            essCertIds.push(parseEssCertId(id, type === OID.signingCertificateV2 ? 2 : 1));
        }
      }
    }
    i++;
  }
  const signatureOid = oidOf(
    need(isOid(children(s[i])[0]) && children(s[i])[0], "signatureAlgorithm missing"),
  );
  const signature = octetsOf(need(isOctets(s[i + 1]) && s[i + 1], "signature missing"));
  return {
    sid,
    digestOid,
    signatureOid,
    signature,
    signedAttrsForSignature,
    contentTypes,
    messageDigests,
    essCertIds,
  };
}

function parseEssCertId(node: Node, version: 1 | 2): EssCertId {
  const parts = children(need(isSeq(node) && node, "ESSCertID not a SEQUENCE"));
  let i = 0;
  // ESSCertIDv2 hashAlgorithm DEFAULT sha256 (RFC 5035 §4); ESSCertID is always SHA-1 (RFC 2634 §5.4.1).
  let hashOid: string = version === 2 ? OID.sha256 : OID.sha1;
  if (version === 2 && isSeq(parts[0])) {
    hashOid = oidOf(need(isOid(children(parts[0])[0]) && children(parts[0])[0], "ESS hash OID"));
    i++;
  }
  const certHash = octetsOf(need(isOctets(parts[i]) && parts[i], "ESS certHash missing"));
  let issuerSerial: EssCertId["issuerSerial"] = null;
  if (isSeq(parts[i + 1])) {
    const is = children(parts[i + 1]);
    const names = children(is[0]);
    const dirName = names.find((n) => isCtx(n, 4));
    issuerSerial = {
      issuerDer:
        dirName === undefined ? null : raw(need(children(dirName)[0], "ESS directoryName empty")),
      serial: intOf(need(isInt(is[1]) && is[1], "ESS serial missing")),
    };
  }
  return { version, hashOid, certHash, issuerSerial };
}

/** Signature algorithms we verify: the hash (null = take the digestAlgorithm) and key type. */
export const SIGNATURE_ALGORITHMS: Readonly<
  Record<string, { hash: string | null; keyType: "rsa" | "ec" }>
> = {
  [OID.rsaEncryption]: { hash: null, keyType: "rsa" },
  [OID.sha224WithRSA]: { hash: "sha224", keyType: "rsa" },
  [OID.sha256WithRSA]: { hash: "sha256", keyType: "rsa" },
  [OID.sha384WithRSA]: { hash: "sha384", keyType: "rsa" },
  [OID.sha512WithRSA]: { hash: "sha512", keyType: "rsa" },
  [OID.ecdsaSha224]: { hash: "sha224", keyType: "ec" },
  [OID.ecdsaSha256]: { hash: "sha256", keyType: "ec" },
  [OID.ecdsaSha384]: { hash: "sha384", keyType: "ec" },
  [OID.ecdsaSha512]: { hash: "sha512", keyType: "ec" },
};
