/**
 * Recipient stanzas: one CMS EnvelopedData (RFC 5652 §6) per policy entry and channel, each
 * wrapping the channel's 32-byte file key. An RSA certificate gets a KeyTransRecipientInfo with
 * RSAES-OAEP SHA-256; an EC certificate (P-256/384/521) a KeyAgreeRecipientInfo with ECDH, the
 * X9.63 SHA-256 KDF and AES-256 key wrap; the content is AES-256-CBC. Every stanza opens with
 * `openssl cms -decrypt`.
 *
 * Four-eyes is nesting: the file key is enveloped to `certificate`, and that envelope is enveloped
 * again to `fourEyes`. The outer holder opens the outer layer and hands the inner envelope to the
 * inner holder, so the two private keys never meet on one machine (see docs/STANZAS.md).
 *
 * Keys are matched to layers by the SHA-256 of the SubjectPublicKeyInfo, in any order.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { TrailsealError } from "./errors.js";
import { certificatePublicKey, describeCertificate, type CertificateInfo } from "./pem.js";
import type { RecipientEntry } from "./policy.js";
import { isTokenKey } from "./keys.js";
import type { DecryptionKey } from "./pkcs11/ops.js";
import { OID } from "./pkix/oid.js";
import type { EnvelopeContentType } from "./pkix/envelope.js";

/**
 * The CMS envelope code (src/pkix/envelope.ts, with pkijs and asn1js: most of the CLI's code by
 * size), loaded on the first stanza made, opened or parsed. A trail is read, verified and
 * inspected without it: a reader keeps the stanzas' fingerprints from the header (issue 9).
 */
let envelopeCode: Promise<typeof import("./pkix/envelope.js")> | undefined;
const envelope = (): Promise<typeof import("./pkix/envelope.js")> =>
  (envelopeCode ??= import("./pkix/envelope.js"));

/** The content-encryption keys and IVs, unless the caller passes its own source (as TrailWriter). */
const secureRandom = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

export type { RecipientEntry };

/** One envelope of a stanza, as a reader can show it without any key. */
export interface StanzaLayer {
  /** Lowercase hex SHA-256 of the recipient's SubjectPublicKeyInfo. */
  spkiFingerprint: string;
  /** The recipient certificate's subject, for messages. */
  subject: string;
  keyType: "RSA" | "EC";
}

export interface Stanza {
  /** ContentInfo(EnvelopedData) DER: the outermost envelope. */
  der: Uint8Array;
  /** Outermost first: [fourEyes, certificate] for a four-eyes entry, [certificate] otherwise. */
  layers: StanzaLayer[];
}

/**
 * The part of a private key that opening a stanza needs: a KeyObject (keys.ts PrivateKey fits
 * it), or a key on a token (src/pkcs11/ops.ts DecryptionKey) that decrypts or derives there.
 */
export type StanzaKey = { key: KeyObject; spkiFingerprint: string } | DecryptionKey;

/** The key's type and size, read the one way for both kinds of key. */
function keyFacts(key: StanzaKey): { type: "rsa" | "ec" | "other"; bits: number | undefined } {
  if (isTokenKey(key)) return { type: key.keyType === "RSA" ? "rsa" : "ec", bits: key.bits };
  const t = key.key.asymmetricKeyType;
  return {
    type: t === "rsa" || t === "ec" ? t : "other",
    bits: key.key.asymmetricKeyDetails?.modulusLength,
  };
}

/** What `openEnvelope` takes: the token key itself, or the KeyObject. */
const envelopeKey = (key: StanzaKey) => (isTokenKey(key) ? key : key.key);

/** A file key is an AES-256 key. */
const FILE_KEY_BYTES = 32;
/** DESIGN.md: SPS takes RSA keys of 2048 bits or more; smaller ones are refused for encryption. */
const MIN_RSA_BITS = 2048;
const EC_CURVES: Readonly<Record<string, string>> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

interface Recipient {
  layer: StanzaLayer;
  publicKey: KeyObject;
  certificate: Uint8Array;
}

