/**
 * Private keys as users have them: PEM PKCS#1 (RFC 8017 A.1.2), PKCS#8 (RFC 5208, RFC 5958),
 * encrypted PKCS#8 (PBES2), SEC1 EC (RFC 5915), the traditional OpenSSL encrypted PEM
 * (`Proc-Type: 4,ENCRYPTED`), DER PKCS#8, and PKCS#12 (RFC 7292) with its certificates.
 * OpenSSL (node:crypto) parses the keys; PKCS#12 goes through src/pkix/pkcs12.ts.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import { TrailsealError, isTrailsealError, type Missing } from "./errors.js";
import {
  bareBase64,
  blockBytes,
  findPemBlocks,
  normalizeText,
  spkiFingerprint,
  textOf,
  thingOfLabel,
  type PemBlock,
} from "./pem.js";
import {
  certificateSpki,
  classify,
  DerError,
  pkcs7Certificates,
  privateKeyAlgorithm,
  type DerKind,
} from "./pkix/der.js";
import type { Pkcs12Contents } from "./pkix/pkcs12.js";
import type { DecryptionKey } from "./pkcs11/ops.js";
import type { TokenOptions } from "./pkcs11/token.js";
import { isPkcs11Uri, shownPkcs11Uri } from "./pkcs11/uri.js";

export { isPkcs11Uri };

export interface PrivateKey {
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  /** SHA-256 of the public key's SubjectPublicKeyInfo DER: the certificate's spkiFingerprint. */
  readonly spkiFingerprint: string;
  /** The input's name, for messages. */
  readonly source: string;
  /** Certificates that came with the key (PKCS#12 or the same PEM file): its own first. */
  readonly certificates: readonly Uint8Array[];
}

/** A key on a token that opens stanzas, with the name messages give it (its URI, no query). */
export interface TokenDecryptionKey extends DecryptionKey {
  readonly source: string;
}

/** A key that opens stanzas: read from a file, or on a token. */
export type OpenedKey = PrivateKey | TokenDecryptionKey;

/**
 * Opens the decryption key a PKCS#11 URI names (RFC 7512), loading the binding only now. The
 * module and PIN come from the URI or `options`; warnings (a pin-value in the URI) are for the
 * caller to print. Close the key when done: it holds a session on the token.
 *
 * @example
 * const { key } = await openTokenDecryptionKey("pkcs11:token=alice;object=audit", { env: process.env, pin });
 * try { await openStanza(stanza, [key]); } finally { key.close(); }
 */
export async function openTokenDecryptionKey(
  uri: string,
  options: TokenOptions,
): Promise<{ key: TokenDecryptionKey; warnings: string[] }> {
  const { openTokenKey } = await import("./pkcs11/token.js");
  const { tokenDecryptionKey } = await import("./pkcs11/ops.js");
  const { key, warnings } = await openTokenKey(uri, options);
  let dk: DecryptionKey;
  try {
    dk = tokenDecryptionKey(key);
  } catch (e) {
    key.close();
    throw e;
  }
  // The query is where a pin-value would be: never in a message.
  return { key: Object.assign(dk, { source: shownPkcs11Uri(uri) }), warnings };
}

/**
 * Whether a key is on a token (it decrypts or derives there, and holds a session to close) rather
 * than a KeyObject in memory: the one test, for opened keys and for the keys stanzas take alike.
 */
export function isTokenKey<K extends object>(key: K): key is Extract<K, DecryptionKey> {
  return "decryptOaep" in key;
}

export interface KeyReadOptions {
  source: string;
  passphrase?: string;
}

/** Key types trailseal can use (encryption: RSA, EC; signing: RSA, EC, EdDSA). */
const SUPPORTED = new Set(["rsa", "rsa-pss", "ec", "ed25519", "ed448"]);

/** PKCS#8 algorithm OIDs OpenSSL decodes (RFC 8017, RFC 5480, RFC 8410, RFC 3279, X9.42). */
const KNOWN_ALGORITHMS = new Set([
  "1.2.840.113549.1.1.1",
  "1.2.840.113549.1.1.10",
  "1.2.840.10045.2.1",
  "1.3.101.110",
  "1.3.101.111",
  "1.3.101.112",
  "1.3.101.113",
  "1.2.840.10040.4.1",
  "1.2.840.10046.2.1",
  "1.2.840.113549.1.3.1",
]);

/**
 * Every private key in `input`, in input order, each with the certificates found beside it.
 * Throws KEY_INVALID (nothing usable, or corrupt), KEY_PASSPHRASE (encrypted and the passphrase
 * is missing or wrong), KEY_UNSUPPORTED (a key type trailseal does not use), PKCS12_INVALID.
 *
 * @example
 * const [auditor] = await readPrivateKeys(bytes, { source: "auditor.p12", passphrase });
 */
