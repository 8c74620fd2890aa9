/**
 * CMS EnvelopedData (RFC 5652 §6) for one recipient, wrapping a short content (a file key, or an
 * inner envelope for four-eyes). pkijs/asn1js only build and parse the ASN.1 structure; every
 * cryptographic step runs in node:crypto, so the exact parameters are ours and not pkijs defaults
 * (pkijs picks SHA-512 for OAEP, and cannot open ECDH envelopes without a UKM, which is what
 * OpenSSL writes: PKI.js issue #335).
 *
 * Made here:
 *   RSA  KeyTransRecipientInfo v0, rid issuerAndSerialNumber, id-RSAES-OAEP with SHA-256 and
 *        MGF1-SHA-256 (RFC 4055 §4.1, §2.1 NULL hash parameters), empty label.
 *   EC   KeyAgreeRecipientInfo v3, ephemeral-static ECDH (RFC 5753 §3.1), originatorKey with the
 *        named curve, no UKM, dhSinglePass-stdDH-sha256kdf-scheme with id-aes256-wrap (RFC 3394).
 *   content AES-256-CBC, random IV (RFC 3565).
 * Opened here: the above, plus what `openssl cms -encrypt` writes with other digests and AES sizes.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  privateDecrypt,
  publicEncrypt,
  constants,
  type KeyObject,
} from "node:crypto";
import * as asn1js from "asn1js";
import { pkijs } from "./engine.js";
import { TrailsealError } from "../errors.js";
import { concat, toArrayBuffer, toBytes } from "../bytes.js";
import { HASHES, OID } from "./oid.js";
import type { DecryptionKey } from "../pkcs11/ops.js";

export { OID };

/** OAEP and KDF hashes we open with: every known hash but MD5. */
const HASH_BY_OID: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(HASHES)
    .filter(([oid]) => oid !== OID.md5)
    .map(([oid, { name }]) => [oid, name]),
);

/** RFC 5753 §7.1.4 / SEC 1 §C.4: the key-agreement schemes and the KDF digest each implies. */
const KDF_HASH_BY_OID: Readonly<Record<string, string>> = {
  [OID.stdDhSha1Kdf]: "sha1",
  [OID.stdDhSha224Kdf]: "sha224",
  [OID.stdDhSha256Kdf]: "sha256",
  [OID.stdDhSha384Kdf]: "sha384",
  [OID.stdDhSha512Kdf]: "sha512",
};

/** RFC 3565 §2.3.2 key wrap and §2.2 content encryption: OID -> key length in bytes. */
const WRAP_KEY_BYTES: Readonly<Record<string, number>> = {
  [OID.aes128Wrap]: 16,
  [OID.aes192Wrap]: 24,
  [OID.aes256Wrap]: 32,
};
const CBC_KEY_BYTES: Readonly<Record<string, number>> = {
  [OID.aes128Cbc]: 16,
  [OID.aes192Cbc]: 24,
  [OID.aes256Cbc]: 32,
};

/** Node's curve names for the curves we take, and their OIDs (RFC 5480 §2.1.1.1). */
const CURVE_OID: Readonly<Record<string, string>> = {
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  secp521r1: "1.3.132.0.35",
};

/** The content types an envelope may carry: the file key itself, or an inner envelope. */
export type EnvelopeContentType = "data" | "envelopedData";

export type RecipientKind = "ktri" | "kari";

/** What a recipient certificate tells the envelope builder. */
export interface EnvelopeRecipient {
  /** DER of the recipient certificate (issuer and serial number name the recipient). */
  certificate: Uint8Array;
  /** The certificate's public key: RSA for ktri, EC P-256/384/521 for kari. */
  publicKey: KeyObject;
}

/** One RecipientInfo as parsed, with everything needed to open it and nothing pkijs-typed. */
type ParsedRecipient =
  | {
      kind: "ktri";
      algorithm: string;
      params: asn1js.AsnType | undefined;
      encryptedKey: Uint8Array;
    }
  | {
      kind: "kari";
      originatorPoint: Uint8Array | null;
      ukm: Uint8Array | null;
      algorithm: string;
      /** The key-wrap AlgorithmIdentifier, DER as received (it goes into the KDF SharedInfo). */
      wrapAlgorithm: Uint8Array | null;
      wrapOid: string | null;
      encryptedKeys: Uint8Array[];
    };