/** Checks a recipient certificate and says what kind of envelope it takes. */
function recipient(certificate: Uint8Array, role: string): Recipient {
  let info: CertificateInfo;
  let publicKey: KeyObject;
  try {
    info = describeCertificate(certificate);
    publicKey = certificatePublicKey(certificate);
  } catch (e) {
    throw new TrailsealError("NOT_A_CERTIFICATE", `${role} is not an X.509 certificate`, {
      cause: e,
    });
  }
  const { spkiFingerprint, subject } = info;
  const named = `${role} ${subject} (sha256:${spkiFingerprint})`;
  const type = publicKey.asymmetricKeyType;
  if (type === "rsa") {
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new TrailsealError(
        "KEY_TOO_SMALL",
        `${named} has a ${bits}-bit RSA key; encryption needs ${MIN_RSA_BITS} bits or more`,
        { hint: "issue a new encryption certificate with an RSA key of 2048 bits or more" },
      );
    }
    return { layer: { spkiFingerprint, subject, keyType: "RSA" }, publicKey, certificate };
  }
  if (type === "ec") {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve ?? "unknown";
    if (EC_CURVES[curve] === undefined) {
      throw new TrailsealError(
        "KEY_UNSUPPORTED",
        `${named} has an EC key on curve ${curve}; encryption takes P-256, P-384 or P-521`,
      );
    }
    return { layer: { spkiFingerprint, subject, keyType: "EC" }, publicKey, certificate };
  }
  throw new TrailsealError(
    "KEY_UNSUPPORTED",
    `${named} has a key of type ${type ?? "unknown"}; encryption takes RSA (2048 bits or more) or EC P-256/384/521 keys`,
  );
}

/**
 * Envelopes a file key to one policy entry: a single envelope, or for four-eyes an envelope to
 * `certificate` inside an envelope to `fourEyes`.
 *
 * @example
 * const stanza = await makeStanza(fileKey, { certificate: der, fourEyes: null });
 */
export async function makeStanza(
  fileKey: Uint8Array,
  entry: RecipientEntry,
  random: (n: number) => Uint8Array = secureRandom,
): Promise<Stanza> {
  if (fileKey.byteLength !== FILE_KEY_BYTES) {
    throw new TrailsealError("USAGE", `file key is ${fileKey.byteLength} bytes, expected 32`);
  }
  const inner = recipient(entry.certificate, "certificate");
  const outer = entry.fourEyes === null ? null : recipient(entry.fourEyes, "four-eyes certificate");
  const { makeEnvelope } = await envelope();
  const innerDer = makeEnvelope(fileKey, "data", inner, random);
  if (outer === null) return { der: innerDer, layers: [inner.layer] };
  return {
    der: makeEnvelope(innerDer, "envelopedData", outer, random),
    layers: [outer.layer, inner.layer],
  };
}

/**
 * Opens ONE envelope with one key and returns its content: the file key, or for the outer layer
 * of a four-eyes stanza the inner envelope (DER), which the outer holder hands to the inner
 * holder. Also opens envelopes made by `openssl cms -encrypt` (RSA-OAEP, ECDH).
 *
 * Throws STANZA_INVALID (malformed), NO_MATCHING_KEY (no recipient takes this key, or the key
 * fails on every recipient: a wrong key and a corrupted encrypted key look the same).
 */
export async function openLayer(der: Uint8Array, key: StanzaKey): Promise<Uint8Array> {
  return (await openOne(der, key, false)).content;
}

/**
 * `openLayer`, also saying what the envelope held: "data" (a file key, the innermost layer) or
 * "envelopedData" (the inner envelope of a four-eyes stanza, for the inner holder).
 */
export async function openLayerTyped(
  der: Uint8Array,
  key: StanzaKey,
): Promise<{ content: Uint8Array; contentType: EnvelopeContentType | "other" }> {
  return openOne(der, key, false);
}

async function openOne(
  der: Uint8Array,
  key: StanzaKey,
  matched: boolean,
): Promise<{ content: Uint8Array; contentType: EnvelopeContentType | "other" }> {
  const { EnvelopeOpenError, openEnvelope } = await envelope();
  try {
    return await openEnvelope(der, envelopeKey(key));
  } catch (e) {
    if (!(e instanceof EnvelopeOpenError)) throw e;
    if (matched) {
      // The stanza names this key's fingerprint, so a failure means the stanza was altered.
      throw new TrailsealError(
        "STANZA_DECRYPT_FAILED",
        `stanza layer for sha256:${key.spkiFingerprint} does not decrypt with that key: ${e.message}`,
        { cause: e },
      );
    }
    throw new TrailsealError(
      "NO_MATCHING_KEY",
      `key sha256:${key.spkiFingerprint} does not open this envelope: ${e.message}`,
      { cause: e, hint: "use the private key of the certificate the envelope was made for" },
    );
  }
}

/**
 * Opens every layer of a stanza with the given keys (matched by SPKI fingerprint, any order) and
 * returns the 32-byte file key. When a layer's key is missing it throws NO_MATCHING_KEY naming
 * every missing fingerprint and subject, before decrypting anything.
 */
export async function openStanza(stanza: Stanza, keys: readonly StanzaKey[]): Promise<Uint8Array> {
  return (await openStanzaNoting(stanza, keys)).fileKey;
}

