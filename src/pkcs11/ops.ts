/**
 * What trailseal does with a key on a token, behind interfaces that mirror the software paths:
 * a DecryptionKey unwraps a stanza's content key (RSA-OAEP SHA-256 on the token, or ECDH on the
 * token with the X9.63 KDF and AES key unwrap left to software), a TokenSigner makes the signature
 * value of a CMS SignerInfo. The private key never leaves the token; only the content key (or the
 * ECDH shared secret it is derived from) comes into memory.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { TrailsealError } from "../errors.js";
import type { ExternalSigner } from "../pkix/algorithms.js";
import { CK, ckrOf, mechanismName, type Mechanism } from "./binding.js";
import { keyName, mechanismMissing, type TokenKey, type TokenKeyType } from "./token.js";

/** A private key that opens stanzas (recipients.ts's StanzaKey, with the key on a token). */
export interface DecryptionKey {
  readonly spkiFingerprint: string;
  readonly keyType: TokenKeyType;
  /** RSA modulus bits or EC field bits (for the weak-key notes recipients.ts makes). */
  readonly bits: number;
  /** The curve of an EC key (a stanza's originator point must be on it), else null. */
  readonly curve: "P-256" | "P-384" | "P-521" | null;
  /** RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption of a KeyTransRecipientInfo's encryptedKey. */
  decryptOaep(ciphertext: Uint8Array): Promise<Uint8Array>;
  /** The ECDH shared secret (the x coordinate, RFC 5753 §3.1.1) with the peer's uncompressed point. */
  deriveEcdh(peerPoint: Uint8Array): Promise<Uint8Array>;
  /** What the token made trailseal do differently (e.g. OAEP padding checked in software). */
  readonly notes: readonly string[];
  close(): void;
}

export type SignatureHash = "sha256" | "sha384" | "sha512";

export interface SignatureAlgorithm {
  /** RSASSA-PKCS1-v1_5, RSASSA-PSS (salt = hash length, MGF1 with the same hash), or ECDSA. */
  scheme: "pkcs1" | "pss" | "ecdsa";
  hash: SignatureHash;
}

/**
 * A private key that signs (sign.ts's SigningIdentity key, pkix's ExternalSigner, with the key on
 * a token). `sign` gives ECDSA as a DER Ecdsa-Sig-Value (RFC 5480 §2.2), as CMS wants it.
 */
export interface TokenSigner extends ExternalSigner {
  /** The certificate with the key's CKA_ID on the token (DER), if there is one. */
  readonly certificate: Uint8Array | null;
  sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array>;
  close(): void;
}

/** Per hash: its length, and the PKCS#11 mechanisms and DigestInfo prefix that go with it. */
interface HashMechanisms {
  bytes: number;
  digest: number;
  mgf1: number;
  /** CKM_SHAxxx_RSA_PKCS and CKM_SHAxxx_RSA_PKCS_PSS: the token hashes. */
  rsaPkcs: number;
  rsaPss: number;
  /** DigestInfo prefix (RFC 8017 §9.2, note 1), for tokens that sign only with CKM_RSA_PKCS. */
  digestInfo: string;
}

const HASHES: Record<SignatureHash, HashMechanisms> = {
  sha256: {
    bytes: 32,
    digest: CK.CKM_SHA256,
    mgf1: CK.CKG_MGF1_SHA256,
    rsaPkcs: CK.CKM_SHA256_RSA_PKCS,
    rsaPss: CK.CKM_SHA256_RSA_PKCS_PSS,
    digestInfo: "3031300d060960864801650304020105000420",
  },
  sha384: {
    bytes: 48,
    digest: CK.CKM_SHA384,
    mgf1: CK.CKG_MGF1_SHA384,
    rsaPkcs: CK.CKM_SHA384_RSA_PKCS,
    rsaPss: CK.CKM_SHA384_RSA_PKCS_PSS,
    digestInfo: "3041300d060960864801650304020205000430",
  },
  sha512: {
    bytes: 64,
    digest: CK.CKM_SHA512,
    mgf1: CK.CKG_MGF1_SHA512,
    rsaPkcs: CK.CKM_SHA512_RSA_PKCS,
    rsaPss: CK.CKM_SHA512_RSA_PKCS_PSS,
    digestInfo: "3051300d060960864801650304020305000440",
  },
};

