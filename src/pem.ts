/**
 * Certificates for the SPS REST API: find every X.509 certificate in an input, whatever wraps it
 * (PEM with metadata around it, CRLF/CR, re-wrapped or indented base64, a PEM already escaped as
 * a JSON string, bare base64, DER, PKCS#7 bundles, PKCS#12), and write it in the one form the
 * API takes: PEM with base64 at 64 columns, LF line breaks and nothing else (RFC 7468 §2, the
 * `stricttextualmsg` of §3). Input is read as leniently as §3's `laxtextualmsg` and beyond.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { TrailsealError } from "./errors.js";
import { fromBase64, toBase64, utf8 } from "./bytes.js";
import { certificate, checkWithOpenssl } from "./pkix/cert.js";
import { EKU } from "./pkix/oid.js";
import {
  certificateSpki,
  classify,
  DerError,
  pkcs7Certificates,
  readTlv,
  spkiAlgorithm,
  type DerKind,
} from "./pkix/der.js";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Lowercase hex. */
  serial: string;
  /** ISO 8601. */
  /** ISO 8601, or "invalid" where the certificate's time does not parse (then see invalidTime). */
  notBefore: string;
  notAfter: string;
  /** Why a validity time is invalid, as openssl's "Bad time value"; absent when both are fine. */
  invalidTime?: string;
  keyType: "RSA" | "EC" | "Ed25519" | "Ed448" | string;
  /** Bits: the modulus for RSA, the curve size for EC (521 for P-521), 256/448 for EdDSA. */
  keySize: number;
  /** "P-256", "P-384", "P-521" (other curves by their OpenSSL name); EC only. */
  curve?: string;
  /** serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning, else the OID. */
  extendedKeyUsages: string[];
  /** SHA-256 of the certificate DER, lowercase hex. */
  fingerprint: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex: how trailseal names a recipient. */
  spkiFingerprint: string;
  /** The SPS API value (toApiString). */
  api: string;
}

export interface ReadOptions {
  /** The input's name in messages (a path, or `<stdin>`). */
  source: string;
  /** The PKCS#12 password, when the input may be one. */
  passphrase?: string;
  /**
   * The certificates are for the SPS REST API (`pem`, `policy create`): a key or CSR given by
   * mistake is explained in the API's terms. Elsewhere (trust anchors, signing and TSA chains)
   * the explanation says only that a certificate is wanted.
   */
  forApi?: boolean;
  /**
   * Told of what was read but is not quite right (bytes after a DER file's one element), as a
   * message naming the source. Without it such warnings are not reported.
   */
  onWarning?: (message: string) => void;
}

const BEGIN = "-----BEGIN CERTIFICATE-----\n";
const END = "-----END CERTIFICATE-----\n";

/**
 * Every X.509 certificate in `input`, as DER (fresh copies, never views of `input`), in input
 * order.
 *
 * @example
 * const [der] = await readCertificates(bytes, { source: "auditor.pem" });
 * process.stdout.write(toPem(der!));
 */
export async function readCertificates(
  input: Uint8Array,
  options: ReadOptions,
): Promise<Uint8Array[]> {
  const found = await findCertificates(input, options);
  return found.map((der) => der.slice());
}

async function findCertificates(input: Uint8Array, options: ReadOptions): Promise<Uint8Array[]> {
  const { source } = options;
  const raw = textOf(input);
  if (raw === undefined) return certificatesFromDer(input, source, undefined, options);
  const text = normalizeText(raw);
  const blocks = findPemBlocks(text, source);
  if (blocks.length === 0) {
    const bare = bareBase64(text);
    if (bare !== undefined) return certificatesFromDer(bare, source, undefined, options);
    throw noCertificate(source);
  }
  const certificates: Uint8Array[] = [];
  const others: Thing[] = [];
  for (const block of blocks) {
    const thing = thingOfLabel(block.label);
    if (thing === "certificate" || thing === "pkcs7") {
      const der = blockBytes(block, source);
      certificates.push(...(await certificatesFromDer(der, source, block, options)));
    } else {
      others.push(thing);
    }
  }
  if (certificates.length === 0) {
    const what = others.find((t) => t !== "other");
    if (what !== undefined) throw notACertificate(source, what, options.forApi === true);
    throw noCertificate(source);
  }
  return certificates;
}

/** PEM for one certificate: base64 at 64 columns, LF line ends (RFC 7468 §2). */
export function toPem(der: Uint8Array): string {
  const b64 = toBase64(der);
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return BEGIN + body + END;
}

