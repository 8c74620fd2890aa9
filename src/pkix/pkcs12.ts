/**
 * PKCS#12 (RFC 7292) reading: certificates (exact DER) and private keys (PKCS#8 DER) out of a
 * PFX. pkijs parses the structure; the password MAC (§5, Appendix B) is checked here with
 * node:crypto, over both forms of an empty password as OpenSSL does; modern
 * PBES2/AES contents are decrypted by pkijs (EncryptedData) and node:crypto (shrouded keys).
 * node-forge is used only for the legacy PKCS#12 PBE ciphers (Appendix C: pbeWithSHAAnd40BitRC2-CBC,
 * pbeWithSHAAnd3-KeyTripleDES-CBC), which neither WebCrypto nor OpenSSL 3's default provider has.
 */
import { createHash, createHmac, createPrivateKey, timingSafeEqual } from "node:crypto";
import type * as asn1js from "asn1js";
import type Forge from "node-forge";
import { TrailsealError } from "../errors.js";
import { toArrayBuffer, utf8 } from "../bytes.js";
import { parseAsn1, pkijs } from "./engine.js";
import { HASHES, OID } from "./oid.js";

export interface Pkcs12Contents {
  /** Unencrypted PKCS#8 PrivateKeyInfo DER of each key bag, file order. */
  readonly keys: Uint8Array[];
  /** X.509 certificates, exact DER, file order. */
  readonly certificates: Uint8Array[];
}

const OID_DATA = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6";
const OID_KEY_BAG = "1.2.840.113549.1.12.10.1.1";
const OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const OID_SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6";
const OID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1";
/** pkcs-12PbeIds (RFC 7292 Appendix C): the legacy password-based ciphers. */
const PKCS12_PBE_PREFIX = "1.2.840.113549.1.12.1.";
/** The DER of that OID arc (X.690 §8.19): where it is absent, no legacy cipher is used. */
const PKCS12_PBE_PREFIX_DER = Buffer.from("2a864886f70d010c01", "hex");

/** node-forge, loaded only for a file that uses a legacy PKCS#12 cipher. */
let forge: typeof Forge | undefined;

/**
 * A password as the PKCS#12 key derivation takes it (RFC 7292 Appendix B.1): a string is
 * encoded as a BMPString with its two-byte NUL terminator, so "" is the bytes 00 00; `null` is
 * the zero-length password (no bytes at all), which OpenSSL and pyca/cryptography write for a
 * file made without a password. PBES2 (PBKDF2) takes both as the empty octet string.
 */
type Password = string | null;

/**
 * Reads a PFX. `password` undefined means none was given; the empty password is tried then,
 * as OpenSSL does, in both of its forms (the empty BMPString and zero bytes). Throws
 * PKCS12_PASSWORD when no candidate opens the file, PKCS12_INVALID when the structure is wrong,
 * uses a mode trailseal does not read (public-key privacy or integrity), or exceeds a limit of
 * the ASN.1 parser.
 */
