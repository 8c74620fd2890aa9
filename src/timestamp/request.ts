/**
 * Time-stamp requests (RFC 3161 §2.4.1): SHA-256 imprint, a nonce the caller drew at the top,
 * certReq, and reqPolicy when a policy OID is configured.
 */
import { TrailsealError } from "../errors.js";
import { encodeTimeStampReq, OID } from "../pkix/tsp.js";

export interface TimestampRequestOptions {
  /** TSA policy OID for reqPolicy; null or omitted leaves it to the TSA. */
  policyOid?: string | null;
  /** The request nonce; the caller makes it random (randomness is read at the top). */
  nonce: bigint;
  /** Ask the TSA to include its certificate (default true). */
  certReq?: boolean;
}

const OID_PATTERN = /^[0-2](\.(0|[1-9]\d*))+$/;

/** Throws USAGE unless `oid` is a dotted object identifier. */
export function checkPolicyOid(oid: string): string {
  if (!OID_PATTERN.test(oid)) {
    throw new TrailsealError("USAGE", `policy OID '${oid}' is not a dotted object identifier`, {
      hint: "write it like 1.3.6.1.4.1.55555.1.1",
    });
  }
  return oid;
}

/**
 * A TimeStampReq DER for a SHA-256 digest.
 *
 * @example
 *   const req = makeRequest(sha256(data), { nonce: randomNonce(randomBytes(8)) });
 */
export function makeRequest(imprint: Uint8Array, options: TimestampRequestOptions): Uint8Array {
  if (imprint.byteLength !== 32) {
    throw new TrailsealError(
      "USAGE",
      `the imprint must be a 32-byte SHA-256 digest, not ${imprint.byteLength} bytes`,
    );
  }
  if (options.nonce <= 0n)
    throw new TrailsealError("USAGE", "the nonce must be a positive integer");
  const policy = options.policyOid ?? null;
  return encodeTimeStampReq({
    hashOid: OID.sha256,
    digest: imprint,
    policy: policy === null ? null : checkPolicyOid(policy),
    nonce: options.nonce,
    certReq: options.certReq ?? true,
  });
}

/** A positive 64-bit nonce from 8 random bytes (the caller reads the randomness). */
export function nonceFromRandom(random: Uint8Array): bigint {
  let v = 0n;
  for (const b of random.subarray(0, 8)) v = (v << 8n) | BigInt(b);
  return (v & ((1n << 63n) - 1n)) | 1n;
}