export async function readPrivateKeys(
  input: Uint8Array,
  options: KeyReadOptions,
): Promise<PrivateKey[]> {
  const { source } = options;
  const raw = textOf(input);
  if (raw === undefined) return keysFromDer(input, options);
  const text = normalizeText(raw);
  let blocks: PemBlock[];
  try {
    blocks = findPemBlocks(text, source);
  } catch (e) {
    throw asKeyInvalid(e);
  }
  if (blocks.length === 0) {
    const bare = bareBase64(text);
    if (bare !== undefined) return keysFromDer(bare, options);
    throw new TrailsealError("KEY_INVALID", `no private key found in ${source}`);
  }
  const keys: KeyObject[] = [];
  const certificates: Uint8Array[] = [];
  for (const block of blocks) {
    const thing = thingOfLabel(block.label);
    if (thing === "private-key" || thing === "encrypted-private-key") {
      keys.push(parsePemKey(block, options));
    } else if (thing === "certificate" || thing === "pkcs7") {
      try {
        const der = blockBytes(block, source);
        if (thing === "pkcs7") certificates.push(...pkcs7Certificates(der));
        else {
          certificateSpki(der);
          certificates.push(der);
        }
      } catch (e) {
        throw asKeyInvalid(e, `${source}: PEM block ${block.index} (${block.label})`);
      }
    }
  }
  if (keys.length === 0) {
    throw new TrailsealError(
      "KEY_INVALID",
      certificates.length > 0
        ? `${source} holds certificates but no private key`
        : `no private key found in ${source}`,
    );
  }
  return keys.map((key) => privateKey(key, source, certificates));
}

/** SHA-256 of a key's SubjectPublicKeyInfo DER (equals spkiFingerprint of its certificate). */
export function publicKeyFingerprint(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const spki = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("hex");
}

/**
 * Writes a private key file readable by its owner only: created with mode 0600 (never widened
 * and narrowed afterwards), and never over an existing file unless `force`.
 */
export async function writePrivateKeyFile(
  path: string,
  pem: string,
  options: { force?: boolean } = {},
): Promise<void> {
  if (options.force === true) {
    try {
      // Removing first so the new file is created with 0600 rather than inheriting the old mode.
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new TrailsealError("IO", `cannot replace ${path}`, { cause: e });
      }
    }
  }
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new TrailsealError("IO", `${path} exists; not overwriting a private key file`, {
        cause: e,
        missing: "force",
      });
    }
    throw new TrailsealError("IO", `cannot create ${path}`, { cause: e });
  }
  try {
    await handle.writeFile(pem, "utf8");
  } catch (e) {
    throw new TrailsealError("IO", `cannot write ${path}`, { cause: e });
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------

async function keysFromDer(der: Uint8Array, options: KeyReadOptions): Promise<PrivateKey[]> {
  const { source, passphrase } = options;
  let kind: DerKind;
  try {
    kind = classify(der);
  } catch (e) {
    if (e instanceof DerError) {
      throw new TrailsealError("KEY_INVALID", `${source}: invalid DER: ${e.message}`, { cause: e });
    }
    throw e;
  }
  switch (kind) {
    case "pkcs12": {
      let contents: Pkcs12Contents;
      const { readPkcs12 } = await import("./pkix/pkcs12.js");
      try {
        contents = await readPkcs12(der, passphrase, source);
      } catch (e) {
        if (isTrailsealError(e, "PKCS12_PASSWORD")) {
          throw new TrailsealError("KEY_PASSPHRASE", e.message, { cause: e, ...hintOf(e) });
        }
        throw e;
      }
      if (contents.keys.length === 0) {
        throw new TrailsealError("KEY_INVALID", `the PKCS#12 file ${source} holds no private key`);
      }
      return contents.keys.map((k) =>
        privateKey(parseDerKey(k, "pkcs8", undefined, source), source, contents.certificates),
      );
    }
    case "private-key":
      return [privateKey(parseDerKey(der, "pkcs8", passphrase, source), source, [])];
    case "encrypted-private-key":
      return [privateKey(parseDerKey(der, "pkcs8", passphrase, source), source, [])];
    case "rsa-private-key":
      return [privateKey(parseDerKey(der, "pkcs1", passphrase, source), source, [])];
    case "ec-private-key":
      return [privateKey(parseDerKey(der, "sec1", passphrase, source), source, [])];
    case "certificate":
    case "pkcs7":
      throw new TrailsealError("KEY_INVALID", `${source} holds certificates but no private key`);
    case "certificate-request":
      throw new TrailsealError(
        "KEY_INVALID",
        `${source} holds a certificate signing request (CSR), not a private key`,
      );
    case "public-key":
      throw new TrailsealError("KEY_INVALID", `${source} holds a public key, not a private key`);
    default:
      throw new TrailsealError("KEY_INVALID", `no private key found in ${source}`);
  }
}

function parseDerKey(
  der: Uint8Array,
  type: "pkcs8" | "pkcs1" | "sec1",
  passphrase: string | undefined,
  source: string,
): KeyObject {
  return parseKey(
    () =>
      createPrivateKey({
        key: Buffer.from(der),
        format: "der",
        type,
        ...(passphrase === undefined ? {} : { passphrase }),
      }),
    source,
    passphrase,
    isEncryptedDer(der),
    der,
  );
}

function parsePemKey(block: PemBlock, options: KeyReadOptions): KeyObject {
  const { source, passphrase } = options;
  const encrypted =
    block.label === "ENCRYPTED PRIVATE KEY" || block.headers.some((h) => /ENCRYPTED/.test(h));
  if (block.label === "OPENSSH PRIVATE KEY") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `${source}: PEM block ${block.index} is an OpenSSH private key, which trailseal does not read`,
      { hint: "convert it with ssh-keygen -p -m PKCS8 -f FILE" },
    );
  }
  // Rebuild the block in strict form: the input may have been re-wrapped or indented.
  const lines = [`-----BEGIN ${block.label}-----`, ...block.headers];
  if (block.headers.length > 0) lines.push("");
  for (let i = 0; i < block.base64.length; i += 64) lines.push(block.base64.slice(i, i + 64));
  lines.push(`-----END ${block.label}-----`, "");
  const pem = lines.join("\n");
  return parseKey(
    () =>
      createPrivateKey({
        key: pem,
        format: "pem",
        ...(passphrase === undefined ? {} : { passphrase }),
      }),
    `${source}`,
    passphrase,
    encrypted,
    blockDer(block),
    block,
  );
}

