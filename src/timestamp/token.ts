/**
 * The local TSA: issues RFC 3161 tokens in-process with a TSA certificate and key (the local
 * authority's, or the operator's own). The same issuer serves `trailseal tsa serve`.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { TrailsealError } from "../errors.js";
import { publicKeyFingerprint } from "../keys.js";
import {
  encodeTimeStampResp,
  encodeTstInfo,
  hashAlgorithm,
  OID,
  signTstInfo,
} from "../pkix/tsp.js";
import { certificate, shownTime, validAt } from "../pkix/cert.js";
import { signingKeyFacts, type SigningKey } from "../pkix/algorithms.js";
import { EKU } from "../pkix/oid.js";

/** A TSA: its chain (leaf first, DER) and its private key (RSA or ECDSA; in memory or a token's). */
export interface TsaIdentity {
  chain: Uint8Array[];
  key: SigningKey;
}

/** Makes time-stamp tokens for SHA-256 imprints. */
export interface Stamper {
  readonly kind: "local" | "remote";
  /** Returns a TimeStampToken (ContentInfo with SignedData) DER over `imprint`. */
  stamp(imprint: Uint8Array, nonce: bigint): Promise<Uint8Array>;
}

export interface LocalStamperOptions {
  clock: () => Date;
  /** Unique serials (see `serialSource`); by default `serialSource` over crypto.randomBytes. */
  serial?: () => bigint;
  /** The TSA policy tokens are issued under; by default `LOCAL_POLICY_OID`, as the CLI's. */
  policyOid?: string;
  accuracyMillis?: number;
}

/** What one token states, as the issuer gets it from a request. */
export interface IssueFields {
  /** The imprint's AlgorithmIdentifier DER (the request's, copied), and the digest. */
  hashAlgorithmDer: Uint8Array;
  digest: Uint8Array;
  nonce: bigint | null;
  policyOid: string;
  serial: bigint;
  genTime: Date;
  accuracyMillis?: number;
  /** Attach the TSA chain (the request's certReq); default true. */
  includeCertificates?: boolean;
}

/**
 * Checks a TSA identity once: RSA (2048 bits or more) or ECDSA key, the key matches the cert,
 * the EKU is timeStamping alone and critical, and (given `now`) the certificate is valid now.
 */
export function checkTsaIdentity(tsa: TsaIdentity, now?: Date): void {
  const leaf = tsa.chain[0];
  if (leaf === undefined) throw new TrailsealError("USAGE", "the TSA certificate chain is empty");
  const cert = certificate(leaf);
  const { type, bits, spkiFingerprint } = signingKeyFacts(tsa.key);
  if (type !== "rsa" && type !== "ec") {
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `a TSA key must be RSA or ECDSA, not ${type} (openssl ts cannot verify RSA-PSS)`,
    );
  }
  if (type === "rsa" && bits < 2048) {
    // verifyToken refuses such tokens: a key this small can be factored and any time forged.
    throw new TrailsealError(
      "KEY_TOO_SMALL",
      `the TSA key of ${cert.subject} has ${bits} bits; RSA keys need 2048 or more`,
    );
  }
  if (publicKeyFingerprint(cert.publicKey) !== spkiFingerprint) {
    throw new TrailsealError(
      "KEY_INVALID",
      `the TSA key does not match the certificate ${cert.subject}`,
    );
  }
  if (!cert.extendedKeyUsages.includes(EKU.timeStamping)) {
    throw new TrailsealError(
      "USAGE",
      `the TSA certificate ${cert.subject} lacks the timeStamping extended key usage`,
      {
        hint: "issue it with extendedKeyUsage = critical, timeStamping (or run 'trailseal init')",
      },
    );
  }
  if (now !== undefined && !validAt(cert, now)) {
    throw new TrailsealError(
      "USAGE",
      `the TSA certificate ${cert.subject} is not valid at ${now.toISOString()} (valid ${shownTime(cert.notBefore)} to ${shownTime(cert.notAfter)}); its tokens would not verify`,
    );
  }
  // RFC 3161 §2.3; verifyToken (and openssl ts) refuse tokens from any other certificate.
  const critical = cert.ekuCritical === true;
  if (!critical || cert.extendedKeyUsages.length !== 1) {
    throw new TrailsealError(
      "USAGE",
      `the TSA certificate ${cert.subject} has the timeStamping extended key usage ${critical ? "beside others" : "not critical"}; RFC 3161 §2.3 wants it critical and alone, and its tokens would not verify`,
      {
        hint: "issue it with extendedKeyUsage = critical, timeStamping (or run 'trailseal init')",
      },
    );
  }
}

