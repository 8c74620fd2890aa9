/**
 * X.509 certification path building and validation (a pragmatic subset of RFC 5280 §6): from a
 * leaf through the given intermediates to one of the given trust anchors, checked at one instant.
 *
 * Only `anchors` are trusted. Certificates that arrive with the data (a SignedData's certificate
 * set, a timestamp token) are candidates for the path and nothing more: each link is proven by its
 * signature, never by a name match. What is checked per link: the signature with the issuer's key,
 * validity of every certificate (anchor included) at `at`, basicConstraints cA and keyUsage
 * keyCertSign on every issuer, pathLenConstraint, and no unknown critical extension; no signature
 * over SHA-1 or MD5 below the anchor, and no issuer (anchor included) with an RSA key under 2048
 * bits. Not checked:
 * revocation, name constraints and policies (certificates that mark those critical are refused,
 * since we cannot honour them).
 *
 * Certificates are read by ./cert.ts (the one certificate model); signatures are checked by
 * node:crypto. DER in, strings, dates and KeyObjects out.
 */
import { TrailsealError, type Missing } from "../errors.js";
import { equal } from "../bytes.js";
import { certificate, fingerprintOf, type Certificate } from "./cert.js";

/** A validated path: `chain[0]` is the leaf, the last element is the anchor. DER. */
export interface ChainResult {
  chain: Uint8Array[];
  anchor: Uint8Array;
}

/** The smallest RSA key trusted to sign certificates (as for signing data). */
const MIN_RSA_BITS = 2048;

/** The extended key usage OIDs of a certificate (empty when it has none). */
export function extendedKeyUsages(der: Uint8Array): string[] {
  return [...certificate(der).extendedKeyUsages];
}

/** Whether the extendedKeyUsage extension is critical; null when the certificate has none. */
export function isEkuCritical(der: Uint8Array): boolean | null {
  return certificate(der).ekuCritical;
}

const MAX_PATH = 8;

/**
 * Builds and validates a path leaf -> intermediates -> one of `anchors`, at instant `at`.
 * Returns the path (leaf first, anchor last) or throws CHAIN_UNTRUSTED naming the leaf and why,
 * with `details.missing` set to `anchorKind` (what the caller would have to give).
 *
 * @example
 *   const { chain } = await validateChain(leafDer, [intermediateDer], [rootDer], signingTime);
 */
export async function validateChain(
  leaf: Uint8Array,
  intermediates: readonly Uint8Array[],
  anchors: readonly Uint8Array[],
  at: Date,
  anchorKind: AnchorKind = "trust-anchor",
): Promise<ChainResult> {
  return Promise.resolve(buildPath(leaf, intermediates, anchors, at, anchorKind));
}

/** Whose trust anchors a chain is validated against: a signer's, or a TSA's. */
export type AnchorKind = Extract<Missing, "trust-anchor" | "tsa-trust-anchor">;

function buildPath(
  leafDer: Uint8Array,
  intermediates: readonly Uint8Array[],
  anchors: readonly Uint8Array[],
  at: Date,
  anchorKind: AnchorKind,
): ChainResult {
  if (Number.isNaN(at.getTime())) {
    throw new TrailsealError("CHAIN_UNTRUSTED", "cannot validate a chain at an invalid time");
  }
  const leaf = certificate(leafDer);
  const untrusted = (why: string): TrailsealError =>
    new TrailsealError(
      "CHAIN_UNTRUSTED",
      `certificate "${leaf.subject}" (sha256:${leaf.fingerprint}) is not trusted at ${iso(at)}: ${why}`,
      { missing: anchorKind },
    );
  if (anchors.length === 0) throw untrusted("no trust anchors were given");
  const anchorInfos = anchors.map(certificate);
  const anchorSet = new Set(anchorInfos.map((a) => a.fingerprint));
  const pool: Certificate[] = [
    ...anchorInfos,
    ...intermediates.map(certificate).filter((c) => !anchorSet.has(c.fingerprint)),
  ];

  const leafProblem = ownProblem(leaf, at);
  if (leafProblem !== null) throw untrusted(leafProblem);

  const failures: string[] = [];
  const walk = (path: Certificate[]): Certificate[] | null => {
    const cert = path[path.length - 1]!;
    if (anchorSet.has(cert.fingerprint)) return path;
    // No SHA-1 or MD5 in evidence: a chosen-prefix collision forges a certificate a CA signed so.
    if (cert.weakSignatureHash !== null) {
      failures.push(
        `weak signature: "${cert.subject}" is signed with ${cert.weakSignatureHash}, which is refused`,
      );
      return null;
    }
    if (path.length > MAX_PATH) {
      failures.push(`no path to a trust anchor: longer than ${MAX_PATH} certificates`);
      return null;
    }
    const candidates = pool.filter(
      (c) =>
        equal(c.subjectDer, cert.issuerDer) && !path.some((p) => p.fingerprint === c.fingerprint),
    );
    if (candidates.length === 0 && equal(cert.subjectDer, cert.issuerDer) && path.length > 1) {
      failures.push(
        `no path to a trust anchor: "${cert.subject}" is a root that is not a trust anchor`,
      );
      return null;
    }
    if (candidates.length === 0) {
      failures.push(
        `no path to a trust anchor: the issuer "${cert.issuer}" of "${cert.subject}" is neither a ` +
          `trust anchor nor among the ${intermediates.length} included certificate(s)`,
      );
      return null;
    }
    for (const issuer of candidates) {
      const role = anchorSet.has(issuer.fingerprint) ? "trust anchor" : "included certificate";
      const problem = linkProblem(cert, issuer, role, path.length - 1, at);
      if (problem !== null) {
        failures.push(problem);
        continue;
      }
      const found = walk([...path, issuer]);
      if (found !== null) return found;
    }
    return null;
  };

  const path = walk([leaf]);
  if (path === null) throw untrusted([...new Set(failures)].join("; "));
  const chain = path.map((c) => c.der);
  return { chain, anchor: chain[chain.length - 1]! };
}