/** Token errors a refused OAEP parameter set comes back as (SoftHSM 2.6 takes SHA-1 only). */
const PARAMS_REFUSED = new Set(["CKR_ARGUMENTS_BAD", "CKR_MECHANISM_PARAM_INVALID"]);

function hash(name: SignatureHash, data: Uint8Array): Buffer {
  return createHash(name).update(data).digest();
}

function modulusBytes(key: TokenKey): number {
  return Math.ceil(key.info.bits / 8);
}

function decryptFailed(key: TokenKey, why: string): TrailsealError {
  return new TrailsealError(
    "STANZA_DECRYPT_FAILED",
    `rsa-oaep decryption with ${keyName(key.info)} failed${why}`,
  );
}

/** MGF1 (RFC 8017 §B.2.1) with SHA-256. */
function mgf1(seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  for (let counter = 0; out.length * 32 < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHash("sha256").update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/**
 * EME-OAEP decoding (RFC 8017 §7.1.2 step 3) with SHA-256 and an empty label, of a raw RSA
 * decryption `em` of `k` bytes. Returns null for every kind of bad padding alike, with no early
 * exit on the secret bytes: a caller that told the failures apart would be a padding oracle
 * (Manger's attack).
 */
export function oaepDecode(em: Uint8Array, k: number): Uint8Array | null {
  const hLen = 32;
  if (em.byteLength !== k || k < 2 * hLen + 2) return null;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seedMask = mgf1(maskedDb, hLen);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1(seed, maskedDb.byteLength);
  const db = Buffer.alloc(maskedDb.byteLength);
  for (let i = 0; i < db.byteLength; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;
  const lHash = createHash("sha256").digest();
  let bad = em[0]! | (timingSafeEqual(db.subarray(0, hLen), lHash) ? 0 : 1);
  let found = 0;
  let index = 0;
  for (let i = hLen; i < db.byteLength; i++) {
    const b = db[i]!;
    const isOne = Number(b === 1);
    const isZero = Number(b === 0);
    // Before the 0x01 separator only zeros may appear (PS); record the separator's place once.
    index |= (isOne & (found ^ 1)) * i;
    bad |= (found ^ 1) & ((isOne | isZero) ^ 1);
    found |= isOne;
  }
  bad |= found ^ 1;
  return bad === 0 ? new Uint8Array(db.subarray(index + 1)) : null;
}

/** What a token answers for a ciphertext that is not for it (SoftHSM: CKR_GENERAL_ERROR). */
const DECRYPT_FAILURES = new Set([
  "CKR_ENCRYPTED_DATA_INVALID",
  "CKR_ENCRYPTED_DATA_LEN_RANGE",
  "CKR_DATA_INVALID",
  "CKR_GENERAL_ERROR",
  "CKR_FUNCTION_FAILED",
]);

function oaepOnToken(key: TokenKey, ciphertext: Uint8Array): Uint8Array | "refused" {
  const k = modulusBytes(key);
  const out = key.call("decrypting with rsa-oaep", (lib, session, handle) => {
    const mechanism = {
      mechanism: CK.CKM_RSA_PKCS_OAEP,
      parameter: {
        type: key.binding.CK_PARAMS_RSA_OAEP,
        hashAlg: CK.CKM_SHA256,
        mgf: CK.CKG_MGF1_SHA256,
        source: CK.CKZ_DATA_SPECIFIED,
      },
    };
    try {
      lib.C_DecryptInit(session, mechanism, handle);
    } catch (e) {
      if (PARAMS_REFUSED.has(ckrOf(e) ?? "")) return "refused" as const;
      throw e;
    }
    try {
      return new Uint8Array(lib.C_Decrypt(session, Buffer.from(ciphertext), Buffer.alloc(k)));
    } catch (e) {
      const ckr = ckrOf(e);
      if (ckr !== null && DECRYPT_FAILURES.has(ckr)) return { failed: ckr };
      throw e;
    }
  });
  if (out instanceof Uint8Array || out === "refused") return out;
  throw decryptFailed(key, ` (${out.failed}): a wrong key, or a corrupted stanza`);
}

function oaepRaw(key: TokenKey, ciphertext: Uint8Array): Uint8Array {
  const k = modulusBytes(key);
  const raw = key.call("decrypting with raw rsa", (lib, session, handle) => {
    lib.C_DecryptInit(session, { mechanism: CK.CKM_RSA_X_509 }, handle);
    return lib.C_Decrypt(session, Buffer.from(ciphertext), Buffer.alloc(k));
  });
  // Tokens may drop the leading zero bytes of the integer.
  const em = Buffer.alloc(k);
  raw.copy(em, k - Math.min(k, raw.byteLength), Math.max(0, raw.byteLength - k));
  const message = oaepDecode(em, k);
  if (message === null) throw decryptFailed(key, ": a wrong key, or a corrupted stanza");
  return message;
}

/**
 * The token key as a stanza opener. Throws KEY_INVALID when the token holds neither a
 * certificate nor a public key to name it by (trailseal matches stanzas by SPKI fingerprint).
 */
export function tokenDecryptionKey(key: TokenKey): DecryptionKey {
  const fingerprint = key.info.spkiFingerprint;
  if (fingerprint === null) {
    throw new TrailsealError(
      "KEY_INVALID",
      `${keyName(key.info)} has no certificate or public key with its id on the token, so trailseal cannot tell which stanzas it opens`,
      { hint: "import the key's certificate to the token with the same id" },
    );
  }
  const notes: string[] = [];
  let via: "oaep" | "raw" | undefined;
  return {
    spkiFingerprint: fingerprint,
    keyType: key.info.keyType,
    bits: key.info.bits,
    curve: key.info.curve,
    notes,
    // async: a failure is a rejected promise, as for the software keys.
    async decryptOaep(ciphertext) {
      if (key.info.keyType !== "RSA") {
        throw new TrailsealError("KEY_UNSUPPORTED", `${keyName(key.info)} is not an RSA key`);
      }
      await Promise.resolve();
      if (via === "raw") return oaepRaw(key, ciphertext);
      if (via === undefined && !key.offers(CK.CKM_RSA_PKCS_OAEP)) via = "raw";
      else {
        const out = oaepOnToken(key, ciphertext);
        if (out !== "refused") {
          via = "oaep";
          return out;
        }
        via = "raw";
      }
      if (!key.offers(CK.CKM_RSA_X_509)) {
        throw mechanismMissing(
          key.info,
          "CKM_RSA_PKCS_OAEP with SHA-256 and MGF1-SHA-256, nor CKM_RSA_X_509 (rsa-oaep decryption)",
          key.mechanisms(),
          key.binding,
        );
      }
      notes.push(
        `token "${key.info.token}" does not do CKM_RSA_PKCS_OAEP with SHA-256; trailseal decrypts with CKM_RSA_X_509 on the token and checks the OAEP padding in memory`,
      );
      return oaepRaw(key, ciphertext);
    },
    async deriveEcdh(peerPoint) {
      await Promise.resolve();
      return deriveEcdh(key, peerPoint);
    },
    close: () => key.close(),
  };
}

function deriveEcdh(key: TokenKey, peerPoint: Uint8Array): Uint8Array {
  const curve = key.info.curve;
  if (key.info.keyType !== "EC" || curve === null) {
    throw new TrailsealError("KEY_UNSUPPORTED", `${keyName(key.info)} is not a P-256/384/521 key`);
  }
  const bytes = CURVE_BYTES[curve];
  if (peerPoint.byteLength !== 1 + 2 * bytes || peerPoint[0] !== 0x04) {
    throw new TrailsealError(
      "STANZA_INVALID",
      `the originator key is not an uncompressed ${curve} point (${peerPoint.byteLength} bytes)`,
    );
  }
  key.require(CK.CKM_ECDH1_DERIVE, "ecdh key agreement");
  return key.call("deriving an ecdh secret", (lib, session, handle) => {
    const secret = lib.C_DeriveKey(
      session,
      {
        mechanism: CK.CKM_ECDH1_DERIVE,
        parameter: {
          type: key.binding.CK_PARAMS_EC_DH,
          kdf: CK.CKD_NULL,
          publicData: Buffer.from(peerPoint),
        },
      },
      handle,
      [
        { type: CK.CKA_CLASS, value: CK.CKO_SECRET_KEY },
        { type: CK.CKA_KEY_TYPE, value: CK.CKK_GENERIC_SECRET },
        // A session object, readable once, destroyed at once: only its value is wanted.
        { type: CK.CKA_TOKEN, value: false },
        { type: CK.CKA_SENSITIVE, value: false },
        { type: CK.CKA_EXTRACTABLE, value: true },
        { type: CK.CKA_VALUE_LEN, value: bytes },
      ],
    );
    try {
      const [a] = lib.C_GetAttributeValue(session, secret, [{ type: CK.CKA_VALUE }]);
      if (!Buffer.isBuffer(a?.value)) throw new Error("CKR_ATTRIBUTE_VALUE_INVALID");
      return new Uint8Array(a.value);
    } finally {
      lib.C_DestroyObject(session, secret);
    }
  });
}

/** Field size in bytes: an uncompressed point is 1 + 2 × this, an ECDSA r || s 2 × this. */
const CURVE_BYTES = { "P-256": 32, "P-384": 48, "P-521": 66 } as const;

/** A DER INTEGER of an unsigned big-endian magnitude (X.690 §8.3). */
function derInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.byteLength - 1 && magnitude[i] === 0) i++;
  const body = Buffer.from(magnitude.subarray(i));
  const padded = body[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
  return Buffer.concat([Buffer.from([0x02, padded.byteLength]), padded]);
}

/** PKCS#11 ECDSA gives r || s (PKCS#11 v2.40 §2.3.1); CMS wants Ecdsa-Sig-Value (RFC 5480 §2.2). */
export function ecdsaSignatureDer(rs: Uint8Array): Uint8Array {
  const half = rs.byteLength / 2;
  const body = Buffer.concat([derInteger(rs.subarray(0, half)), derInteger(rs.subarray(half))]);
  const length =
    body.byteLength < 0x80 ? Buffer.from([body.byteLength]) : Buffer.from([0x81, body.byteLength]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), length, body]));
}