function parseKey(
  parse: () => KeyObject,
  source: string,
  passphrase: string | undefined,
  encrypted: boolean,
  der: Uint8Array | undefined,
  block?: PemBlock,
): KeyObject {
  const where =
    block === undefined ? source : `${source}: PEM block ${block.index} (${block.label})`;
  if (encrypted && passphrase === undefined) {
    throw new TrailsealError(
      "KEY_PASSPHRASE",
      `the private key in ${source} is encrypted and no passphrase was given`,
      { missing: "passphrase" },
    );
  }
  let key: KeyObject;
  try {
    key = parse();
  } catch (e) {
    if (encrypted) {
      throw new TrailsealError(
        "KEY_PASSPHRASE",
        `wrong passphrase for the private key in ${source}`,
        {
          cause: e,
          missing: "right-passphrase",
        },
      );
    }
    const algorithm = der === undefined ? undefined : privateKeyAlgorithm(der);
    if (algorithm !== undefined && !KNOWN_ALGORITHMS.has(algorithm)) {
      throw new TrailsealError(
        "KEY_UNSUPPORTED",
        `${where}: unsupported private key algorithm ${algorithm}`,
        { cause: e },
      );
    }
    // OpenSSL 3 says "unsupported" for any key it cannot decode; that is a corrupt key here.
    throw new TrailsealError(
      "KEY_INVALID",
      `${where}: invalid private key (OpenSSL cannot decode it)`,
      {
        cause: e,
      },
    );
  }
  if (!SUPPORTED.has(key.asymmetricKeyType ?? "")) {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `${where}: ${(key.asymmetricKeyType ?? "unknown").toUpperCase()} keys are not supported (RSA, EC, Ed25519, Ed448 are)`,
    );
  }
  return key;
}

function blockDer(block: PemBlock): Uint8Array | undefined {
  try {
    return blockBytes(block, "");
  } catch {
    return undefined;
  }
}

/** EncryptedPrivateKeyInfo (RFC 5208 §6) has no version INTEGER up front. */
function isEncryptedDer(der: Uint8Array): boolean {
  try {
    return classify(der) === "encrypted-private-key";
  } catch {
    return false;
  }
}

function privateKey(
  key: KeyObject,
  source: string,
  certificates: readonly Uint8Array[],
): PrivateKey {
  const publicKey = createPublicKey(key);
  const fingerprint = publicKeyFingerprint(publicKey);
  const own: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  for (const cert of certificates) {
    (ownCertificate(cert, fingerprint) ? own : rest).push(cert);
  }
  return { key, publicKey, spkiFingerprint: fingerprint, source, certificates: [...own, ...rest] };
}

function ownCertificate(cert: Uint8Array, fingerprint: string): boolean {
  try {
    return spkiFingerprint(cert) === fingerprint;
  } catch {
    return false;
  }
}

function asKeyInvalid(e: unknown, where?: string): TrailsealError {
  if (e instanceof TrailsealError) {
    return new TrailsealError("KEY_INVALID", e.message, { cause: e, ...hintOf(e) });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new TrailsealError("KEY_INVALID", `${where ?? "input"}: ${message}`, { cause: e });
}

function hintOf(e: TrailsealError): { hint?: string; missing?: Missing } {
  return {
    ...(e.hint === undefined ? {} : { hint: e.hint }),
    ...(e.details.missing === undefined ? {} : { missing: e.details.missing }),
  };
}
