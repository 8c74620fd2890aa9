/** Building new audit-policy bodies in the SPS 8.0 LTS shape, ready to POST. */
import { TrailsealError } from "../errors.js";
import { toApiString } from "../pem.js";
import type {
  AuditPolicy,
  PolicyCertificateEntry,
  PolicyEncryption,
  PolicySigning,
  PolicyTimestamping,
} from "./audit.js";
import type { RecipientEntry } from "./encryption.js";
import { checkPolicy } from "./parse.js";
import { DEFAULT_INTERVAL, formatProblems } from "./rules.js";

export interface BuildOptions {
  /** Policy name, no whitespace. */
  name: string;
  /** Downstream entries (the whole trail when `upstream` is empty). */
  encrypt: RecipientEntry[];
  /** Separate upstream entries; non-empty turns on different_certificates_for_upstream. */
  upstream: RecipientEntry[];
  /** The key of an x509 identity stored on SPS; turns signing on. */
  signIdentity?: string;
  /** "local" for the local timestamping service, or the http(s) URL of an RFC 3161 server. */
  timestamp?: "local" | string;
  /** The TSA policy OID for a remote server (`reqPolicy`). */
  policyOid?: string;
  /** Seconds between signatures and timestamps; default 30. */
  interval?: number;
}

/** The path SPS gives an x509 identity: `/api/configuration/x509/<key>`. */
export const X509_IDENTITY_PREFIX = "/api/configuration/x509/";

/** The key of an x509 identity given as a key or as its REST href. */
export function identityKey(reference: string): string {
  const at = reference.indexOf(X509_IDENTITY_PREFIX);
  return at >= 0
    ? reference.slice(at + X509_IDENTITY_PREFIX.length).replace(/\/+$/, "")
    : reference;
}

function apiEntries(entries: readonly RecipientEntry[]): PolicyCertificateEntry[] {
  return entries.map((e) => ({
    certificate: toApiString(e.certificate),
    four_eyes_certificate: e.fourEyes === null ? null : toApiString(e.fourEyes),
  }));
}

function encryptionOf(options: BuildOptions): PolicyEncryption {
  const encrypt = apiEntries(options.encrypt);
  const upstream = apiEntries(options.upstream);
  if (encrypt.length === 0 && upstream.length === 0) return { enabled: false };
  return {
    certificates: encrypt,
    different_certificates_for_upstream:
      upstream.length === 0 ? { enabled: false } : { certificates: upstream, enabled: true },
    enabled: true,
  };
}

function timestampingOf(options: BuildOptions): PolicyTimestamping {
  const { timestamp, policyOid } = options;
  if (policyOid !== undefined && (timestamp === undefined || timestamp === "local")) {
    throw new TrailsealError("POLICY_INVALID", "a policy OID needs a remote timestamp server", {
      hint: "the local timestamping service takes no policy OID",
    });
  }
  if (timestamp === undefined) return { enabled: false };
  if (timestamp === "local") return { enabled: true, server: { selection: "local" } };
  return {
    enabled: true,
    server: {
      oid: policyOid === undefined ? { enabled: false } : { enabled: true, policy_oid: policyOid },
      selection: "remote",
      server_url: timestamp,
    },
  };
}

/**
 * Builds an audit-policy body in the SPS 8.0 LTS shape, ready to POST to
 * `/api/configuration/policies/audit_policies`. Keys are in SPS's (alphabetical) order,
 * disabled blocks are written as `{"enabled": false}`, as SPS writes them, and the signing
 * identity as its bare key, as the page says to add one. Throws
 * `POLICY_INVALID` when the result would not pass `checkPolicy` (warnings do not throw).
 *
 * @example
 * buildPolicy({ name: "audit", encrypt: [{ certificate: der, fourEyes: null }], upstream: [],
 *   timestamp: "local" })
 */
export function buildPolicy(options: BuildOptions): AuditPolicy {
  // GET shows the identity as {key, meta: {href}}; to add or modify, the 8.0 LTS page says:
  // "use the value of the returned key as the value of the x509_identity element, and remove
  // any child elements (including the key)". A body to POST carries the bare key.
  const signing: PolicySigning =
    options.signIdentity === undefined
      ? { enabled: false }
      : { enabled: true, x509_identity: identityKey(options.signIdentity) };
  const policy: AuditPolicy = {
    encryption: encryptionOf(options),
    name: options.name,
    signing,
    signing_and_timestamping_interval: options.interval ?? DEFAULT_INTERVAL,
    timestamping: timestampingOf(options),
  };
  const errors = checkPolicy(policy).filter((p) => p.severity === "error");
  if (errors.length > 0) {
    throw new TrailsealError(
      "POLICY_INVALID",
      `the policy would be invalid: ${formatProblems(errors)}`,
    );
  }
  return policy;
}