export async function readPkcs12(
  der: Uint8Array,
  password: string | undefined,
  source: string,
  options: { keys: boolean } = { keys: true },
): Promise<Pkcs12Contents> {
  const invalid = (what: string, cause?: unknown): TrailsealError => {
    const limit = parserLimit(cause);
    return new TrailsealError(
      "PKCS12_INVALID",
      limit === undefined
        ? `${source}: invalid PKCS#12 file: ${what}`
        : `${source}: PKCS#12 file not read: it exceeds a limit of trailseal's ASN.1 parser (${limit}), not necessarily a fault of the file`,
      { cause },
    );
  };
  if (forge === undefined && Buffer.from(der).includes(PKCS12_PBE_PREFIX_DER)) {
    forge = (await import("node-forge")).default;
  }
  let pfx: pkijs.PFX;
  try {
    pfx = new pkijs.PFX({ schema: parseAsn1(der) });
  } catch (e) {
    throw invalid("the outer structure does not parse", e);
  }
  if (pfx.authSafe.contentType !== OID_DATA) {
    throw invalid("public-key integrity mode is not supported (only password MAC)");
  }
  const candidates: Password[] =
    password === undefined || password === "" ? ["", null] : [password];
  // The MAC (RFC 7292 §5) names the one password that opens the file; pkijs checks it only
  // over the BMPString form, so trailseal checks it itself.
  const passwords =
    pfx.macData === undefined
      ? candidates
      : [macPassword(pfx, candidates, source, password, invalid)];
  let safe: pkijs.AuthenticatedSafe;
  try {
    safe = new pkijs.AuthenticatedSafe({ schema: parseAsn1(authSafeContent(pfx)) });
  } catch (e) {
    throw invalid("the authenticated safe does not parse", e);
  }
  for (const [i, pass] of passwords.entries()) {
    try {
      return await readSafes(safe, pass, options.keys, invalid, pfx.macData === undefined);
    } catch (e) {
      // Without a MAC, a safe that does not decrypt is most likely a wrong password: the next
      // candidate may open it.
      if (!(e instanceof WrongPassword)) throw e;
      if (i === passwords.length - 1) throw wrongPassword(source, password, e.cause);
    }
  }
  throw invalid("no password to try");
}

/** The candidate whose MAC verifies; throws PKCS12_PASSWORD when none does. */
function macPassword(
  pfx: pkijs.PFX,
  candidates: readonly Password[],
  source: string,
  password: string | undefined,
  invalid: (what: string, cause?: unknown) => TrailsealError,
): Password {
  const macData = pfx.macData!;
  const hashOid = macData.mac.digestAlgorithm.algorithmId;
  const known = HASHES[hashOid];
  if (known === undefined || hashOid === OID.md5) {
    throw invalid(`the MAC's hash ${hashOid} is not supported`);
  }
  const { name: hash, length } = known;
  const expected = octets(macData.mac.digest as asn1js.OctetString);
  const salt = octets(macData.macSalt);
  const iterations = macData.iterations ?? 1;
  if (!(iterations >= 1)) throw invalid("the MAC's iteration count is below 1");
  const content = authSafeContent(pfx);
  for (const candidate of candidates) {
    const key = pkcs12Key(hash, length, bmpPassword(candidate), salt, iterations);
    const mac = createHmac(hash, key).update(content).digest();
    if (mac.length === expected.length && timingSafeEqual(mac, expected)) return candidate;
  }
  throw wrongPassword(source, password, undefined);
}

/** The AuthenticatedSafe DER, the content of the PFX's data ContentInfo (RFC 7292 §4). */
function authSafeContent(pfx: pkijs.PFX): Uint8Array {
  return octets(pfx.authSafe.content as asn1js.OctetString);
}