/**
 * Issues one token (TSTInfo signed as SignedData): at once with a key in memory, as a promise
 * with a key on a token.
 */
export function issueToken(tsa: TsaIdentity & { key: KeyObject }, fields: IssueFields): Uint8Array;
export function issueToken(tsa: TsaIdentity, fields: IssueFields): Uint8Array | Promise<Uint8Array>;
export function issueToken(
  tsa: TsaIdentity,
  fields: IssueFields,
): Uint8Array | Promise<Uint8Array> {
  const leaf = tsa.chain[0];
  if (leaf === undefined) throw new TrailsealError("USAGE", "the TSA certificate chain is empty");
  const tstInfo = encodeTstInfo({
    policy: fields.policyOid,
    hashAlgorithmDer: fields.hashAlgorithmDer,
    digest: fields.digest,
    serial: fields.serial,
    genTime: fields.genTime,
    nonce: fields.nonce,
    tsaName: certificate(leaf).subjectDer,
    ...(fields.accuracyMillis === undefined ? {} : { accuracyMillis: fields.accuracyMillis }),
  });
  return signTstInfo(tstInfo, tsa, { includeCertificates: fields.includeCertificates ?? true });
}

/** A granted TimeStampResp (RFC 3161 §2.4.2) around a token: what `openssl ts -reply` writes. */
export function grantedResponse(token: Uint8Array): Uint8Array {
  return encodeTimeStampResp({ status: 0, token });
}

/**
 * An in-process TSA. Tokens carry a SHA-256 imprint, a unique serial, accuracy, genTime from
 * `clock`, the TSA name (directoryName of the TSA certificate subject), the nonce and the policy,
 * and are signed with signed attributes contentType, messageDigest and signingCertificateV2.
 *
 * @example
 *   const stamper = localStamper(authority.tsa, { clock: () => new Date(), accuracyMillis: 1000 });
 *   const token = await stamper.stamp(imprint, nonce);
 */
export function localStamper(tsa: TsaIdentity, options: LocalStamperOptions): Stamper {
  checkTsaIdentity(tsa, options.clock());
  const sha256 = hashAlgorithm(OID.sha256);
  const serial = options.serial ?? serialSource((n) => new Uint8Array(randomBytes(n)));
  const policyOid = options.policyOid ?? LOCAL_POLICY_OID;
  return {
    kind: "local",
    stamp(imprint: Uint8Array, nonce: bigint): Promise<Uint8Array> {
      if (imprint.byteLength !== 32) {
        return Promise.reject(
          new TrailsealError(
            "USAGE",
            `the imprint must be a 32-byte SHA-256 digest, not ${imprint.byteLength} bytes`,
          ),
        );
      }
      return Promise.resolve(
        issueToken(tsa, {
          hashAlgorithmDer: sha256,
          digest: imprint,
          nonce,
          policyOid,
          serial: serial(),
          genTime: options.clock(),
          ...(options.accuracyMillis === undefined
            ? {}
            : { accuracyMillis: options.accuracyMillis }),
        }),
      );
    },
  };
}

/**
 * Serials that never repeat: the time in milliseconds in the high bits, then 32 random bits
 * drawn once, then a counter. `random` is the top-level source (e.g. crypto.randomBytes).
 */
export function serialSource(
  random: (n: number) => Uint8Array,
  now: () => number = Date.now,
): () => bigint {
  const salt = random(4);
  const saltValue = BigInt(
    ((salt[0]! << 24) | (salt[1]! << 16) | (salt[2]! << 8) | salt[3]!) >>> 0,
  );
  let counter = 0n;
  return () => {
    counter = (counter + 1n) & 0xffffffffn;
    return (BigInt(now()) << 64n) | (saltValue << 32n) | counter;
  };
}

/**
 * The policy OID the local TSA stamps under when none is configured: an arc under the
 * "example" private enterprise number (RFC 5612), marking the token as local and unaccredited.
 */
export const LOCAL_POLICY_OID = "1.3.6.1.4.1.32473.3161.1";