/**
 * The SPS API value of a certificate: the PEM text itself, LF line breaks. The JSON literal the
 * API takes is `JSON.stringify(toApiString(der))`, which writes each break as `\n`.
 */
export function toApiString(der: Uint8Array): string {
  return toPem(der);
}

/** Whether the certificate is a CA certificate (basicConstraints cA true). */
export function isCaCertificate(der: Uint8Array): boolean {
  try {
    return certificate(der).isCa;
  } catch (e) {
    throw new TrailsealError("DER_INVALID", `invalid certificate: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export function certificateFingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo, exactly as encoded in the certificate. */
export function spkiFingerprint(der: Uint8Array): string {
  return createHash("sha256").update(spkiOf(der)).digest("hex");
}

/** The certificate's public key as a node:crypto KeyObject. */
export function certificatePublicKey(der: Uint8Array): KeyObject {
  const spki = spkiOf(der);
  try {
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `the certificate's public key (algorithm ${spkiAlgorithm(spki) ?? "unknown"}) is not one OpenSSL reads`,
      { cause: e },
    );
  }
}

function isoOrInvalid(d: Date): string {
  return Number.isNaN(d.getTime()) ? "invalid" : d.toISOString();
}

export function describeCertificate(der: Uint8Array): CertificateInfo {
  let cert: ReturnType<typeof certificate>;
  try {
    cert = certificate(der);
  } catch (e) {
    throw new TrailsealError("DER_INVALID", `invalid certificate: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let key: ReturnType<typeof keyDescription>;
  try {
    key = keyDescription(cert.publicKey);
  } catch {
    // Describe what we cannot use rather than refuse to show it.
    key = { keyType: cert.spkiAlgorithm, keySize: 0 };
  }
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial: serialText(cert.serialNumber),
    notBefore: isoOrInvalid(cert.notBefore),
    notAfter: isoOrInvalid(cert.notAfter),
    ...(cert.invalidTime === null ? {} : { invalidTime: cert.invalidTime }),
    ...key,
    extendedKeyUsages: cert.extendedKeyUsages.map((oid) => EKU_NAMES.get(oid) ?? oid),
    fingerprint: cert.fingerprint,
    spkiFingerprint: cert.spkiFingerprint,
    api: toApiString(der),
  };
}

/**
 * A serial as openssl shows it (lower case): the number in hex, whole octets, no sign octet.
 * RFC 5280 §4.1.2.2 wants serials positive, but real CAs issued negative ones (two's complement
 * DER): openssl prints those with a minus sign (`-04316693ed`), not as an unsigned `fbce996c13`.
 */
function serialText(serial: bigint): string {
  const hex = (serial < 0n ? -serial : serial).toString(16);
  return `${serial < 0n ? "-" : ""}${hex.length % 2 === 0 ? hex : `0${hex}`}`;
}

/** Key type, size and curve of a public or private key, as shown in CertificateInfo. */
export function keyDescription(key: KeyObject): {
  keyType: string;
  keySize: number;
  curve?: string;
} {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
      return { keyType: "RSA", keySize: details.modulusLength ?? 0 };
    case "rsa-pss":
      return { keyType: "RSA-PSS", keySize: details.modulusLength ?? 0 };
    case "ec": {
      const name = details.namedCurve ?? "unknown";
      const curve = CURVES[name] ?? { name, bits: 0 };
      return { keyType: "EC", keySize: curve.bits, curve: curve.name };
    }
    case "ed25519":
      return { keyType: "Ed25519", keySize: 256 };
    case "ed448":
      return { keyType: "Ed448", keySize: 448 };
    default:
      return {
        keyType: (key.asymmetricKeyType ?? "unknown").toUpperCase(),
        keySize: details.modulusLength ?? 0,
      };
  }
}

const CURVES: Readonly<Record<string, { name: string; bits: number }>> = {
  prime256v1: { name: "P-256", bits: 256 },
  "P-256": { name: "P-256", bits: 256 },
  secp384r1: { name: "P-384", bits: 384 },
  "P-384": { name: "P-384", bits: 384 },
  secp521r1: { name: "P-521", bits: 521 },
  "P-521": { name: "P-521", bits: 521 },
  secp256k1: { name: "secp256k1", bits: 256 },
};

/** The names of RFC 5280 §4.2.1.12 key purposes, by OID (anyExtendedKeyUsage is shown as its OID). */
const EKU_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(EKU).flatMap(([name, oid]) => (oid === EKU.any ? [] : [[oid, name] as const])),
);

export type ApiCertificateCheck =
  | { ok: true; der: Uint8Array }
  | {
      ok: false;
      reason:
        | "not-a-string"
        | "empty"
        | "metadata"
        | "raw-line-breaks"
        | "several"
        | "not-certificate"
        | "invalid";
      message: string;
    };

/**
 * Whether a JSON value is exactly one certificate in API form (toApiString). Used by the policy
 * checker; the messages are written to follow a JSON path, e.g. `…certificate: has metadata…`.
 */
export function checkApiCertificate(value: unknown): ApiCertificateCheck {
  if (typeof value !== "string") {
    return { ok: false, reason: "not-a-string", message: "must be a PEM certificate string" };
  }
  if (value.trim() === "") return { ok: false, reason: "empty", message: "is empty" };
  if (/\\[nr]/.test(value) && value.includes("-----BEGIN")) {
    return {
      ok: false,
      reason: "raw-line-breaks",
      message:
        "holds escaped line breaks (a backslash and n) instead of line breaks: it was JSON-escaped twice",
    };
  }
  const text = value.replace(/\r\n?/g, "\n");
  let blocks: PemBlock[];
  try {
    blocks = findPemBlocks(text, null);
  } catch (e) {
    return { ok: false, reason: "invalid", message: (e as Error).message };
  }
  if (blocks.length === 0) {
    return {
      ok: false,
      reason: "invalid",
      message: "is not a PEM certificate (DER and bare base64 are refused by SPS)",
    };
  }
  const certificateBlocks = blocks.filter((b) => {
    const t = thingOfLabel(b.label);
    return t === "certificate" || t === "pkcs7";
  });
  if (certificateBlocks.length === 0) {
    const thing = thingOfLabel(blocks[0]!.label);
    return {
      ok: false,
      reason: "not-certificate",
      message: `holds ${thing === "other" ? `a PEM block labelled ${blocks[0]!.label}` : THING_NAMES[thing]}, not a certificate`,
    };
  }
  if (blocks.length > 1) {
    return {
      ok: false,
      reason: "several",
      message: `holds ${blocks.length} PEM blocks; the API takes one certificate per string`,
    };
  }
  const block = blocks[0]!;
  if (thingOfLabel(block.label) !== "certificate") {
    return {
      ok: false,
      reason: "several",
      message: `holds a ${block.label} bundle; the API takes one certificate per string`,
    };
  }
  if (block.label !== "CERTIFICATE") {
    // X509 CERTIFICATE is an old label; TRUSTED CERTIFICATE carries OpenSSL's trust settings
    // after the certificate. Both are certificates that 'trailseal pem --api' makes plain.
    return {
      ok: false,
      reason: "metadata",
      message: `is a ${block.label} block; SPS wants a plain CERTIFICATE block`,
    };
  }
  let der: Uint8Array;
  try {
    der = blockBytes(block, null);
    validateCertificate(der);
  } catch (e) {
    return { ok: false, reason: "invalid", message: (e as Error).message };
  }
  if (value === toApiString(der)) return { ok: true, der };
  return apiFormProblem(value, text, block);
}

/** Why a value holding one valid certificate block is not in the API form (toApiString). */
function apiFormProblem(value: string, text: string, block: PemBlock): ApiCertificateCheck {
  const before = text.slice(0, block.start);
  const after = text.slice(block.end).replace(/^\n/, "");
  if (before.trim() !== "" || after.trim() !== "") {
    return {
      ok: false,
      reason: "metadata",
      message:
        "has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone",
    };
  }
  if (before !== "" || after !== "") {
    return {
      ok: false,
      reason: "metadata",
      message: "has blank lines or spaces around the certificate; SPS wants the PEM block alone",
    };
  }
  return {
    ok: false,
    reason: "raw-line-breaks",
    message: value.includes("\r")
      ? "has CR or CRLF line breaks; the API form uses \\n only"
      : "is not in the API line form (base64 at 64 columns, each line ending in \\n)",
  };
}

// ---------------------------------------------------------------------------------------------
// Scanning (internal, shared with keys.ts)

/** One PEM block found in text (RFC 7468 §2, read leniently as §3 allows). */
export interface PemBlock {
  /** 1-based position among all PEM blocks of the input, for messages. */
  readonly index: number;
  readonly label: string;
  /** 1-based line of the BEGIN line in the normalized text. */
  readonly line: number;
  /** Offsets of the block (BEGIN to END marker, inclusive) in the normalized text. */
  readonly start: number;
  readonly end: number;
  /** RFC 1421 headers (Proc-Type, DEK-Info) when present, as `Name: value` lines. */
  readonly headers: readonly string[];
  /** The base64 text with whitespace removed. */
  readonly base64: string;
  /** The raw text between the markers, for reporting the line of a bad character. */
  readonly inner: string;
}

/** What a PEM label or DER blob holds, as far as `pem` is concerned. */
export type Thing =
  | "certificate"
  | "pkcs7"
  | "pkcs12"
  | "private-key"
  | "encrypted-private-key"
  | "certificate-request"
  | "public-key"
  | "crl"
  | "java-keystore"
  | "other";

const THING_NAMES: Readonly<Record<Thing, string>> = {
  certificate: "a certificate",
  pkcs7: "a PKCS#7 bundle",
  pkcs12: "a PKCS#12 file",
  "private-key": "a private key",
  "encrypted-private-key": "an encrypted private key",
  "certificate-request": "a certificate signing request (CSR)",
  "public-key": "a bare public key",
  crl: "a certificate revocation list (CRL)",
  "java-keystore": "a Java KeyStore",
  other: "no certificate",
};

export function thingOfLabel(label: string): Thing {
  switch (label) {
    case "CERTIFICATE":
    case "X509 CERTIFICATE":
    case "TRUSTED CERTIFICATE":
      return "certificate";
    case "PKCS7":
    case "PKCS #7 SIGNED DATA":
    case "CMS":
      return "pkcs7";
    case "PRIVATE KEY":
    case "RSA PRIVATE KEY":
    case "EC PRIVATE KEY":
    case "DSA PRIVATE KEY":
    case "OPENSSH PRIVATE KEY":
      return "private-key";
    case "ENCRYPTED PRIVATE KEY":
      return "encrypted-private-key";
    case "CERTIFICATE REQUEST":
    case "NEW CERTIFICATE REQUEST":
      return "certificate-request";
    case "PUBLIC KEY":
    case "RSA PUBLIC KEY":
      return "public-key";
    case "X509 CRL":
      return "crl";
    default:
      return "other";
  }
}

function thingOfDer(kind: DerKind): Thing {
  switch (kind) {
    case "rsa-private-key":
    case "ec-private-key":
      return "private-key";
    case "unknown":
      return "other";
    default:
      return kind;
  }
}

/**
 * Text as it may arrive: a JSON string literal (`"-----BEGIN…\n…"`), the same without its
 * quotes (literal `\n`, maybe `\/`), CRLF or CR line ends. Returns text with LF line ends.
 */
export function normalizeText(raw: string): string {
  let text = raw.replace(/^\uFEFF/, "");
  const trimmed = text.trim();
  if (trimmed.startsWith('"') && trimmed.endsWith('"') && trimmed.length >= 2) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === "string") text = parsed;
    } catch {
      text = trimmed.slice(1, -1);
    }
  }
  if (text.includes("-----BEGIN") && /\\[rn]/.test(text)) {
    text = text.replace(/\\r\\n|\\n|\\r/g, "\n").replace(/\\\//g, "/");
  }
  return text.replace(/\r\n?/g, "\n");
}

const BEGIN_RE = /-----BEGIN ([A-Z0-9#][A-Z0-9 #]*)-----/g;

/** `source: ` before a message about it; nothing when the text has no name (a JSON value). */
function prefix(source: string | null): string {
  return source === null ? "" : `${source}: `;
}

/** Finds every PEM block; throws PEM_INVALID for a BEGIN without its END. */
export function findPemBlocks(text: string, source: string | null): PemBlock[] {
  const blocks: PemBlock[] = [];
  BEGIN_RE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = BEGIN_RE.exec(text)) !== null) {
    const label = match[1]!;
    const index = blocks.length + 1;
    const line = lineOf(text, match.index);
    const innerStart = match.index + match[0].length;
    const endMarker = text.indexOf("-----END ", innerStart);
    const nextBegin = text.indexOf("-----BEGIN ", innerStart);
    if (endMarker < 0 || (nextBegin >= 0 && nextBegin < endMarker)) {
      throw new TrailsealError(
        "PEM_INVALID",
        `${prefix(source)}PEM block ${index} (${label}) on line ${line} has no END line`,
      );
    }
    const endMatch = /^-----END ([A-Z0-9 #]*)-----/.exec(text.slice(endMarker));
    if (endMatch === null || endMatch[1] !== label) {
      throw new TrailsealError(
        "PEM_INVALID",
        `${prefix(source)}PEM block ${index} (${label}) on line ${line} ends with a mismatched END line`,
      );
    }
    const inner = text.slice(innerStart, endMarker);
    const headers: string[] = [];
    const lines: string[] = [];
    for (const l of inner.split("\n")) {
      // RFC 1421 §4.6 encapsulated headers; base64 never holds a colon.
      if (/^\s*[A-Za-z][A-Za-z0-9-]*:/.test(l)) headers.push(l.trim());
      else lines.push(l);
    }
    const end = endMarker + endMatch[0].length;
    blocks.push({
      index,
      label,
      line,
      start: match.index,
      end,
      headers,
      base64: lines.join("").replace(/\s+/g, ""),
      inner,
    });
    BEGIN_RE.lastIndex = end;
  }
  return blocks;
}

/** The DER bytes of a PEM block; throws PEM_INVALID naming the source, block and line. */
export function blockBytes(block: PemBlock, source: string | null): Uint8Array {
  const where = `${prefix(source)}PEM block ${block.index} (${block.label})`;
  if (block.headers.length > 0) {
    throw new TrailsealError(
      "PEM_INVALID",
      `${where} has headers (${block.headers[0]}) a certificate never has`,
    );
  }
  const bad = /[^A-Za-z0-9+/=\s]/.exec(block.inner);
  if (bad !== null) {
    const line = block.line + lineOf(block.inner, bad.index) - 1;
    throw new TrailsealError(
      "PEM_INVALID",
      `${where}: invalid base64 character '${bad[0]}' on line ${line}`,
    );
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(block.base64) || block.base64.length % 4 !== 0) {
    throw new TrailsealError(
      "PEM_INVALID",
      `${where}: invalid base64 (padding or length is wrong)`,
    );
  }
  if (block.base64.length === 0) throw new TrailsealError("PEM_INVALID", `${where} is empty`);
  return fromBase64(block.base64);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * DER is binary: every DER structure holds tag or length bytes below 0x09 (INTEGER 0x02, OID
 * 0x06, NULL 0x05, short lengths), which text never has.
 */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20 && b !== 0x1b)) return true;
  }
  return false;
}

/**
 * The text of an input, or undefined when it is binary (DER). UTF-8 unless a byte order mark says
 * UTF-16 (what Windows editors save as "Unicode"); DER always starts with 0x30, never a BOM.
 */
export function textOf(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 2 && bytes.length % 2 === 0) {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString("utf16le");
    if (b[0] === 0xfe && b[1] === 0xff)
      return Buffer.from(b.subarray(2)).swap16().toString("utf16le");
  }
  return looksBinary(bytes) ? undefined : utf8.decode(bytes);
}

/** The bytes of text that is nothing but base64 (of something DER), else undefined. */
export function bareBase64(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, "");
  if (compact.length < 16 || compact.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const bytes = fromBase64(compact);
  return bytes[0] === 0x30 ? bytes : undefined;
}

/** Checks that DER is one well-formed certificate that OpenSSL parses (throws DerError). */
function validateCertificate(der: Uint8Array): void {
  certificateSpki(der);
  try {
    checkWithOpenssl(der);
  } catch {
    // Node's X509Certificate tries PEM last, so its message ("PEM routines::no start line")
    // says nothing about this DER.
    throw new DerError("the certificate is well-formed DER, but OpenSSL cannot parse it");
  }
}

async function certificatesFromDer(
  der: Uint8Array,
  source: string,
  block: PemBlock | undefined,
  options: ReadOptions,
): Promise<Uint8Array[]> {
  const where =
    block === undefined ? source : `${source}: PEM block ${block.index} (${block.label})`;
  const derInvalid = (e: unknown, what = ""): TrailsealError =>
    new TrailsealError("DER_INVALID", `${where}${what}: invalid DER: ${(e as Error).message}`, {
      cause: e,
    });
  let bytes = block === undefined ? wholeElement(der, options) : der;
  // OpenSSL's TRUSTED CERTIFICATE is the certificate followed by its trust settings.
  if (block?.label === "TRUSTED CERTIFICATE") {
    try {
      bytes = der.subarray(0, readTlv(der, 0).end);
    } catch (e) {
      throw derInvalid(e);
    }
  }
  let kind: DerKind;
  try {
    kind = classify(bytes);
  } catch (e) {
    if (e instanceof DerError) throw derInvalid(e);
    throw e;
  }
  switch (kind) {
    case "certificate":
      try {
        validateCertificate(bytes);
      } catch (e) {
        throw derInvalid(e);
      }
      return [bytes];
    case "pkcs7": {
      let certs: Uint8Array[];
      try {
        certs = pkcs7Certificates(bytes);
      } catch (e) {
        throw derInvalid(e);
      }
      certs.forEach((c, i) => {
        try {
          validateCertificate(c);
        } catch (e) {
          throw derInvalid(e, `: certificate ${i + 1} of the PKCS#7 bundle`);
        }
      });
      if (certs.length === 0) throw noCertificate(source, "the PKCS#7 bundle is empty");
      return certs;
    }
    case "pkcs12": {
      // pkijs (and for legacy ciphers node-forge) load only when a PKCS#12 file is read.
      const { readPkcs12 } = await import("./pkix/pkcs12.js");
      const { certificates } = await readPkcs12(bytes, options.passphrase, source, {
        keys: false,
      });
      certificates.forEach((c, i) => {
        try {
          validateCertificate(c);
        } catch (e) {
          throw derInvalid(e, `: certificate ${i + 1} of the PKCS#12 file`);
        }
      });
      if (certificates.length === 0)
        throw noCertificate(source, "the PKCS#12 file holds no certificate");
      return certificates;
    }
    case "unknown":
      throw new TrailsealError(
        "DER_INVALID",
        `${where}: DER that is not a certificate, PKCS#7 bundle or PKCS#12 file`,
      );
    default:
      throw notACertificate(source, thingOfDer(kind), options.forApi === true);
  }
}

