/**
 * PKCS#12 (RFC 7292) reading: certificates (exact DER) and private keys (PKCS#8 DER) out of a
 * PFX. pkijs parses the structure and checks the password MAC (§5, Appendix B); modern
 * PBES2/AES contents are decrypted by pkijs (EncryptedData) and node:crypto (shrouded keys).
 * node-forge is used only for the legacy PKCS#12 PBE ciphers (Appendix C: pbeWithSHAAnd40BitRC2-CBC,
 * pbeWithSHAAnd3-KeyTripleDES-CBC), which neither WebCrypto nor OpenSSL 3's default provider has.
 */
import { createPrivateKey } from "node:crypto";
import type * as asn1js from "asn1js";
import type Forge from "node-forge";
import { TrailsealError } from "../errors.js";
import { toArrayBuffer, utf8 } from "../bytes.js";
import { parseAsn1, pkijs } from "./engine.js";

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
 * Reads a PFX. `password` undefined means none was given; the empty password is tried then,
 * as OpenSSL does. Throws PKCS12_PASSWORD when the MAC does not verify, PKCS12_INVALID when the
 * structure is wrong or uses a mode trailseal does not read (public-key privacy or integrity).
 */
export async function readPkcs12(
  der: Uint8Array,
  password: string | undefined,
  source: string,
  options: { keys: boolean } = { keys: true },
): Promise<Pkcs12Contents> {
  const invalid = (what: string, cause?: unknown): TrailsealError =>
    new TrailsealError("PKCS12_INVALID", `${source}: invalid PKCS#12 file: ${what}`, { cause });
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
  const pass = password ?? "";
  const passBytes = toArrayBuffer(utf8.encode(pass));
  try {
    await pfx.parseInternalValues({
      password: passBytes,
      checkIntegrity: pfx.macData !== undefined,
    });
  } catch (e) {
    if (e instanceof Error && /Integrity for the PKCS#12 data is broken/.test(e.message)) {
      throw wrongPassword(source, password, e);
    }
    throw invalid("the MAC or authenticated safe does not parse", e);
  }
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (safe === undefined) throw invalid("no authenticated safe");

  const out: Pkcs12Contents = { keys: [], certificates: [] };
  for (const info of safe.safeContents) {
    let contents: Uint8Array;
    try {
      if (info.contentType === OID_DATA) {
        contents = octets(info.content as asn1js.OctetString);
      } else if (info.contentType === OID_ENCRYPTED_DATA) {
        const encrypted = new pkijs.EncryptedData({ schema: info.content });
        const eci = encrypted.encryptedContentInfo;
        const algorithm = eci.contentEncryptionAlgorithm;
        if (algorithm.algorithmId.startsWith(PKCS12_PBE_PREFIX)) {
          contents = legacyDecrypt(algorithm, new Uint8Array(eci.getEncryptedContent()), pass);
        } else {
          contents = new Uint8Array(await encrypted.decrypt({ password: passBytes }));
        }
      } else {
        throw invalid(`a safe of type ${info.contentType} is not supported`);
      }
    } catch (e) {
      if (e instanceof TrailsealError) throw e;
      // Without a MAC nothing has checked the password yet: a failed decryption is most
      // likely a wrong one.
      if (pfx.macData === undefined) throw wrongPassword(source, password, e);
      throw invalid("a safe does not decrypt or parse", e);
    }
    try {
      await readSafeContents(contents, { pass, keys: options.keys }, out, invalid);
    } catch (e) {
      if (e instanceof TrailsealError) throw e;
      if (e instanceof KeyBagError) {
        if (pfx.macData === undefined) throw wrongPassword(source, password, e.cause);
        throw invalid("a key bag does not decrypt", e.cause);
      }
      throw invalid("a bag does not parse", e);
    }
  }
  return out;
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
  want: { pass: string; keys: boolean },
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
              passphrase: pass,
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
  password: string,
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
  getCipher(oid: string, params: Forge.asn1.Asn1, password: string): Forge.cipher.BlockCipher;
}