/**
 * Why `issuer` cannot issue `cert` in a path with `below` CAs between it and the leaf, or null:
 * RSA key size, signature, basicConstraints cA, keyUsage keyCertSign, pathLenConstraint
 * (RFC 5280 §4.2.1.3, §4.2.1.9, §6.1.4), and the issuer's own validity.
 */
function linkProblem(
  cert: Certificate,
  issuer: Certificate,
  role: string,
  below: number,
  at: Date,
): string | null {
  const bits = issuer.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (issuer.publicKey.asymmetricKeyType?.startsWith("rsa") === true && bits < MIN_RSA_BITS) {
    return `weak key: the ${role} "${issuer.subject}" has a ${bits}-bit RSA key; ${MIN_RSA_BITS} bits or more required`;
  }
  if (!cert.verifiedBy(issuer.publicKey)) {
    return (
      `bad signature: "${cert.subject}" is not signed by the key of the ${role} ` +
      `"${issuer.subject}" (sha256:${issuer.fingerprint})`
    );
  }
  if (!issuer.isCa) return `issuer not a CA: "${issuer.subject}" has no basicConstraints cA`;
  if (issuer.keyUsage !== null && !issuer.keyUsage.has("keyCertSign")) {
    return `issuer not a CA: "${issuer.subject}" lacks keyUsage keyCertSign`;
  }
  if (issuer.pathLenConstraint !== undefined && below > issuer.pathLenConstraint) {
    return `path too long: "${issuer.subject}" allows ${issuer.pathLenConstraint} intermediate(s) below it`;
  }
  const problem = ownProblem(issuer, at);
  return problem === null ? null : `${role} ${problem}`;
}

/** A certificate's own fault at `at` (validity period, unknown critical extensions), or null. */
function ownProblem(cert: Certificate, at: Date): string | null {
  if (cert.invalidTime !== null) {
    return `"${cert.subject}" has an invalid validity period (${cert.invalidTime})`;
  }
  if (at.getTime() > cert.notAfter.getTime()) {
    return `expired at ${iso(at)}: "${cert.subject}" was valid until ${iso(cert.notAfter)}`;
  }
  if (at.getTime() < cert.notBefore.getTime()) {
    return `not yet valid at ${iso(at)}: "${cert.subject}" is valid from ${iso(cert.notBefore)}`;
  }
  if (cert.unknownCriticalExtensions.length > 0) {
    return `"${cert.subject}" has unsupported critical extension(s) ${cert.unknownCriticalExtensions.join(", ")}`;
  }
  return null;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, "Z");
}

interface CacheEntry {
  result: ChainResult;
  /** Every certificate of the path is valid throughout [from, until]. */
  from: number;
  until: number;
}

/**
 * Memoises validateChain: a trail whose 120 checkpoints share one signer validates its chain once.
 * An entry is keyed by the fingerprints of the leaf, of the intermediates offered and of the
 * anchors (so a changed certificate anywhere is validated afresh), and reused for any instant at
 * which every certificate of the validated path is within its validity period, since nothing else
 * that validation checks depends on the time. Failures are not cached.
 */
export class ChainValidator {
  readonly #cache = new Map<string, CacheEntry[]>();
  /** How many full path validations ran (cache misses). */
  validations = 0;

  /** validateChain, memoised: the same parameters. */
  async validate(
    ...[leaf, intermediates, anchors, at, anchorKind]: Parameters<typeof validateChain>
  ): Promise<ChainResult> {
    const key = [leaf, intermediates, anchors]
      .map((set) =>
        (set instanceof Uint8Array ? [set] : [...set]).map(fingerprintOf).sort().join(","),
      )
      .join("|");
    const t = at.getTime();
    const entries = this.#cache.get(key) ?? [];
    const hit = entries.find((e) => e.from <= t && t <= e.until);
    if (hit !== undefined) return { chain: [...hit.result.chain], anchor: hit.result.anchor };
    this.validations++;
    const result = await validateChain(leaf, intermediates, anchors, at, anchorKind);
    const infos = result.chain.map(certificate);
    entries.push({
      result,
      from: Math.max(...infos.map((c) => c.notBefore.getTime())),
      until: Math.min(...infos.map((c) => c.notAfter.getTime())),
    });
    this.#cache.set(key, entries);
    return { chain: [...result.chain], anchor: result.anchor };
  }
}