/**
 * A binary input's one element. Java keystores are named (they are not ASN.1); bytes after the
 * element (a CRLF some tools append) are dropped with a warning, as openssl ignores them.
 */
function wholeElement(der: Uint8Array, options: ReadOptions): Uint8Array {
  const { source } = options;
  const magic = Buffer.from(der.subarray(0, 4)).toString("hex");
  if (magic === "feedfeed" || magic === "cececece") {
    const keystore = source === "<stdin>" ? "KEYSTORE" : source;
    throw new TrailsealError(
      "NOT_A_CERTIFICATE",
      `${source} holds a Java KeyStore (${magic === "feedfeed" ? "JKS" : "JCEKS"}), which trailseal does not read: convert it to PKCS#12 first`,
      {
        hint: `keytool -importkeystore -srckeystore ${keystore} -destkeystore ${keystore}.p12 -deststoretype pkcs12`,
      },
    );
  }
  let end: number;
  try {
    // BER mode: a PKCS#7 or PKCS#12 file may use indefinite lengths (classify decides later).
    end = readTlv(der, 0, der.length, "ber").end;
  } catch {
    return der; // classify names what is wrong
  }
  if (end === der.length) return der;
  const n = der.length - end;
  options.onWarning?.(
    `${source}: ${n} ${n === 1 ? "byte" : "bytes"} after the DER element ignored (not part of it)`,
  );
  return der.subarray(0, end);
}