interface ParsedEnvelope {
  contentType: string;
  recipients: ParsedRecipient[];
  otherRecipients: number;
  contentAlgorithm: string;
  iv: Uint8Array | null;
  encryptedContent: Uint8Array | null;
}

function invalid(message: string, cause?: unknown): TrailsealError {
  return new TrailsealError("STANZA_INVALID", message, cause === undefined ? undefined : { cause });
}

function der(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

function octets(view: Uint8Array): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: toArrayBuffer(view) });
}

function algorithm(oid: string, params?: asn1js.AsnType): pkijs.AlgorithmIdentifier {
  return params === undefined
    ? new pkijs.AlgorithmIdentifier({ algorithmId: oid })
    : new pkijs.AlgorithmIdentifier({ algorithmId: oid, algorithmParams: params });
}

/** Reads exactly one BER element; trailing bytes are garbage (a spliced or padded stanza). */
function parseOne(bytes: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(toArrayBuffer(bytes));
  if (parsed.offset === -1) throw invalid(`${what} is not valid DER: ${parsed.result.error}`);
  if (parsed.offset !== bytes.byteLength) {
    throw invalid(`${what} has ${bytes.byteLength - parsed.offset} trailing bytes`);
  }
  return parsed.result;
}

// ---------------------------------------------------------------------------------------------
// Recipient certificates

/** The issuer and serial number of a certificate, as the rid of a RecipientInfo (RFC 5652 §10.2.4). */
function issuerAndSerial(certificate: Uint8Array): pkijs.IssuerAndSerialNumber {
  let cert: pkijs.Certificate;
  try {
    cert = pkijs.Certificate.fromBER(toArrayBuffer(certificate));
  } catch (e) {
    throw new TrailsealError("NOT_A_CERTIFICATE", "recipient is not an X.509 certificate", {
      cause: e,
    });
  }
  return new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber });
}

// ---------------------------------------------------------------------------------------------
// Making an envelope

/**
 * Envelopes `content` to one recipient: RSA -> ktri with OAEP SHA-256, EC -> kari with ECDH.
 * The caller has checked key type and size; this refuses anything else with KEY_UNSUPPORTED.
 */
export function makeEnvelope(
  content: Uint8Array,
  contentType: EnvelopeContentType,
  recipient: EnvelopeRecipient,
  random: (n: number) => Uint8Array,
): Uint8Array {
  const cek = random(32);
  const iv = random(16);
  const type = recipient.publicKey.asymmetricKeyType;
  let recipientInfo: pkijs.RecipientInfo;
  let version: number;
  if (type === "rsa") {
    recipientInfo = new pkijs.RecipientInfo({ variant: 1, value: keyTransInfo(cek, recipient) });
    version = 0; // RFC 5652 §6.1: no originatorInfo, no attributes, all RecipientInfos v0
  } else if (type === "ec") {
    recipientInfo = new pkijs.RecipientInfo({ variant: 2, value: keyAgreeInfo(cek, recipient) });
    version = 2; // kari is version 3, so the EnvelopedData is version 2 (RFC 5652 §6.1)
  } else {
    throw new TrailsealError("KEY_UNSUPPORTED", `cannot envelope to a ${type ?? "unknown"} key`);
  }

  const cipher = createCipheriv("aes-256-cbc", cek, iv);
  const encrypted = concat(toBytes(cipher.update(content)), toBytes(cipher.final()));
  const enveloped = new pkijs.EnvelopedData({
    version,
    recipientInfos: [recipientInfo],
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: contentType === "data" ? OID.data : OID.envelopedData,
      contentEncryptionAlgorithm: algorithm(OID.aes256Cbc, octets(iv)),
      encryptedContent: octets(encrypted),
      // DER: one primitive OCTET STRING, not pkijs's 1024-byte constructed chunks.
      disableSplit: true,
    }),
  });
  const info = new pkijs.ContentInfo({
    contentType: OID.envelopedData,
    content: enveloped.toSchema(),
  });
  return der(info.toSchema());
}

