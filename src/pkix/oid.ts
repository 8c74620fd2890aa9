/**
 * The one table of object identifiers trailseal reads or writes, by the name the defining RFC
 * gives each. Every module of src/pkix takes its OIDs from here.
 */
export const OID = {
  // CMS content types (RFC 5652 §4-§6; RFC 3161 §2.4.2)
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  envelopedData: "1.2.840.113549.1.7.3",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  // CMS and ESS attributes (RFC 5652 §11; RFC 2634 §5.4; RFC 5035 §3; RFC 3161 appendix A)
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  signatureTimeStampToken: "1.2.840.113549.1.9.16.2.14",
  // Hashes (RFC 5754 §2; RFC 3279 §2.2)
  md5: "1.2.840.113549.2.5",
  sha1: "1.3.14.3.2.26",
  sha224: "2.16.840.1.101.3.4.2.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  // RSA (RFC 8017 appendix C; RFC 4055 §2-§4)
  rsaEncryption: "1.2.840.113549.1.1.1",
  md2WithRSAEncryption: "1.2.840.113549.1.1.2",
  md5WithRSAEncryption: "1.2.840.113549.1.1.4",
  sha1WithRSAEncryption: "1.2.840.113549.1.1.5",
  rsaesOaep: "1.2.840.113549.1.1.7",
  mgf1: "1.2.840.113549.1.1.8",
  pSpecified: "1.2.840.113549.1.1.9",
  rsassaPss: "1.2.840.113549.1.1.10",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  sha224WithRSAEncryption: "1.2.840.113549.1.1.14",
  sha1WithRSAOiw: "1.3.14.3.2.29",
  // DSA and EC (RFC 5480 §2.1.1; RFC 5758 §3.2; RFC 3279 §2.2.2)
  dsaWithSha1: "1.2.840.10040.4.3",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha1: "1.2.840.10045.4.1",
  ecdsaWithSha224: "1.2.840.10045.4.3.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4",
  // ECDH key agreement and AES (RFC 5753 §7.1.4; RFC 3565 §4)
  stdDhSha1Kdf: "1.3.133.16.840.63.0.2",
  stdDhSha224Kdf: "1.3.132.1.11.0",
  stdDhSha256Kdf: "1.3.132.1.11.1",
  stdDhSha384Kdf: "1.3.132.1.11.2",
  stdDhSha512Kdf: "1.3.132.1.11.3",
  aes128Wrap: "2.16.840.1.101.3.4.1.5",
  aes192Wrap: "2.16.840.1.101.3.4.1.25",
  aes256Wrap: "2.16.840.1.101.3.4.1.45",
  aes128Cbc: "2.16.840.1.101.3.4.1.2",
  aes192Cbc: "2.16.840.1.101.3.4.1.22",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  // Certificate extensions (RFC 5280 §4.2.1)
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
} as const;

/** Extended key usage purposes (RFC 5280 §4.2.1.12), by their id-kp- names. */
export const EKU = {
  any: "2.5.29.37.0",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
} as const;

/** The hashes trailseal knows, by OID: the node:crypto name and the digest length in bytes. */
export const HASHES: Readonly<Record<string, { readonly name: string; readonly length: number }>> =
  {
    [OID.md5]: { name: "md5", length: 16 },
    [OID.sha1]: { name: "sha1", length: 20 },
    [OID.sha224]: { name: "sha224", length: 28 },
    [OID.sha256]: { name: "sha256", length: 32 },
    [OID.sha384]: { name: "sha384", length: 48 },
    [OID.sha512]: { name: "sha512", length: 64 },
  };