function noCertificate(source: string, why?: string): TrailsealError {
  return new TrailsealError(
    "NO_CERTIFICATE",
    `no certificate found in ${source}${why === undefined ? "" : ` (${why})`}`,
  );
}

function notACertificate(source: string, thing: Thing, forApi: boolean): TrailsealError {
  const [request, key, other] = forApi
    ? [
        "the API wants the certificate a CA issued for it",
        "the API wants the certificate (the public half), never the private key",
        "the API wants an X.509 certificate",
      ]
    : [
        "a certificate is wanted here, the one a CA issued for it",
        "a certificate (the public half) is wanted here, never the private key",
        "an X.509 certificate is wanted here",
      ];
  const wants =
    thing === "certificate-request"
      ? request
      : thing === "private-key" || thing === "encrypted-private-key"
        ? key
        : other;
  return new TrailsealError(
    "NOT_A_CERTIFICATE",
    `${source} holds ${THING_NAMES[thing]}, not a certificate: ${wants}`,
    thing === "private-key" || thing === "encrypted-private-key"
      ? { missing: "certificate" }
      : { hint: "give the certificate file (.crt/.pem/.p7b/.p12)" },
  );
}

function spkiOf(der: Uint8Array): Uint8Array {
  try {
    return certificateSpki(der);
  } catch (e) {
    throw new TrailsealError("DER_INVALID", `invalid certificate: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