/** RFC 4055 §2.1: the hash AlgorithmIdentifiers of OAEP carry NULL parameters. */
function sha256Identifier(): pkijs.AlgorithmIdentifier {
  return algorithm(OID.sha256, new asn1js.Null());
}

/** RFC 4055 §4.1 RSAES-OAEP-params with SHA-256 and MGF1-SHA-256; pSourceFunc left default. */
export function oaepSha256Params(): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [sha256Identifier().toSchema()],
      }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 1 },
        value: [algorithm(OID.mgf1, sha256Identifier().toSchema()).toSchema()],
      }),
    ],
  });
}

function keyTransInfo(cek: Uint8Array, recipient: EnvelopeRecipient): pkijs.KeyTransRecipientInfo {
  const encryptedKey = publicEncrypt(
    { key: recipient.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    cek,
  );
  return new pkijs.KeyTransRecipientInfo({
    version: 0, // rid is issuerAndSerialNumber (RFC 5652 §6.2.1)
    rid: issuerAndSerial(recipient.certificate),
    keyEncryptionAlgorithm: algorithm(OID.rsaesOaep, oaepSha256Params()),
    encryptedKey: octets(toBytes(encryptedKey)),
  });
}

function ecCurve(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === undefined || CURVE_OID[curve] === undefined) {
    throw new TrailsealError("KEY_UNSUPPORTED", `ec curve ${curve ?? "unknown"} is not supported`);
  }
  return curve;
}

/** The uncompressed point (SEC 1 §2.3.3) of an EC public key. */
function ecPoint(key: KeyObject): Uint8Array {
  const spki = toBytes(key.export({ format: "der", type: "spki" }));
  const info = pkijs.PublicKeyInfo.fromBER(toArrayBuffer(spki));
  return info.subjectPublicKey.valueBlock.valueHexView;
}

function keyAgreeInfo(cek: Uint8Array, recipient: EnvelopeRecipient): pkijs.KeyAgreeRecipientInfo {
  const curve = ecCurve(recipient.publicKey);
  const ephemeral = createECDH(curve);
  ephemeral.generateKeys();
  const z = toBytes(ephemeral.computeSecret(ecPoint(recipient.publicKey)));
  const wrapAlgorithm = der(algorithm(OID.aes256Wrap).toSchema()); // AES wraps: params absent
  const kek = x963Kdf("sha256", z, eccCmsSharedInfo(wrapAlgorithm, null, 32), 32);
  const encryptedKey = aesKeyWrap(kek, cek);

  const originatorKey = new pkijs.OriginatorPublicKey({
    algorithm: algorithm(
      OID.ecPublicKey,
      new asn1js.ObjectIdentifier({ value: CURVE_OID[curve]! }),
    ),
    publicKey: new asn1js.BitString({ valueHex: toArrayBuffer(toBytes(ephemeral.getPublicKey())) }),
  });
  return new pkijs.KeyAgreeRecipientInfo({
    version: 3, // RFC 5652 §6.2.2: always 3
    originator: new pkijs.OriginatorIdentifierOrKey({ variant: 3, value: originatorKey }),
    keyEncryptionAlgorithm: algorithm(OID.stdDhSha256Kdf, algorithm(OID.aes256Wrap).toSchema()),
    recipientEncryptedKeys: new pkijs.RecipientEncryptedKeys({
      encryptedKeys: [
        new pkijs.RecipientEncryptedKey({
          rid: new pkijs.KeyAgreeRecipientIdentifier({
            variant: 1,
            value: issuerAndSerial(recipient.certificate),
          }),
          encryptedKey: octets(encryptedKey),
        }),
      ],
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// Key derivation and wrapping (RFC 5753 §7.2, ANSI X9.63, RFC 3394)

/**
 * RFC 5753 §7.2 ECC-CMS-SharedInfo: keyInfo is the key-wrap AlgorithmIdentifier, entityUInfo [0]
 * the UKM when present, suppPubInfo [2] the KEK length in bits as a 32-bit big-endian integer.
 */
function eccCmsSharedInfo(
  wrapAlgorithm: Uint8Array,
  ukm: Uint8Array | null,
  kekBytes: number,
): Uint8Array {
  const bits = new Uint8Array(4);
  new DataView(bits.buffer).setUint32(0, kekBytes * 8);
  const value: asn1js.AsnType[] = [parseOne(wrapAlgorithm, "key wrap algorithm")];
  if (ukm !== null) {
    value.push(
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [octets(ukm)] }),
    );
  }
  value.push(
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 2 }, value: [octets(bits)] }),
  );
  return der(new asn1js.Sequence({ value }));
}

