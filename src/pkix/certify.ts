/**
 * Issuing X.509 certificates (RFC 5280) for the local authority, the local TSA, signing
 * identities and test or demo auditors. Keys come in and certificates go out as node KeyObjects
 * and DER bytes; @peculiar/x509 stays inside this file.
 */
import { createHash, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { toArrayBuffer, toBytes } from "../bytes.js";
import { TrailsealError } from "../errors.js";
import type * as X509 from "@peculiar/x509";

/** Key usage bits by name (RFC 5280 §4.2.1.3). */
export type KeyUsageName =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign";

export { EKU } from "./oid.js";

let x509: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, set up on first use (it needs reflect-metadata loaded before it): only issuing a
 * certificate loads it (with reflect-metadata, ~300 KB bundled), never reading one.
 */
function loadX509(): Promise<typeof X509> {
  x509 ??= (async () => {
    await import("reflect-metadata");
    const imported = await import("@peculiar/x509");
    // Bundled, the CommonJS build comes as a namespace whose `default` holds the exports.
    const module =
      (imported as Partial<typeof X509>).cryptoProvider === undefined
        ? (imported as unknown as { default: typeof X509 }).default
        : imported;
    module.cryptoProvider.set(webcrypto as unknown as Crypto);
    return module;
  })();
  return x509;
}

export interface CertificateRequest {
  /** Subject as an RFC 4514 string, e.g. `CN=trailseal TSA, O=example`. */
  subject: string;
  /** The subject's public key. */
  publicKey: KeyObject;
  /** The issuer (certificate DER and its private key); omitted = self-signed with `signingKey`. */
  issuer?: { certificate: Uint8Array; key: KeyObject };
  /** For a self-signed certificate: the private key matching `publicKey`. */
  signingKey?: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Serial as positive hex; default 16 random bytes (`serialFromRandom(randomBytes(16))`). */
  serialHex?: string;
  keyUsage?: { usages: readonly KeyUsageName[]; critical?: boolean };
  extendedKeyUsage?: { oids: readonly string[]; critical: boolean };
  /** basicConstraints: CA or not, with an optional path length. Always critical when `ca`. */
  basicConstraints?: { ca: boolean; pathLength?: number };
}

const KEY_USAGE_FLAGS: Record<KeyUsageName, number> = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
};

/** The WebCrypto signing algorithm for a node private key (SHA-256 throughout). */
function signingAlgorithm(key: KeyObject): { name: string; hash?: string; namedCurve?: string } {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const namedCurve =
        curve === "prime256v1"
          ? "P-256"
          : curve === "secp384r1"
            ? "P-384"
            : curve === "secp521r1"
              ? "P-521"
              : undefined;
      if (namedCurve === undefined) {
        throw new TrailsealError(
          "KEY_UNSUPPORTED",
          `unsupported EC curve ${curve ?? "unknown"} for signing`,
        );
      }
      return { name: "ECDSA", namedCurve, hash: "SHA-256" };
    }
    default:
      throw new TrailsealError(
        "KEY_UNSUPPORTED",
        `unsupported key type ${key.asymmetricKeyType ?? "unknown"} for issuing certificates`,
      );
  }
}

async function toCryptoKey(key: KeyObject): Promise<CryptoKey> {
  const algorithm = signingAlgorithm(key);
  const pkcs8 = key.export({ format: "der", type: "pkcs8" });
  return (await webcrypto.subtle.importKey(
    "pkcs8",
    toArrayBuffer(toBytes(pkcs8)),
    algorithm,
    false,
    ["sign"],
  )) as CryptoKey;
}

function spki(key: KeyObject): ArrayBuffer {
  return toArrayBuffer(toBytes(key.export({ format: "der", type: "spki" })));
}

/**
 * Issues a certificate: signed by `issuer`, or self-signed with `signingKey`. The signature is
 * SHA-256 with RSA PKCS#1 v1.5 or ECDSA, the subject and authority key identifiers are SHA-1 of
 * the public keys (RFC 5280 §4.2.1.2 method 1), and the issuer name is copied byte for byte from
 * the issuer certificate so chain builders match it exactly.
 *
 * @example
 *   const der = await issueCertificate({ subject: "CN=auditor", publicKey, issuer: { certificate: caDer, key: caKey },
 *     notBefore, notAfter, serialHex: "01", keyUsage: { usages: ["keyEncipherment"] } });
 */
export async function issueCertificate(request: CertificateRequest): Promise<Uint8Array> {
  const x509 = await loadX509();
  const signer = request.issuer?.key ?? request.signingKey;
  if (signer === undefined) {
    throw new TrailsealError(
      "USAGE",
      "issueCertificate needs an issuer or a signingKey for a self-signed certificate",
    );
  }
  const issuerCert =
    request.issuer === undefined
      ? undefined
      : new x509.X509Certificate(toArrayBuffer(request.issuer.certificate));
  const extensions: X509.Extension[] = [];
  if (request.basicConstraints !== undefined) {
    extensions.push(
      new x509.BasicConstraintsExtension(
        request.basicConstraints.ca,
        request.basicConstraints.pathLength,
        true,
      ),
    );
  }
  if (request.keyUsage !== undefined) {
    let flags = 0;
    for (const u of request.keyUsage.usages) flags |= KEY_USAGE_FLAGS[u];
    extensions.push(new x509.KeyUsagesExtension(flags, request.keyUsage.critical ?? true));
  }
  if (request.extendedKeyUsage !== undefined) {
    extensions.push(
      new x509.ExtendedKeyUsageExtension(
        [...request.extendedKeyUsage.oids],
        request.extendedKeyUsage.critical,
      ),
    );
  }
  const subjectSpki = spki(request.publicKey);
  extensions.push(new x509.SubjectKeyIdentifierExtension(keyIdentifier(subjectSpki)));
  const issuerSpki = issuerCert === undefined ? subjectSpki : issuerCert.publicKey.rawData;
  extensions.push(new x509.AuthorityKeyIdentifierExtension(keyIdentifier(issuerSpki)));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: request.serialHex ?? serialFromRandom(new Uint8Array(randomBytes(16))),
    subject: request.subject,
    issuer: issuerCert === undefined ? request.subject : issuerCert.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: subjectSpki,
    signingKey: await toCryptoKey(signer),
    signingAlgorithm: signingAlgorithm(signer),
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2, method 1), hex. */
function keyIdentifier(spkiDer: ArrayBuffer): string {
  return createHash("sha1")
    .update(lastBitString(new Uint8Array(spkiDer)))
    .digest("hex");
}

/** The contents (after the unused-bits byte) of the subjectPublicKey BIT STRING of an SPKI. */
function lastBitString(spkiDer: Uint8Array): Uint8Array {
  // SPKI ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
  let offset = 0;
  const readHeader = (): { length: number } => {
    offset++; // tag
    let length = spkiDer[offset++]!;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + spkiDer[offset++]!;
    }
    return { length };
  };
  readHeader(); // outer SEQUENCE
  const alg = readHeader(); // AlgorithmIdentifier
  offset += alg.length;
  const bits = readHeader();
  return spkiDer.subarray(offset + 1, offset + bits.length);
}

/** A random positive serial of 16 bytes, hex (RFC 5280 §4.1.2.2: at most 20 octets). */
export function serialFromRandom(random: Uint8Array): string {
  const bytes = Uint8Array.from(random.subarray(0, 16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  return Buffer.from(bytes).toString("hex");
}