/**
 * `openStanza`, also naming what in the layers it opened is weaker than trailseal writes (RSA
 * under 2048 bits, OAEP or the ECDH KDF with SHA-1/SHA-224, AES-128/192 key wrap or content):
 * other tools make such envelopes and they still open, but never silently.
 */
export async function openStanzaNoting(
  stanza: Stanza,
  keys: readonly StanzaKey[],
): Promise<{ fileKey: Uint8Array; weaker: string[] }> {
  if (stanza.layers.length === 0)
    throw new TrailsealError("STANZA_INVALID", "stanza has no layers");
  const chosen: StanzaKey[] = [];
  const missing: StanzaLayer[] = [];
  for (const layer of stanza.layers) {
    const key = keys.find((k) => k.spkiFingerprint === layer.spkiFingerprint);
    if (key === undefined) missing.push(layer);
    else chosen.push(key);
  }
  if (missing.length > 0) {
    const names = missing.map((l) => `sha256:${l.spkiFingerprint} (${l.subject})`).join(" and ");
    const what = stanza.layers.length > 1 ? "four-eyes stanza needs" : "stanza needs";
    throw new TrailsealError("NO_MATCHING_KEY", `${what} the key of ${names}`, {
      hint:
        stanza.layers.length > 1
          ? "a four-eyes entry opens only with both private keys"
          : "give the private key of that certificate",
    });
  }

  let data = stanza.der;
  const weaker: string[] = [];
  for (const [i, key] of chosen.entries()) {
    const opened = await openOne(data, key, true);
    for (const w of await weakerThanWritten(data, key)) if (!weaker.includes(w)) weaker.push(w);
    const last = i === chosen.length - 1;
    const expected = last ? "data" : "envelopedData";
    if (opened.contentType !== expected && !(opened.contentType === "data" && !last)) {
      // An outer layer may say id-data when made by other tools; the inner must carry data.
      throw new TrailsealError(
        "STANZA_INVALID",
        `stanza layer ${i + 1} of ${chosen.length} holds ${opened.contentType}, expected ${expected}`,
      );
    }
    data = opened.content;
  }
  if (data.byteLength !== FILE_KEY_BYTES) {
    throw new TrailsealError(
      "STANZA_INVALID",
      `stanza holds ${data.byteLength} bytes, expected a ${FILE_KEY_BYTES}-byte file key`,
    );
  }
  return { fileKey: data, weaker };
}

const WEAK_HASH: Readonly<Record<string, string>> = {
  [OID.sha1]: "sha-1",
  [OID.sha224]: "sha-224",
  [OID.stdDhSha1Kdf]: "sha-1",
  [OID.stdDhSha224Kdf]: "sha-224",
};
const WEAK_AES: Readonly<Record<string, string>> = {
  [OID.aes128Cbc]: "aes-128-cbc content encryption",
  [OID.aes192Cbc]: "aes-192-cbc content encryption",
  [OID.aes128Wrap]: "aes-128 key wrap",
  [OID.aes192Wrap]: "aes-192 key wrap",
};

/** What in one envelope, opened with `key`, falls short of what `makeEnvelope` writes. */
async function weakerThanWritten(der: Uint8Array, key: StanzaKey): Promise<string[]> {
  const out: string[] = [];
  const { type, bits } = keyFacts(key);
  if (type === "rsa" && bits !== undefined && bits < MIN_RSA_BITS) {
    out.push(`a ${bits}-bit RSA key (sha256:${key.spkiFingerprint})`);
  }
  const { content, recipients } = (await envelope()).envelopeAlgorithms(der);
  const kind = type === "rsa" ? "ktri" : "kari";
  for (const r of recipients.filter((r) => r.kind === kind)) {
    const hash = r.kind === "ktri" ? r.oaep?.hash : r.keyEncryption;
    const weakHash = hash === undefined ? undefined : WEAK_HASH[hash];
    if (weakHash !== undefined) {
      out.push(r.kind === "ktri" ? `rsaes-oaep with ${weakHash}` : `an ecdh kdf with ${weakHash}`);
    }
    const wrap = r.wrap === undefined ? undefined : WEAK_AES[r.wrap];
    if (wrap !== undefined) out.push(wrap);
  }
  const cbc = WEAK_AES[content];
  if (cbc !== undefined) out.push(cbc);
  return out;
}

/**
 * A structural check of a stanza's outermost envelope, without any key: a ContentInfo with
 * EnvelopedData whose recipients are all key transport or key agreement. Rejects with
 * STANZA_INVALID. Async because the envelope code loads on first use.
 */
export async function parseStanzaDer(der: Uint8Array): Promise<{
  recipientCount: number;
  kinds: ("ktri" | "kari")[];
}> {
  const { recipientCount, kinds } = (await envelope()).describeEnvelope(der);
  return { recipientCount, kinds };
}
