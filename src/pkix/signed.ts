/**
 * CMS SignedData (RFC 5652 §5): the one parser, the one encoder and the one signer check under
 * checkpoint signatures (src/sign.ts) and time-stamp tokens (src/timestamp/verify.ts), which each
 * add only their own rules on top.
 *
 * pkijs re-encodes what it parses and defaults to SHA-1; a detached checkpoint signature needs
 * neither, and adding an unsigned attribute (a CAdES-T timestamp) must leave every signed byte as
 * it was. So SignedData is read into slices of the original bytes and written by concatenation.
 */
import { createHash } from "node:crypto";
import { TrailsealError, type ErrorCode } from "../errors.js";
import { equal } from "../bytes.js";
import {
  DerReader,
  TAG,
  encodeAlgorithm,
  encodeInteger,
  encodeOctetString,
  encodeOid,
  nullOrAbsent,
  seq,
  setOf,
  tlv,
  type AlgorithmIdentifier,
  type DerMode,
  type Tlv,
} from "./der.js";
import { OID } from "./oid.js";
import {
  ACCEPTED_HASHES,
  HASH_OID,
  WEAK_HASHES,
  verifySignatureValue,
  type HashName,
  type SignatureProfile,
} from "./algorithms.js";
import { allowsSigning, certificate, type Certificate } from "./cert.js";

export type { AlgorithmIdentifier };

/** One Attribute (RFC 5652 §5.3): its type and the DER of each AttributeValue. */
export interface CmsAttribute {
  oid: string;
  values: Uint8Array[];
}

export type SignerIdentifier =
  | { kind: "issuerAndSerialNumber"; issuer: Uint8Array; serial: Uint8Array }
  | { kind: "subjectKeyIdentifier"; keyIdentifier: Uint8Array };