/** The password bytes of the PKCS#12 KDF (RFC 7292 Appendix B.1): UTF-16BE and 00 00, or none. */
function bmpPassword(password: Password): Uint8Array {
  if (password === null) return new Uint8Array(0);
  const out = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/**
 * The PKCS#12 key derivation (RFC 7292 Appendix B.2) with ID 3, the MAC key (§5: as long as
 * the hash's output). v is the hash's block size: 64 bytes, 128 for SHA-384 and SHA-512.
 */
function pkcs12Key(
  hash: string,
  length: number,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Buffer {
  if (!(iterations >= 1)) throw new Error("the MAC's iteration count is below 1");
  const v = length > 32 ? 128 : 64;
  // Repeats s to fill a multiple of v bytes (`size` when given); empty stays empty.
  const fill = (s: Uint8Array, size = v * Math.ceil(s.length / v)): Buffer => {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = s[i % s.length]!;
    return out;
  };
  const d = Buffer.alloc(v, 3);
  const input = Buffer.concat([fill(salt), fill(password)]);
  const parts: Buffer[] = [];
  for (let got = 0; ;) {
    let a = createHash(hash).update(d).update(input).digest();
    for (let r = 1; r < iterations; r++) a = createHash(hash).update(a).digest();
    parts.push(a);
    got += a.length;
    if (got >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I.
    const b = fill(a, v);
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = input[j + k]! + b[k]! + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** Which limit of asn1js (its own words) a parse failure hit, or undefined for a real fault. */
function parserLimit(cause: unknown): string | undefined {
  for (let e = cause; e instanceof Error; e = e.cause) {
    const limit = /Maximum ASN\.1 (nesting depth|node count|content length) exceeded/.exec(
      e.message,
    );
    if (limit !== null) return `maximum ${limit[1]!} exceeded`;
  }
  return undefined;
}

/** A safe or key bag that did not decrypt with this password (a wrong one, without a MAC). */
class WrongPassword extends Error {
  constructor(cause: unknown) {
    super("does not decrypt", { cause });
  }
}

/** The certificates and keys of every safe (RFC 7292 §4.1), decrypted with `pass`. */
async function readSafes(
  safe: pkijs.AuthenticatedSafe,
  pass: Password,
  keys: boolean,
  invalid: (what: string, cause?: unknown) => TrailsealError,
  noMac: boolean,
): Promise<Pkcs12Contents> {
  const out: Pkcs12Contents = { keys: [], certificates: [] };
  for (const info of safe.safeContents) {
    let contents: Uint8Array;
    try {
      contents = await safeBytes(info, pass, invalid);
    } catch (e) {
      if (e instanceof TrailsealError) throw e;
      if (noMac) throw new WrongPassword(e);
      throw invalid("a safe does not decrypt or parse", e);
    }
    try {
      await readSafeContents(contents, { pass, keys }, out, invalid);
    } catch (e) {
      if (e instanceof TrailsealError) throw e;
      if (e instanceof KeyBagError) {
        if (noMac) throw new WrongPassword(e.cause);
        throw invalid("a key bag does not decrypt", e.cause);
      }
      throw invalid("a bag does not parse", e);
    }
  }
  return out;
}

/** The SafeContents DER of one ContentInfo of the authenticated safe, decrypted if it is. */
async function safeBytes(
  info: pkijs.ContentInfo,
  pass: Password,
  invalid: (what: string, cause?: unknown) => TrailsealError,
): Promise<Uint8Array> {
  if (info.contentType === OID_DATA) return octets(info.content as asn1js.OctetString);
  if (info.contentType !== OID_ENCRYPTED_DATA) {
    throw invalid(`a safe of type ${info.contentType} is not supported`);
  }
  const encrypted = new pkijs.EncryptedData({ schema: info.content });
  const eci = encrypted.encryptedContentInfo;
  const algorithm = eci.contentEncryptionAlgorithm;
  if (algorithm.algorithmId.startsWith(PKCS12_PBE_PREFIX)) {
    return legacyDecrypt(algorithm, new Uint8Array(eci.getEncryptedContent()), pass);
  }
  const password = toArrayBuffer(utf8.encode(pass ?? ""));
  return new Uint8Array(await encrypted.decrypt({ password }));
}

/** A shrouded key bag that did not decrypt (a wrong password when there is no MAC). */
class KeyBagError extends Error {
  constructor(cause: unknown) {
    super("key bag does not decrypt", { cause });
  }
}

function wrongPassword(
  source: string,
  password: string | undefined,
  cause: unknown,
): TrailsealError {
  return new TrailsealError(
    "PKCS12_PASSWORD",
    password === undefined
      ? `${source} is a password-protected PKCS#12 file and no password was given`
      : `wrong password for PKCS#12 file ${source}`,
    {
      cause,
      missing: password === undefined ? "pkcs12-password" : "right-pkcs12-password",
    },
  );
}

async function readSafeContents(
  der: Uint8Array,
  want: { pass: Password; keys: boolean },
  out: Pkcs12Contents,
  invalid: (what: string, cause?: unknown) => TrailsealError,
): Promise<void> {
  const { pass } = want;
  let safeContents: pkijs.SafeContents;
  try {
    safeContents = new pkijs.SafeContents({ schema: parseAsn1(der) });
  } catch (e) {
    throw invalid("a SafeContents does not parse", e);
  }
  for (const bag of safeContents.safeBags) {
    switch (bag.bagId) {
      case OID_CERT_BAG: {
        const certBag = bag.bagValue as pkijs.CertBag;
        if (certBag.certId !== OID_X509_CERTIFICATE) continue;
        out.certificates.push(octets(certBag.certValue as asn1js.OctetString));
        break;
      }
      case OID_KEY_BAG: {
        if (!want.keys) continue;
        const info = bag.bagValue as pkijs.PrivateKeyInfo;
        out.keys.push(new Uint8Array(info.toSchema().toBER(false)));
        break;
      }
      case OID_SHROUDED_KEY_BAG: {
        // Certificates alone never need the keys decrypted.
        if (!want.keys) continue;
        const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        const algorithm = shrouded.encryptionAlgorithm;
        try {
          if (algorithm.algorithmId.startsWith(PKCS12_PBE_PREFIX)) {
            out.keys.push(legacyDecrypt(algorithm, octets(shrouded.encryptedData), pass));
          } else {
            // An EncryptedPrivateKeyInfo (RFC 5208 §6) with PBES2: OpenSSL opens it directly.
            const epki = new Uint8Array(shrouded.toSchema().toBER(false));
            const key = createPrivateKey({
              key: Buffer.from(epki),
              format: "der",
              type: "pkcs8",
              passphrase: pass ?? "",
            });
            out.keys.push(new Uint8Array(key.export({ format: "der", type: "pkcs8" })));
          }
        } catch (e) {
          throw new KeyBagError(e);
        }
        break;
      }
      case OID_SAFE_CONTENTS_BAG: {
        const nested = bag.bagValue as pkijs.SafeContents;
        await readSafeContents(new Uint8Array(nested.toSchema().toBER(false)), want, out, invalid);
        break;
      }
      default:
        // CRL and secret bags carry nothing trailseal uses.
        break;
    }
  }
}

/** The value of a (possibly constructed) OCTET STRING. */
function octets(value: asn1js.OctetString): Uint8Array {
  if (!value.idBlock.isConstructed) return new Uint8Array(value.valueBlock.valueHexView);
  const parts = value.valueBlock.value.map((p) => octets(p as asn1js.OctetString));
  return new Uint8Array(Buffer.concat(parts));
}

/** Decrypts with a PKCS#12 PBE cipher (RFC 7292 Appendix B.2, C) through node-forge. */
function legacyDecrypt(
  algorithm: pkijs.AlgorithmIdentifier,
  ciphertext: Uint8Array,
  password: Password,
): Uint8Array {
  if (forge === undefined) throw new Error("legacy PBE cipher not expected in this file");
  const params = algorithm.algorithmParams as asn1js.Sequence | undefined;
  if (params === undefined) throw new Error("PBE parameters missing");
  const paramsDer = Buffer.from(params.toBER(false)).toString("binary");
  // @types/node-forge does not declare pki.pbe, which node-forge has (lib/pbe.js).
  const pbe = (forge.pki as unknown as { pbe: ForgePbe }).pbe;
  const cipher = pbe.getCipher(algorithm.algorithmId, forge.asn1.fromDer(paramsDer), password);
  cipher.update(forge.util.createBuffer(Buffer.from(ciphertext).toString("binary")));
  if (!cipher.finish()) throw new Error("bad padding after legacy PBE decryption");
  return new Uint8Array(Buffer.from(cipher.output.getBytes(), "binary"));
}

interface ForgePbe {
  // null: the zero-length password (node-forge's generatePkcs12Key adds no terminator then).
  getCipher(
    oid: string,
    params: Forge.asn1.Asn1,
    password: string | null,
  ): Forge.cipher.BlockCipher;
}