function signOnToken(
  key: TokenKey,
  mechanism: Mechanism,
  input: Uint8Array,
  outLength: number,
): Buffer {
  return key.call(`signing with ${mechanismName(mechanism.mechanism)}`, (lib, session, handle) => {
    lib.C_SignInit(session, mechanism, handle);
    return lib.C_Sign(session, Buffer.from(input), Buffer.alloc(outLength));
  });
}

function signRsa(key: TokenKey, data: Uint8Array, alg: SignatureAlgorithm): Uint8Array {
  const k = modulusBytes(key);
  const h = HASHES[alg.hash];
  if (alg.scheme === "pkcs1") {
    if (key.offers(h.rsaPkcs)) return signOnToken(key, { mechanism: h.rsaPkcs }, data, k);
    key.require(CK.CKM_RSA_PKCS, `rsa pkcs#1 v1.5 signing with ${alg.hash}`);
    const info = Buffer.concat([Buffer.from(h.digestInfo, "hex"), hash(alg.hash, data)]);
    return signOnToken(key, { mechanism: CK.CKM_RSA_PKCS }, info, k);
  }
  const parameter = {
    type: key.binding.CK_PARAMS_RSA_PSS,
    hashAlg: h.digest,
    mgf: h.mgf1,
    saltLen: h.bytes,
  };
  if (key.offers(h.rsaPss)) {
    return signOnToken(key, { mechanism: h.rsaPss, parameter }, data, k);
  }
  key.require(CK.CKM_RSA_PKCS_PSS, `rsassa-pss signing with ${alg.hash}`);
  return signOnToken(key, { mechanism: CK.CKM_RSA_PKCS_PSS, parameter }, hash(alg.hash, data), k);
}

/** The token key as a signer of CMS signature values. */
export function tokenSigner(key: TokenKey): TokenSigner {
  const { keyType, curve } = key.info;
  return {
    certificate: key.info.certificate,
    spkiFingerprint: key.info.spkiFingerprint,
    keyType,
    bits: key.info.bits,
    curve,
    async sign(data, alg) {
      await Promise.resolve();
      if ((alg.scheme === "ecdsa") !== (keyType === "EC")) {
        throw new TrailsealError(
          "KEY_UNSUPPORTED",
          `${keyName(key.info)} is an ${keyType} key; it cannot sign with ${alg.scheme}`,
        );
      }
      if (keyType === "RSA") return signRsa(key, data, alg);
      key.require(CK.CKM_ECDSA, "ecdsa signing");
      if (curve === null) {
        throw new TrailsealError("KEY_UNSUPPORTED", `${keyName(key.info)} is not on P-256/384/521`);
      }
      const bytes = CURVE_BYTES[curve];
      const rs = signOnToken(key, { mechanism: CK.CKM_ECDSA }, hash(alg.hash, data), 2 * bytes);
      return ecdsaSignatureDer(rs);
    },
    close: () => key.close(),
  };
}
