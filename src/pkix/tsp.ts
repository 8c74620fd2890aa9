/**
 * RFC 3161 Time-Stamp Protocol structures (TimeStampReq, TimeStampResp, TSTInfo) as plain data
 * in and DER out, over the one DER layer (./der.ts). A token is CMS SignedData: it is read and
 * signed by ./signed.ts like a checkpoint signature; what a token must say on top of that is
 * checked in src/timestamp/verify.ts.
 *
 * Responses and tokens are read in BER mode (some TSAs send BER); requests and TSTInfo are DER.
 */
import type { KeyObject } from "node:crypto";
import { TrailsealError, type ErrorCode } from "../errors.js";
import { utf8 } from "../bytes.js";
import {
  DER_TRUE,
  DerReader,
  TAG,
  encodeAlgorithm,
  encodeGeneralizedTime,
  encodeInteger,
  encodeOctetString,
  encodeOid,
  nullOrAbsent,
  seq,
  tlv,
  type DerMode,
} from "./der.js";
import { OID, HASHES } from "./oid.js";
import { signatureProfile, type SigningKey } from "./algorithms.js";
import { certificate } from "./cert.js";
import { signSignedData } from "./signed.js";
import { nameToString } from "./name.js";

export { OID, HASHES };

const NONE = new Uint8Array(0);

/** AlgorithmIdentifier for a hash; parameters absent (RFC 5754 §2). */
export function hashAlgorithm(oid: string): Uint8Array {
  return encodeAlgorithm(oid);
}

function reader(der: Uint8Array, what: string, code: ErrorCode, mode: DerMode = "der"): DerReader {
  return new DerReader(der, what, code, mode);
}

/** A MessageImprint (RFC 3161 §2.4.1): the hash, whether its parameters are odd, the digest. */
function readImprint(
  r: DerReader,
  t: ReturnType<DerReader["whole"]> | undefined,
): { hashOid: string; hashAlgorithmDer: Uint8Array; hashParamsOdd: boolean; digest: Uint8Array } {
  const imprint = r.children(r.expect(t, TAG.SEQUENCE, "messageImprint"));
  const algTlv = r.expect(imprint[0], TAG.SEQUENCE, "hashAlgorithm");
  const alg = r.algorithm(algTlv, "hashAlgorithm");
  return {
    hashOid: alg.oid,
    hashAlgorithmDer: Uint8Array.from(r.raw(algTlv)),
    hashParamsOdd: !nullOrAbsent(alg.parameters),
    digest: new Uint8Array(r.value(r.expect(imprint[1], TAG.OCTET_STRING, "hashedMessage"))),
  };
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
    encodeInteger(1),
    seq(hashAlgorithm(fields.hashOid), encodeOctetString(fields.digest)),
    fields.policy === null ? NONE : encodeOid(fields.policy),
    fields.nonce === null ? NONE : encodeInteger(fields.nonce),
    fields.certReq ? DER_TRUE : NONE,
  );
}

/** Parses a TimeStampReq; throws `FORMAT_INVALID` when it is not one. */
export function decodeTimeStampReq(der: Uint8Array): TsRequest {
  const r = reader(der, "time-stamp request", "FORMAT_INVALID");
  const items = r.children(r.expect(r.whole(), TAG.SEQUENCE, "TimeStampReq"));
  let i = 0;
  const version = r.int(items[i++], "version");
  const imprint = readImprint(r, items[i++]);
  let policy: string | null = null;
  if (items[i]?.tag === TAG.OID) policy = r.oid(items[i++], "reqPolicy");
  let nonce: bigint | null = null;
  if (items[i]?.tag === TAG.INTEGER) nonce = r.bigint(items[i++], "nonce");
  let certReq = false;
  if (items[i]?.tag === TAG.BOOLEAN) certReq = r.bool(items[i++], "certReq");
  let hasExtensions = false;
  if (items[i]?.tag === TAG.CTX0) {
    hasExtensions = true;
    i++;
  }
  r.end(items, i, "TimeStampReq");
  return { version, ...imprint, policy, nonce, certReq, hasExtensions };
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
  return tlv(TAG.BIT_STRING, Uint8Array.of(unused), bytes);
}

export function encodeTimeStampResp(fields: {
  status: number;
  statusString?: string;
  failInfo?: FailInfo;
  token?: Uint8Array;
}): Uint8Array {
  const statusInfo = seq(
    encodeInteger(fields.status),
    fields.statusString === undefined
      ? NONE
      : seq(tlv(TAG.UTF8_STRING, new TextEncoder().encode(fields.statusString))),
    fields.failInfo === undefined ? NONE : encodeFailInfo(FAIL_INFO[fields.failInfo]),
  );
  return seq(statusInfo, fields.token ?? NONE);
}

/** Parses a TimeStampResp; throws `TIMESTAMP_INVALID` when it is not one. */
export function decodeTimeStampResp(der: Uint8Array): TsResponse {
  const r = reader(der, "time-stamp response", "TIMESTAMP_INVALID", "ber");
  const items = r.children(r.expect(r.whole(), TAG.SEQUENCE, "TimeStampResp"));
  const info = r.children(r.expect(items[0], TAG.SEQUENCE, "status"));
  const status = r.int(info[0], "status");
  let j = 1;
  const statusStrings: string[] = [];
  if (info[j]?.tag === TAG.SEQUENCE) {
    for (const t of r.children(info[j++]!))
      statusStrings.push(utf8.decode(r.value(r.expect(t, TAG.UTF8_STRING, "statusString"))));
  }
  const failInfo: FailInfo[] = [];
  if (info[j]?.tag === TAG.BIT_STRING) {
    const bits = r.value(info[j]!).subarray(1);
    for (const [name, bit] of Object.entries(FAIL_INFO)) {
      const byte = bits[Math.floor(bit / 8)];
      if (byte !== undefined && byte & (0x80 >> (bit % 8))) failInfo.push(name as FailInfo);
    }
  }
  const token =
    items[1] === undefined
      ? null
      : Uint8Array.from(r.raw(r.expect(items[1], TAG.SEQUENCE, "token")));
  return { status, statusStrings, failInfo, token };
}