/** ANSI X9.63 KDF (SEC 1 §3.6.1): Hash(Z || counter32 || SharedInfo), counter from 1. */
function x963Kdf(hash: string, z: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  let produced = 0;
  for (let counter = 1; produced < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    const block = toBytes(createHash(hash).update(z).update(c).update(sharedInfo).digest());
    blocks.push(block);
    produced += block.byteLength;
  }
  return concat(...blocks).slice(0, length);
}

const WRAP_IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex"); // RFC 3394 §2.2.3.1 default IV

function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Uint8Array {
  const cipher = createCipheriv(`id-aes${kek.byteLength * 8}-wrap`, kek, WRAP_IV);
  return concat(toBytes(cipher.update(key)), toBytes(cipher.final()));
}

function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  const decipher = createDecipheriv(`id-aes${kek.byteLength * 8}-wrap`, kek, WRAP_IV);
  return concat(toBytes(decipher.update(wrapped)), toBytes(decipher.final()));
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses ContentInfo(EnvelopedData) (RFC 5652 §3, §6.1) into plain fields. Throws STANZA_INVALID
 * for anything that is not a well-formed enveloped-data ContentInfo.
 */
function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  try {
    return parseEnvelopeFields(bytes);
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    // asn1js/pkijs throw plain errors on shapes their schemas do not expect.
    throw invalid("stanza is not a well-formed cms enveloped-data structure", e);
  }
}

function parseEnvelopeFields(bytes: Uint8Array): ParsedEnvelope {
  const root = parseOne(bytes, "stanza");
  let enveloped: pkijs.EnvelopedData;
  try {
    const info = new pkijs.ContentInfo({ schema: root });
    if (info.contentType !== OID.envelopedData) {
      throw invalid(`stanza content type is ${info.contentType}, not enveloped-data`);
    }
    enveloped = new pkijs.EnvelopedData({ schema: info.content });
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    throw invalid("stanza is not a cms enveloped-data structure", e);
  }

  const recipients: ParsedRecipient[] = [];
  let otherRecipients = 0;
  for (const ri of enveloped.recipientInfos) {
    const value = ri.value;
    if (ri.variant === 1 && value instanceof pkijs.KeyTransRecipientInfo) {
      recipients.push({
        kind: "ktri",
        algorithm: value.keyEncryptionAlgorithm.algorithmId,
        params: value.keyEncryptionAlgorithm.algorithmParams as asn1js.AsnType | undefined,
        encryptedKey: value.encryptedKey.valueBlock.valueHexView,
      });
    } else if (ri.variant === 2 && value instanceof pkijs.KeyAgreeRecipientInfo) {
      recipients.push(parseKari(value));
    } else {
      otherRecipients++;
    }
  }
  const eci = enveloped.encryptedContentInfo;
  const ivParam = eci.contentEncryptionAlgorithm.algorithmParams as unknown;
  const content = eci.encryptedContent;
  const encryptedContent = content === undefined ? null : octetString(content as asn1js.AsnType);
  return {
    contentType: eci.contentType,
    recipients,
    otherRecipients,
    contentAlgorithm: eci.contentEncryptionAlgorithm.algorithmId,
    iv: ivParam instanceof asn1js.OctetString ? ivParam.valueBlock.valueHexView : null,
    encryptedContent,
  };
}