export interface SignerInfoParts {
  version: number;
  sid: SignerIdentifier;
  digestAlgorithm: AlgorithmIdentifier;
  signedAttrs: CmsAttribute[] | null;
  /**
   * The signed attributes exactly as received, re-tagged as SET OF (0x31): the bytes the
   * signature covers (RFC 5652 §5.4). Null when there are none.
   */
  signedAttrsDer: Uint8Array | null;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
  unsignedAttrs: CmsAttribute[];
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

export interface DecodeOptions {
  /** The structure's name in messages ("signature", "time-stamp token"). */
  what?: string;
  code?: ErrorCode;
  /** "ber" for tokens, which some TSAs send in BER; signed attributes must still be DER. */
  mode?: DerMode;
}

/** Decodes a ContentInfo holding SignedData. Throws `code` (SIGNATURE_INVALID) when malformed. */
export function decodeSignedData(der: Uint8Array, options: DecodeOptions = {}): SignedDataParts {
  const r: DerReader = new DerReader(
    der,
    options.what ?? "signature",
    options.code ?? "SIGNATURE_INVALID",
    options.mode ?? "der",
  );
  const ci = r.children(r.expect(r.whole(), TAG.SEQUENCE, "ContentInfo"));
  const contentType = r.oid(ci[0], "ContentInfo contentType");
  if (contentType !== OID.signedData) r.fail(`content type ${contentType} is not SignedData`);
  const explicit = r.children(r.expect(ci[1], TAG.CTX0, "ContentInfo content"));
  const sd = r.children(r.expect(explicit[0], TAG.SEQUENCE, "SignedData"));
  let i = 0;
  const version = r.int(sd[i++], "SignedData version");
  const digestAlgorithms = r
    .children(r.expect(sd[i++], TAG.SET, "digestAlgorithms"))
    .map((a) => r.algorithm(a, "digestAlgorithm").oid);
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
  r.end(sd, i, "SignedData");
  return { version, digestAlgorithms, eContentType, eContent, certificates, signerInfos };
}

function attributes(r: DerReader, t: Tlv): CmsAttribute[] {
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

function signerIdentifier(r: DerReader, sidTlv: Tlv | undefined): SignerIdentifier {
  if (sidTlv?.tag === TAG.SEQUENCE) {
    const ias = r.children(sidTlv);
    const issuer = r.expect(ias[0], TAG.SEQUENCE, "sid issuer");
    return {
      kind: "issuerAndSerialNumber",
      issuer: r.raw(issuer),
      serial: r.value(r.expect(ias[1], TAG.INTEGER, "sid serialNumber")),
    };
  }
  if (sidTlv?.tag === TAG.CTX0_PRIMITIVE) {
    return { kind: "subjectKeyIdentifier", keyIdentifier: r.value(sidTlv) };
  }
  r.fail("SignerInfo sid missing or of unknown form");
}

function signerInfo(r: DerReader, t: Tlv): SignerInfoParts {
  const s = r.children(r.expect(t, TAG.SEQUENCE, "SignerInfo"));
  let i = 0;
  const version = r.int(s[i++], "SignerInfo version");
  const sid = signerIdentifier(r, s[i++]);
  const digestAlgorithm = r.algorithm(s[i++], "SignerInfo digestAlgorithm");
  let signedAttrs: CmsAttribute[] | null = null;
  let signedAttrsDer: Uint8Array | null = null;
  if (s[i]?.tag === TAG.CTX0) {
    const t0 = s[i++]!;
    // RFC 5652 §5.3: signed attributes are DER, whatever the rest of the structure is.
    if (t0.mode === "ber" && t0.end - t0.valueEnd === 2) r.fail("signed attributes are not DER");
    signedAttrs = attributes(r, t0);
    // RFC 5652 §5.4: the signature covers the EXPLICIT SET OF tag, not the [0] IMPLICIT one.
    signedAttrsDer = new Uint8Array(r.raw(t0));
    signedAttrsDer[0] = TAG.SET;
  }
  const signatureAlgorithm = r.algorithm(s[i++], "SignerInfo signatureAlgorithm");
  const signature = r.value(r.expect(s[i++], TAG.OCTET_STRING, "SignerInfo signature"));
  let unsignedAttrs: CmsAttribute[] = [];
  if (s[i]?.tag === TAG.CTX1) unsignedAttrs = attributes(r, s[i++]!);
  r.end(s, i, "SignerInfo");
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

// ---------------------------------------------------------------------------------------------
// Encoding

/** The DER SET OF Attribute that a signer signs (RFC 5652 §5.4), sorted per X.690 §11.6. */
export function encodeSignedAttributes(attrs: readonly CmsAttribute[]): Uint8Array {
  return setOf(attrs.map(encodeAttribute));
}

function encodeAttribute(a: CmsAttribute): Uint8Array {
  return seq(encodeOid(a.oid), setOf(a.values));
}

export interface SignedDataInput {
  /** DER certificates for the certificate set (DER sorts them); none leaves the set out. */
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
  /** The encapsulated content type (default id-data) and content (absent = detached). */
  eContentType?: string;
  eContent?: Uint8Array;
}

/** A SignedData ContentInfo (RFC 5652 §5.1) with one SignerInfo (issuerAndSerialNumber, v1). */
export function encodeSignedData(input: SignedDataInput): Uint8Array {
  const digestAlg = encodeAlgorithm(input.digestAlgorithm);
  const eContentType = input.eContentType ?? OID.data;
  // [0] IMPLICIT replaces the SET tag of the signed attributes; the body stays byte for byte.
  const signedAttrs = new Uint8Array(input.signedAttributes);
  signedAttrs[0] = TAG.CTX0;
  const signer = seq(
    encodeInteger(1),
    seq(input.issuer, tlv(TAG.INTEGER, input.serial)),
    digestAlg,
    signedAttrs,
    encodeAlgorithm(input.signatureAlgorithm, input.signatureParameters),
    encodeOctetString(input.signature),
  );
  const content =
    input.eContent === undefined ? [] : [tlv(TAG.CTX0, encodeOctetString(input.eContent))];
  const signedData = seq(
    // RFC 5652 §5.1: version 3 when the content is other than id-data, else 1.
    encodeInteger(eContentType === OID.data ? 1 : 3),
    setOf([digestAlg]),
    seq(encodeOid(eContentType), ...content),
    ...(input.certificates.length === 0 ? [] : [setOf(input.certificates, TAG.CTX0)]),
    setOf([signer]),
  );
  return seq(encodeOid(OID.signedData), tlv(TAG.CTX0, signedData));
}

/** What one signer signs (RFC 5652 §5.3, §5.4): the content, with the signer's certificate and key. */
export interface SignerInput {
  /** The signer's certificate: it names the signer (issuerAndSerialNumber) and is bound by ESS. */
  readonly leaf: Certificate;
  readonly profile: SignatureProfile;
  /** DER certificates for the certificate set; none leaves the set out. */
  readonly certificates: readonly Uint8Array[];
  readonly eContentType: string;
  readonly content: Uint8Array;
  /** The content goes into the SignedData; false for a detached signature. */
  readonly encapsulate: boolean;
  /** Signed attributes besides contentType, messageDigest and signingCertificateV2. */
  readonly attributes?: readonly CmsAttribute[];
}

/**
 * A SignedData with one signer and the signed attributes contentType, messageDigest (of the
 * content, with the profile's hash), signingCertificateV2 and `attributes`: at once when the key
 * signs in this process, else a promise (a key on a token).
 */
export function signSignedData(input: SignerInput): Uint8Array | Promise<Uint8Array> {
  const { leaf, profile } = input;
  const signedAttributes = encodeSignedAttributes([
    { oid: OID.contentType, values: [encodeOid(input.eContentType)] },
    {
      oid: OID.messageDigest,
      values: [encodeOctetString(createHash(profile.hash).update(input.content).digest())],
    },
    { oid: OID.signingCertificateV2, values: [encodeSigningCertificateV2(leaf)] },
    ...(input.attributes ?? []),
  ]);
  const encode = (signature: Uint8Array): Uint8Array =>
    encodeSignedData({
      certificates: input.certificates,
      digestAlgorithm: HASH_OID[profile.hash],
      issuer: leaf.issuerDer,
      serial: leaf.serialBytes,
      signedAttributes,
      signatureAlgorithm: profile.algorithm,
      ...(profile.parameters === undefined ? {} : { signatureParameters: profile.parameters }),
      signature,
      eContentType: input.eContentType,
      ...(input.encapsulate ? { eContent: input.content } : {}),
    });
  return profile.signSync === undefined
    ? profile.sign(signedAttributes).then(encode)
    : encode(profile.signSync(signedAttributes));
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
  const r: DerReader = new DerReader(signedData, "signature", "SIGNATURE_INVALID");
  new DerReader(valueDer, `attribute ${oid} value`, "SIGNATURE_INVALID").whole();
  const ci = r.children(r.expect(r.whole(), TAG.SEQUENCE, "ContentInfo"));
  const explicit = r.expect(ci[1], TAG.CTX0, "ContentInfo content");
  const sd = r.children(r.expect(r.children(explicit)[0], TAG.SEQUENCE, "SignedData"));
  const infos = r.children(r.expect(sd[sd.length - 1], TAG.SET, "signerInfos"));
  if (infos.length !== 1) r.fail(`expected exactly one SignerInfo, found ${infos.length}`);
  const si = r.children(r.expect(infos[0], TAG.SEQUENCE, "SignerInfo"));
  const last = si[si.length - 1]!;
  const kept = last.tag === TAG.CTX1 ? si.slice(0, -1) : si;
  const unsigned = last.tag === TAG.CTX1 ? attributes(r, last) : [];
  const existing = unsigned.find((a) => a.oid === oid);
  if (existing !== undefined) existing.values.push(valueDer);
  else unsigned.push({ oid, values: [valueDer] });
  const newSigner = seq(
    ...kept.map((t) => r.raw(t)),
    setOf(unsigned.map(encodeAttribute), TAG.CTX1),
  );
  const newSd = seq(...sd.slice(0, -1).map((t) => r.raw(t)), tlv(TAG.SET, newSigner));
  return seq(r.raw(ci[0]!), tlv(TAG.CTX0, newSd));
}

/**
 * SigningCertificateV2 value (RFC 5035 §3) for one certificate: its SHA-256 hash (the default
 * hashAlgorithm, so omitted per DER) and issuerSerial (the issuer as a directoryName).
 */
export function encodeSigningCertificateV2(cert: Certificate): Uint8Array {
  const certHash = createHash("sha256").update(cert.der).digest();
  const issuerSerial = seq(
    seq(tlv(TAG.CTX4, cert.issuerDer)), // GeneralNames { directoryName [4] EXPLICIT Name }
    tlv(TAG.INTEGER, cert.serialBytes),
  );
  return seq(seq(seq(encodeOctetString(certHash), issuerSerial)));
}

// ---------------------------------------------------------------------------------------------
// Attribute values

/** One ESSCertID (RFC 2634 §5.4.1, always SHA-1) or ESSCertIDv2 (RFC 5035 §4, SHA-256 default). */
export interface EssCertId {
  version: 1 | 2;
  hashAlgorithm: string;
  certHash: Uint8Array;
  /** From issuerSerial when present: the directoryName DERs of the GeneralNames and the serial. */
  issuerSerial: { issuers: Uint8Array[]; serial: Uint8Array } | null;
}

/** Decodes a SigningCertificate(V2) value; policies are ignored. */
export function decodeSigningCertificate(
  valueDer: Uint8Array,
  version: 1 | 2,
  code: ErrorCode,
): EssCertId[] {
  const name = version === 2 ? "signingCertificateV2" : "signingCertificate";
  const r: DerReader = new DerReader(valueDer, `${name} attribute`, code);
  const top = r.children(r.expect(r.whole(), TAG.SEQUENCE, name));
  return r.children(r.expect(top[0], TAG.SEQUENCE, "certs")).map((c) => {
    const parts = r.children(r.expect(c, TAG.SEQUENCE, "ESSCertID"));
    let i = 0;
    let hashAlgorithm: string = version === 2 ? OID.sha256 : OID.sha1;
    if (version === 2 && parts[i]?.tag === TAG.SEQUENCE)
      hashAlgorithm = r.algorithm(parts[i++], "ESSCertIDv2 hashAlgorithm").oid;
    const certHash = r.value(r.expect(parts[i++], TAG.OCTET_STRING, "certHash"));
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
    return { version, hashAlgorithm, certHash, issuerSerial };
  });
}

/** The one value of a signed attribute, null when absent; `invalid` when it has several. */
export function singleAttribute(
  attrs: readonly CmsAttribute[],
  oid: string,
  name: string,
  invalid: (check: string) => Error,
): Uint8Array | null {
  const found = attrs.filter((a) => a.oid === oid);
  if (found.length === 0) return null;
  if (found.length > 1 || found[0]!.values.length !== 1)
    throw invalid(`the ${name} attribute must have exactly one value`);
  return found[0]!.values[0]!;
}

// ---------------------------------------------------------------------------------------------
// The signer check

export interface SignerRules {
  /** The error for a failed check; each caller words and codes its own. */
  invalid: (check: string) => TrailsealError;
  /** How a certificate is named in messages. */
  name: (cert: Certificate) => string;
  /** The content the messageDigest is over: the eContent, or the detached content. */
  content: Uint8Array;
  /** Certificates from outside the SignedData to find the signer among. */
  certificates?: readonly Uint8Array[];
  /** Also accept ESS signingCertificate (v1, RFC 2634), which openssl ts writes by default. */
  essV1?: boolean;
  /** The error code for malformed attribute values. */
  code: ErrorCode;
}

/** What the signer check proves. */
export interface VerifiedSigner {
  signerInfo: SignerInfoParts;
  signer: Certificate;
  /** Every certificate offered (in the SignedData, then the caller's) other than the signer's. */
  others: Uint8Array[];
  hash: HashName;
  signedAttrs: CmsAttribute[];
  /** The signingTime attribute, or null when absent. */
  signingTime: Date | null;
}

const SMALLEST_RSA_KEY = 2048;

/**
 * Checks the only SignerInfo of `sd` (RFC 5652 §5.3-§5.6): a digest algorithm of the accepted
 * table, signed attributes each once, contentType equal to the eContentType, messageDigest over
 * `rules.content`, the signer's certificate found by its sid, an RSA key of 2048 bits or more,
 * the signature under the accepted algorithms, keyUsage allowing signatures, and the ESS
 * signingCertificate(V2) naming that certificate. Returns the signer's facts or throws.
 */
export function verifySigner(sd: SignedDataParts, rules: SignerRules): VerifiedSigner {
  const { invalid } = rules;
  if (sd.signerInfos.length !== 1)
    throw invalid(`expected exactly one signer, found ${sd.signerInfos.length}`);
  const si = sd.signerInfos[0]!;
  const hash = digestHash(si.digestAlgorithm, invalid);
  const attrs = si.signedAttrs;
  if (attrs === null || si.signedAttrsDer === null) throw invalid("no signed attributes");
  const oids = attrs.map((a) => a.oid);
  if (new Set(oids).size !== oids.length)
    throw invalid("a signed attribute appears more than once");
  const contentType = singleAttribute(attrs, OID.contentType, "contentType", invalid);
  if (contentType === null) throw invalid("the contentType signed attribute is missing");
  const ct = new DerReader(contentType, "contentType attribute", rules.code);
  const ctOid = ct.oid(ct.whole(), "contentType");
  if (ctOid !== sd.eContentType)
    throw invalid(`the contentType attribute ${ctOid} is not ${contentName(sd.eContentType)}`);
  const md = singleAttribute(attrs, OID.messageDigest, "messageDigest", invalid);
  if (md === null) throw invalid("the messageDigest signed attribute is missing");
  const mdr = new DerReader(md, "messageDigest attribute", rules.code);
  const digest = mdr.value(mdr.expect(mdr.whole(), TAG.OCTET_STRING, "messageDigest"));
  if (!equal(digest, new Uint8Array(createHash(hash).update(rules.content).digest()))) {
    throw invalid("the content does not match the signed message digest");
  }
  const { signer, others } = findSigner(sd, si.sid, rules);
  checkSignerKey(signer, hash, si, rules);
  checkEss(attrs, signer, rules);
  const st = singleAttribute(attrs, OID.signingTime, "signingTime", invalid);
  let signingTime: Date | null = null;
  if (st !== null) {
    const tr = new DerReader(st, "signingTime attribute", rules.code);
    signingTime = tr.time(tr.whole(), "signingTime");
  }
  return { signerInfo: si, signer, others, hash, signedAttrs: attrs, signingTime };
}

function contentName(oid: string): string {
  return oid === OID.data ? "id-data" : oid === OID.tstInfo ? "id-ct-TSTInfo" : oid;
}

/** The SignerInfo's digest algorithm: SHA-256/384/512 with absent or NULL parameters. */
function digestHash(a: AlgorithmIdentifier, invalid: (check: string) => Error): HashName {
  const weak = WEAK_HASHES.get(a.oid);
  if (weak !== undefined) throw invalid(`${weak} digest refused`);
  const hash = ACCEPTED_HASHES.get(a.oid);
  if (hash === undefined) throw invalid(`unsupported digest algorithm ${a.oid}`);
  if (!nullOrAbsent(a.parameters))
    throw invalid("digest algorithm parameters must be absent or NULL");
  return hash;
}

function findSigner(
  sd: SignedDataParts,
  sid: SignerIdentifier,
  rules: SignerRules,
): { signer: Certificate; others: Uint8Array[] } {
  const offered = [...sd.certificates, ...(rules.certificates ?? [])];
  const certs = offered.map((der, i) => {
    try {
      const cert = certificate(der);
      void cert.publicKey; // a key OpenSSL cannot read is a malformed certificate here
      return cert;
    } catch (e) {
      const error = rules.invalid(`certificate ${i + 1} offered with the signature is malformed`);
      throw new TrailsealError(error.code, error.message, { cause: e });
    }
  });
  const signer = certs.find((c) =>
    sid.kind === "issuerAndSerialNumber"
      ? equal(c.issuerDer, sid.issuer) && equal(c.serialBytes, sid.serial)
      : // RFC 5652 §5.3 lets a signer be named by the subjectKeyIdentifier of its certificate.
        c.subjectKeyIdentifier !== null && equal(c.subjectKeyIdentifier, sid.keyIdentifier),
  );
  if (signer === undefined) {
    const e = rules.invalid("the signer's certificate is not included in the signature, nor given");
    throw e.amend({ missing: "untrusted-certificate" });
  }
  const others = certs.filter((c) => c.fingerprint !== signer.fingerprint).map((c) => c.der);
  return { signer, others };
}

function checkSignerKey(
  signer: Certificate,
  hash: HashName,
  si: SignerInfoParts,
  rules: SignerRules,
): void {
  const { invalid } = rules;
  const key = signer.publicKey;
  // A key this small can be factored, and its signatures forged.
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType?.startsWith("rsa") === true && bits < SMALLEST_RSA_KEY) {
    throw invalid(
      `${rules.name(signer)} has a ${bits}-bit RSA key; ${SMALLEST_RSA_KEY} bits or more required`,
    );
  }
  const ok = verifySignatureValue(
    key,
    hash,
    si.signatureAlgorithm,
    si.signedAttrsDer!,
    si.signature,
    invalid,
  );
  if (!ok) {
    throw invalid(
      `the signature over the signed attributes does not verify with the key of ${rules.name(signer)}`,
    );
  }
  if (!allowsSigning(signer)) {
    throw invalid(
      `the keyUsage of ${rules.name(signer)} allows neither digitalSignature nor nonRepudiation`,
    );
  }
}

/** ESS signingCertificate(V2) binds the signer certificate (RFC 5035 §3; RFC 5816 §2.2.1). */
function checkEss(attrs: readonly CmsAttribute[], signer: Certificate, rules: SignerRules): void {
  const { invalid } = rules;
  const v2 = singleAttribute(attrs, OID.signingCertificateV2, "signingCertificateV2", invalid);
  const v1 =
    rules.essV1 === true
      ? singleAttribute(attrs, OID.signingCertificate, "signingCertificate", invalid)
      : null;
  const name = rules.essV1 === true ? "signingCertificate(V2)" : "signingCertificateV2";
  if (v2 === null && v1 === null) throw invalid(`the ${name} signed attribute is missing`);
  const first = (
    v2 !== null
      ? decodeSigningCertificate(v2, 2, rules.code)
      : decodeSigningCertificate(v1!, 1, rules.code)
  )[0];
  if (first === undefined) throw invalid(`the ${name} attribute names no certificate`);
  // ESSCertID v1 is SHA-1 by definition: it binds a certificate the signature already commits
  // to, which a collision cannot undo; in v2 we hold the hash to the accepted table.
  const certHash = first.version === 1 ? "sha1" : ACCEPTED_HASHES.get(first.hashAlgorithm);
  if (certHash === undefined) {
    const weak = WEAK_HASHES.get(first.hashAlgorithm);
    throw invalid(
      weak !== undefined
        ? `${weak} in signingCertificateV2 refused`
        : `unsupported signingCertificateV2 hash ${first.hashAlgorithm}`,
    );
  }
  if (!equal(first.certHash, new Uint8Array(createHash(certHash).update(signer.der).digest()))) {
    throw invalid(`${name} does not name the signer certificate ${rules.name(signer)}`);
  }
  if (
    first.issuerSerial !== null &&
    !(
      equal(first.issuerSerial.serial, signer.serialBytes) &&
      (first.issuerSerial.issuers.length === 0 ||
        first.issuerSerial.issuers.some((n) => equal(n, signer.issuerDer)))
    )
  ) {
    throw invalid(`the issuerSerial of ${name} does not match the signer certificate`);
  }
}