// ---------------------------------------------------------------------------------------------
// TSTInfo (RFC 3161 §2.4.2)

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
  let accuracy: Uint8Array = NONE;
  if (f.accuracyMillis !== undefined && f.accuracyMillis > 0) {
    const seconds = Math.floor(f.accuracyMillis / 1000);
    const millis = f.accuracyMillis % 1000;
    accuracy = seq(
      seconds > 0 ? encodeInteger(seconds) : NONE,
      millis > 0 ? encodeInteger(millis, TAG.CTX0_PRIMITIVE) : NONE,
    );
  }
  return seq(
    encodeInteger(1),
    encodeOid(f.policy),
    seq(f.hashAlgorithmDer, encodeOctetString(f.digest)),
    encodeInteger(f.serial),
    encodeGeneralizedTime(f.genTime),
    accuracy,
    f.nonce === null ? NONE : encodeInteger(f.nonce),
    f.tsaName === null ? NONE : tlv(TAG.CTX0, tlv(TAG.CTX4, f.tsaName)),
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
  const r = reader(der, "TSTInfo", "TIMESTAMP_INVALID", "ber");
  const items = r.children(r.expect(r.whole(), TAG.SEQUENCE, "TSTInfo"));
  const version = r.int(items[0], "version");
  const policy = r.oid(items[1], "policy");
  const { hashOid, hashParamsOdd, digest } = readImprint(r, items[2]);
  const serial = r.bigint(items[3], "serialNumber");
  const genTime = r.time(r.expect(items[4], TAG.GENERALIZED_TIME, "genTime"), "genTime");
  let i = 5;
  let accuracy: TstInfo["accuracy"] = null;
  if (items[i]?.tag === TAG.SEQUENCE) {
    accuracy = { seconds: 0, millis: 0, micros: 0 };
    for (const a of r.children(items[i++]!)) {
      if (a.tag === TAG.INTEGER) accuracy.seconds = Number(r.bigint(a, "seconds"));
      else if (a.tag === TAG.CTX0_PRIMITIVE) accuracy.millis = unsigned(r.value(a));
      else if (a.tag === TAG.CTX1_PRIMITIVE) accuracy.micros = unsigned(r.value(a));
    }
  }
  let ordering = false;
  if (items[i]?.tag === TAG.BOOLEAN) ordering = r.bool(items[i++], "ordering");
  let nonce: bigint | null = null;
  if (items[i]?.tag === TAG.INTEGER) nonce = r.bigint(items[i++], "nonce");
  let tsaName: string | null = null;
  let tsaNameDer: Uint8Array | null = null;
  if (items[i]?.tag === TAG.CTX0) {
    const gn = r.children(items[i++]!)[0];
    if (gn?.tag === TAG.CTX4) {
      tsaNameDer = Uint8Array.from(r.raw(r.children(gn)[0] ?? r.fail("directoryName empty")));
      tsaName = nameToString(tsaNameDer);
    } else tsaName = `GeneralName [${gn === undefined ? "?" : gn.tag & 0x1f}]`;
  }
  if (items[i]?.tag === TAG.CTX1) i++; // extensions: none is critical to us, and none are understood
  r.end(items, i, "TSTInfo");
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
}

function unsigned(content: Uint8Array): number {
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Signing a token: the one SignedData encoder with the TSTInfo as id-ct-TSTInfo content

/** What signs: the TSA's chain (leaf first, DER) and its private key (in memory, or a token's). */
export interface TstSigner {
  chain: readonly Uint8Array[];
  key: SigningKey;
}

export interface SignOptions {
  /** Attach the chain (the request's certReq); the signer is still bound by ESS. Default true. */
  includeCertificates?: boolean;
}

/**
 * Signs a TSTInfo as a TimeStampToken: ContentInfo(SignedData) with the TSTInfo as
 * id-ct-TSTInfo content, signed attributes contentType, messageDigest and signingCertificateV2
 * (RFC 5816, SHA-256 certHash with issuerSerial), and the chain attached. A key in memory signs
 * at once; an external signer (a token) answers with a promise.
 */
export function signTstInfo(
  tstInfo: Uint8Array,
  signer: TstSigner & { key: KeyObject },
  options?: SignOptions,
): Uint8Array;
export function signTstInfo(
  tstInfo: Uint8Array,
  signer: TstSigner,
  options?: SignOptions,
): Uint8Array | Promise<Uint8Array>;
export function signTstInfo(
  tstInfo: Uint8Array,
  signer: TstSigner,
  options: SignOptions = {},
): Uint8Array | Promise<Uint8Array> {
  const leaf = signer.chain[0];
  if (leaf === undefined) throw new TrailsealError("USAGE", "the TSA chain is empty");
  // PKCS#1 v1.5 or ECDSA: openssl ts -verify (3.0) cannot check an RSASSA-PSS token.
  return signSignedData({
    leaf: certificate(leaf),
    profile: signatureProfile(signer.key),
    certificates: options.includeCertificates === false ? [] : signer.chain,
    eContentType: OID.tstInfo,
    content: tstInfo,
    encapsulate: true,
  });
}