/**
 * The octets of an OCTET STRING, primitive or constructed: BER (X.690 §8.7.3) lets a streamed
 * envelope, as `openssl cms -stream` writes it, split the encrypted content into nested chunks.
 */
function octetString(block: asn1js.AsnType): Uint8Array {
  if (!block.idBlock.isConstructed) {
    const value = block.valueBlock as unknown as { valueHexView?: Uint8Array };
    if (!(value.valueHexView instanceof Uint8Array)) {
      throw invalid("encrypted content is not an octet string");
    }
    return value.valueHexView;
  }
  const chunks = (block as asn1js.Constructed).valueBlock.value.filter(
    (chunk) => !(chunk instanceof asn1js.EndOfContent),
  );
  for (const chunk of chunks) {
    if (chunk.idBlock.tagClass !== 1 || chunk.idBlock.tagNumber !== 4) {
      throw invalid("encrypted content has a chunk that is not an octet string");
    }
  }
  return concat(...chunks.map(octetString));
}

function parseKari(value: pkijs.KeyAgreeRecipientInfo): ParsedRecipient {
  const originator = value.originator;
  let originatorPoint: Uint8Array | null = null;
  if (originator.variant === 3 && originator.value instanceof pkijs.OriginatorPublicKey) {
    originatorPoint = originator.value.publicKey.valueBlock.valueHexView;
  }
  const wrapParam = value.keyEncryptionAlgorithm.algorithmParams as unknown;
  let wrapAlgorithm: Uint8Array | null = null;
  let wrapOid: string | null = null;
  if (wrapParam instanceof asn1js.Sequence) {
    try {
      const wrap = new pkijs.AlgorithmIdentifier({ schema: wrapParam });
      wrapOid = wrap.algorithmId;
      wrapAlgorithm = der(wrapParam);
    } catch {
      wrapOid = null;
    }
  }
  return {
    kind: "kari",
    originatorPoint,
    ukm: value.ukm === undefined ? null : value.ukm.valueBlock.valueHexView,
    algorithm: value.keyEncryptionAlgorithm.algorithmId,
    wrapAlgorithm,
    wrapOid,
    encryptedKeys: value.recipientEncryptedKeys.encryptedKeys.map(
      (rek) => rek.encryptedKey.valueBlock.valueHexView,
    ),
  };
}

function contentTypeName(oid: string): EnvelopeContentType | "other" {
  return oid === OID.data ? "data" : oid === OID.envelopedData ? "envelopedData" : "other";
}

/** The structural facts a trail reader checks before it keeps a stanza. */
export function describeEnvelope(bytes: Uint8Array): {
  recipientCount: number;
  kinds: RecipientKind[];
  contentType: EnvelopeContentType | "other";
} {
  const parsed = parseEnvelope(bytes);
  if (parsed.otherRecipients > 0) {
    throw invalid("stanza has a recipient that is neither key transport nor key agreement");
  }
  if (parsed.recipients.length === 0) throw invalid("stanza has no recipients");
  if (parsed.encryptedContent === null) throw invalid("stanza has no encrypted content");
  if (CBC_KEY_BYTES[parsed.contentAlgorithm] === undefined) {
    throw invalid(`content encryption ${parsed.contentAlgorithm} is not supported (aes-cbc only)`);
  }
  if (parsed.iv === null || parsed.iv.byteLength !== 16) {
    throw invalid("content encryption iv is not 16 bytes");
  }
  return {
    recipientCount: parsed.recipients.length,
    kinds: parsed.recipients.map((r) => r.kind),
    contentType: contentTypeName(parsed.contentType),
  };
}

