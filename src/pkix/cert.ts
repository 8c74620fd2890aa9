/**
 * Certificate fields for display (`trailseal pem --json`), read with @peculiar/x509. Only plain
 * values leave this file; the DER goes in, strings and Dates come out.
 */
import { X509Certificate as NodeX509Certificate } from "node:crypto";
import { x509 } from "./engine.js";
import { toArrayBuffer } from "../bytes.js";
import { certificateParts, DerError } from "./der.js";

export interface CertificateFields {
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex, as encoded (RFC 5280 §4.1.2.2), without leading 00 padding. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Dotted OIDs of the extendedKeyUsage extension (RFC 5280 §4.2.1.12), [] when absent. */
  readonly extendedKeyUsages: readonly string[];
}

/** Reads the display fields. Throws DerError when the certificate does not parse. */
export function certificateFields(der: Uint8Array): CertificateFields {
  certificateParts(der);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(toArrayBuffer(der));
  } catch (e) {
    throw new DerError(`certificate does not parse: ${(e as Error).message}`);
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const serial = cert.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, "");
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    extendedKeyUsages: eku === null ? [] : eku.usages.map((u) => String(u)),
  };
}

/**
 * Full parse by OpenSSL (through node:crypto), so "valid DER" means what openssl would accept.
 * Throws DerError with OpenSSL's reason.
 */
export function checkWithOpenssl(der: Uint8Array): void {
  try {
    new NodeX509Certificate(der);
  } catch (e) {
    throw new DerError(`certificate does not parse: ${(e as Error).message}`);
  }
}

/** Whether the certificate says it is a CA (basicConstraints cA, RFC 5280 §4.2.1.9). */
export function certificateIsCa(der: Uint8Array): boolean {
  try {
    return new NodeX509Certificate(der).ca;
  } catch (e) {
    throw new DerError(`certificate does not parse: ${(e as Error).message}`);
  }
}