/** The key-encryption parameters of each recipient, for tests and `inspect` (OIDs as text). */
export function envelopeAlgorithms(bytes: Uint8Array): {
  content: string;
  recipients: {
    kind: RecipientKind;
    keyEncryption: string;
    oaep?: { hash: string; mgf1Hash: string };
    wrap?: string;
  }[];
} {
  const parsed = parseEnvelope(bytes);
  return {
    content: parsed.contentAlgorithm,
    recipients: parsed.recipients.map((r) => {
      if (r.kind === "kari") {
        return {
          kind: r.kind,
          keyEncryption: r.algorithm,
          ...(r.wrapOid === null ? {} : { wrap: r.wrapOid }),
        };
      }
      if (r.algorithm !== OID.rsaesOaep) return { kind: r.kind, keyEncryption: r.algorithm };
      const p = oaepParams(r.params);
      return {
        kind: r.kind,
        keyEncryption: r.algorithm,
        oaep: { hash: p.hashOid, mgf1Hash: p.mgf1HashOid },
      };
    }),
  };
}

interface OaepParams {
  hashOid: string;
  mgf1HashOid: string;
  label: Uint8Array;
}

/**
 * RFC 4055 §4.1 RSAES-OAEP-params, every field DEFAULT (SHA-1, MGF1-SHA-1, empty label). Parsed
 * here rather than with pkijs, whose pSourceFunc default is not an empty label.
 */
function oaepParams(params: asn1js.AsnType | undefined): OaepParams {
  try {
    return parseOaepParams(params);
  } catch (e) {
    if (e instanceof TrailsealError) throw e;
    throw invalid("rsaes-oaep parameters are malformed", e);
  }
}

function parseOaepParams(params: asn1js.AsnType | undefined): OaepParams {
  const out: OaepParams = { hashOid: OID.sha1, mgf1HashOid: OID.sha1, label: new Uint8Array() };
  if (params === undefined || params instanceof asn1js.Null) return out;
  if (!(params instanceof asn1js.Sequence))
    throw invalid("rsaes-oaep parameters are not a sequence");
  for (const field of params.valueBlock.value) {
    const tag = field.idBlock.tagNumber;
    const inner =
      field.idBlock.tagClass === 3 && field instanceof asn1js.Constructed
        ? field.valueBlock.value[0]
        : undefined;
    if (inner === undefined) throw invalid("rsaes-oaep parameters are malformed");
    const alg = new pkijs.AlgorithmIdentifier({ schema: inner });
    if (tag === 0) out.hashOid = alg.algorithmId;
    else if (tag === 1) {
      if (alg.algorithmId !== OID.mgf1)
        throw invalid(`oaep mask generation ${alg.algorithmId} is not mgf1`);
      out.mgf1HashOid = new pkijs.AlgorithmIdentifier({ schema: alg.algorithmParams }).algorithmId;
    } else if (tag === 2) {
      if (alg.algorithmId !== OID.pSpecified) throw invalid("oaep label source is not pSpecified");
      const label = alg.algorithmParams as unknown;
      if (!(label instanceof asn1js.OctetString))
        throw invalid("oaep label is not an octet string");
      out.label = label.valueBlock.valueHexView;
    } else throw invalid(`rsaes-oaep parameters have an unknown field [${tag}]`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Opening an envelope

/**
 * Why a recipient could not be opened by a key: "kind" = the key cannot be used for this
 * recipient at all (wrong key type or curve), "failed" = the cryptography failed (wrong key of
 * the right type, or a corrupted stanza: OAEP and AES key wrap cannot tell the two apart).
 */
export class EnvelopeOpenError extends Error {
  constructor(
    readonly reason: "kind" | "failed",
    message: string,
  ) {
    super(message);
  }
}

/**
 * A key that opens envelopes: a private KeyObject, or a key on a token (src/pkcs11/ops.ts) whose
 * OAEP decryption or ECDH derivation runs on the token (only the content key, or the ECDH shared
 * secret it is derived from, comes into memory).
 */
export type EnvelopeKey = KeyObject | DecryptionKey;

/** The key's type as recipients are chosen by it: "rsa" takes ktri, "ec" takes kari. */
function envelopeKeyType(key: EnvelopeKey): string | undefined {
  if ("decryptOaep" in key) return key.keyType === "RSA" ? "rsa" : "ec";
  return key.asymmetricKeyType;
}

/**
 * Opens an envelope with one private key: tries every recipient the key can serve and returns
 * the decrypted content. Throws STANZA_INVALID for a malformed structure, EnvelopeOpenError
 * when no recipient opens with this key.
 */
export async function openEnvelope(
  bytes: Uint8Array,
  privateKey: EnvelopeKey,
): Promise<{
  content: Uint8Array;
  contentType: EnvelopeContentType | "other";
}> {
  try {
    return await openParsed(parseEnvelope(bytes), privateKey);
  } catch (e) {
    if (e instanceof TrailsealError || e instanceof EnvelopeOpenError) throw e;
    throw invalid("stanza could not be read", e);
  }
}

async function openParsed(
  parsed: ParsedEnvelope,
  privateKey: EnvelopeKey,
): Promise<{ content: Uint8Array; contentType: EnvelopeContentType | "other" }> {
  const keyType = envelopeKeyType(privateKey);
  let tried = 0;
  let lastError = "";
  let unsupported: TrailsealError | undefined;
  for (const r of parsed.recipients) {
    if (r.kind === "ktri" && keyType !== "rsa") continue;
    if (r.kind === "kari" && keyType !== "ec") continue;
    let cekCandidates: (Uint8Array | string)[];
    try {
      cekCandidates =
        r.kind === "ktri" ? [await decryptKtri(r, privateKey)] : await decryptKari(r, privateKey);
    } catch (e) {
      // A recipient we cannot process (e.g. PKCS#1 v1.5 from openssl's defaults) may sit next
      // to one we can: keep looking, and report it only if nothing else was for this key type.
      if (!(e instanceof TrailsealError) || !RECIPIENT_SKIPPABLE.has(e.code)) throw e;
      unsupported ??= e;
      continue;
    }
    for (const cek of cekCandidates) {
      tried++;
      if (typeof cek === "string") {
        lastError = cek;
        continue;
      }
      const content = decryptContent(parsed, cek);
      if (typeof content === "string") {
        lastError = content;
        continue;
      }
      return { content, contentType: contentTypeName(parsed.contentType) };
    }
  }
  if (tried === 0) {
    if (unsupported !== undefined) throw unsupported;
    throw new EnvelopeOpenError(
      "kind",
      `no recipient in the stanza takes a key of type ${keyType ?? "unknown"}`,
    );
  }
  throw new EnvelopeOpenError("failed", lastError);
}

/**
 * What a recipient that cannot be processed throws (its parameters, or the token key's kind):
 * another recipient may still open. A token's own failures (wrong PIN, removed, a mechanism it
 * lacks) end the opening: they say nothing about the stanza.
 */
const RECIPIENT_SKIPPABLE = new Set(["STANZA_INVALID", "KEY_UNSUPPORTED"]);

async function decryptKtri(
  r: Extract<ParsedRecipient, { kind: "ktri" }>,
  key: EnvelopeKey,
): Promise<Uint8Array | string> {
  if (r.algorithm === OID.rsaEncryption) {
    // Node refuses PKCS#1 v1.5 decryption (Marvin attack), and trailseal never writes it.
    throw invalid("stanza uses rsaes-pkcs1-v1_5 key transport; only rsaes-oaep is supported");
  }
  if (r.algorithm !== OID.rsaesOaep)
    throw invalid(`key transport algorithm ${r.algorithm} is not supported`);
  const p = oaepParams(r.params);
  const hash = HASH_BY_OID[p.hashOid];
  if (hash === undefined || p.hashOid !== p.mgf1HashOid) {
    // Node sets one digest for OAEP and MGF1; OpenSSL's MGF1 then follows it.
    throw invalid(`oaep with hash ${p.hashOid} and mgf1 hash ${p.mgf1HashOid} is not supported`);
  }
  if ("decryptOaep" in key) return decryptKtriOnToken(r, p, key);
  try {
    return toBytes(
      privateDecrypt(
        {
          key,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: hash,
          ...(p.label.byteLength > 0 ? { oaepLabel: p.label } : {}),
        },
        r.encryptedKey,
      ),
    );
  } catch {
    return "rsa-oaep decryption of the content key failed";
  }
}

/** A token key decrypts OAEP with SHA-256, MGF1-SHA-256 and an empty label: what trailseal writes. */
async function decryptKtriOnToken(
  r: Extract<ParsedRecipient, { kind: "ktri" }>,
  p: OaepParams,
  key: DecryptionKey,
): Promise<Uint8Array | string> {
  if (p.hashOid !== OID.sha256 || p.label.byteLength > 0) {
    throw invalid(
      `oaep with hash ${p.hashOid}${p.label.byteLength > 0 ? " and a label" : ""} is not supported with a token key (sha-256, empty label only)`,
    );
  }
  try {
    return await key.decryptOaep(r.encryptedKey);
  } catch (e) {
    if (e instanceof TrailsealError && e.code === "STANZA_DECRYPT_FAILED") {
      return "rsa-oaep decryption of the content key failed";
    }
    throw e;
  }
}

/** The ECDH shared secret Z (RFC 5753 §3.1.1) with the originator's point, or null for a bad point. */
async function ecdhSecret(
  key: EnvelopeKey,
  point: Uint8Array,
): Promise<Uint8Array | "curve" | null> {
  if ("deriveEcdh" in key) {
    try {
      return await key.deriveEcdh(point);
    } catch (e) {
      // A point of another length: another curve's recipient, or a corrupted originator key.
      if (e instanceof TrailsealError && e.code === "STANZA_INVALID") return null;
      throw e;
    }
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === undefined || CURVE_OID[curve] === undefined) return "curve";
  try {
    const jwk = key.export({ format: "jwk" });
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(Buffer.from(jwk.d ?? "", "base64url"));
    return toBytes(ecdh.computeSecret(point));
  } catch {
    return null;
  }
}

async function decryptKari(
  r: Extract<ParsedRecipient, { kind: "kari" }>,
  key: EnvelopeKey,
): Promise<(Uint8Array | string)[]> {
  const kdfHash = KDF_HASH_BY_OID[r.algorithm];
  if (kdfHash === undefined)
    throw invalid(`key agreement algorithm ${r.algorithm} is not supported`);
  if (r.originatorPoint === null) {
    throw invalid("key agreement originator is not an ephemeral public key (originatorKey)");
  }
  const kekBytes = r.wrapOid === null ? undefined : WRAP_KEY_BYTES[r.wrapOid];
  if (r.wrapAlgorithm === null || kekBytes === undefined) {
    throw invalid(`key wrap algorithm ${r.wrapOid ?? "(missing)"} is not supported`);
  }
  const z = await ecdhSecret(key, r.originatorPoint);
  if (z === "curve") return ["ec curve of the key is not supported"];
  // A point not on the key's curve: another curve's recipient, or a corrupted originator key.
  if (z === null) return ["ecdh with the originator key failed"];
  const kek = x963Kdf(kdfHash, z, eccCmsSharedInfo(r.wrapAlgorithm, r.ukm, kekBytes), kekBytes);
  return r.encryptedKeys.map((encryptedKey) => {
    try {
      return aesKeyUnwrap(kek, encryptedKey);
    } catch {
      return "aes key unwrap of the content key failed";
    }
  });
}

function decryptContent(parsed: ParsedEnvelope, cek: Uint8Array): Uint8Array | string {
  const keyBytes = CBC_KEY_BYTES[parsed.contentAlgorithm];
  if (keyBytes === undefined) {
    throw invalid(`content encryption ${parsed.contentAlgorithm} is not supported (aes-cbc only)`);
  }
  if (parsed.iv === null || parsed.iv.byteLength !== 16)
    throw invalid("content encryption iv is not 16 bytes");
  if (parsed.encryptedContent === null) throw invalid("stanza has no encrypted content");
  if (cek.byteLength !== keyBytes)
    return `content key is ${cek.byteLength} bytes, expected ${keyBytes}`;
  try {
    const decipher = createDecipheriv(`aes-${keyBytes * 8}-cbc`, cek, parsed.iv);
    return concat(toBytes(decipher.update(parsed.encryptedContent)), toBytes(decipher.final()));
  } catch {
    return "content decryption failed (bad padding)";
  }
}
