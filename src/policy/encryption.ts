/**
 * The `encryption` block of an audit policy: recipient entries (any one decrypts; a four-eyes
 * entry needs both keys), the separate upstream list, and what each certificate's key allows.
 */
import { checkApiCertificate, describeCertificate, spkiFingerprint } from "../pem.js";
import { FIELDS, Problems, join, typeName, type JsonObject } from "./rules.js";

/** One recipient entry as DER: any entry of a list can decrypt; a four-eyes entry needs both. */
export interface RecipientEntry {
  /** DER of the certificate. */
  certificate: Uint8Array;
  /** DER of the four-eyes certificate, or null. */
  fourEyes: Uint8Array | null;
}

/** Who can read each channel; null = the channel is written in the clear. */
export interface ChannelRecipients {
  downstream: RecipientEntry[] | null;
  upstream: RecipientEntry[] | null;
}

/** A certificate that passed the API-form check, with what the other rules need of it. */
interface GoodCertificate {
  der: Uint8Array;
  spki: string;
  path: string;
}

interface GoodEntry {
  certificate: GoodCertificate;
  fourEyes: GoodCertificate | null;
}

const CLEAR: ChannelRecipients = { downstream: null, upstream: null };
const F = FIELDS.audit;

const entryOf = (e: GoodEntry): RecipientEntry => ({
  certificate: e.certificate.der,
  fourEyes: e.fourEyes?.der ?? null,
});

/** Reads `encryption`; the recipients are meaningful only when no error was reported. */
export function parseEncryption(p: Problems, enc: JsonObject, path: string): ChannelRecipients {
  p.unknownFields(enc, path, F.encryption, "audit");
  if (p.flag(enc, "enabled", path) !== true) return CLEAR;

  const downstream = parseEntries(p, enc["certificates"], join(path, "certificates"));
  const upstreamPath = join(path, "different_certificates_for_upstream");
  const up = p.block(enc, "different_certificates_for_upstream", path);
  let upstream: GoodEntry[] | null = null;
  if (up !== null) {
    p.unknownFields(up, upstreamPath, F.upstream, "audit");
    if (p.flag(up, "enabled", upstreamPath) === true) {
      const listed = parseEntries(p, up["certificates"], join(upstreamPath, "certificates"));
      if (listed.count === 0) {
        p.report(
          join(upstreamPath, "certificates"),
          "UPSTREAM_NO_CERTIFICATES",
          "upstream encryption is enabled but lists no certificate; add one or set enabled to false",
        );
      }
      upstream = listed.good;
    }
  }
  if (downstream.count === 0 && upstream === null) {
    p.report(
      join(path, "certificates"),
      "ENCRYPTION_NO_CERTIFICATES",
      "encryption is enabled but lists no certificate (only the upstream-only form may leave it empty, with different_certificates_for_upstream enabled)",
    );
  }
  if (upstream !== null) reusedUpstreamKeys(p, downstream.good, upstream);
  const down = downstream.good.map(entryOf);
  return {
    downstream: down.length === 0 ? null : down,
    upstream: upstream === null ? down : upstream.map(entryOf),
  };
}

/** SPS advises one key, one purpose: warns about an upstream key that also reads downstream. */
function reusedUpstreamKeys(p: Problems, downstream: GoodEntry[], upstream: GoodEntry[]): void {
  const seen = new Set<string>();
  for (const e of downstream) {
    seen.add(e.certificate.spki);
    if (e.fourEyes !== null) seen.add(e.fourEyes.spki);
  }
  for (const e of upstream) {
    for (const c of [e.certificate, e.fourEyes]) {
      if (c !== null && seen.has(c.spki)) {
        p.report(
          c.path,
          "KEY_REUSED_UPSTREAM",
          `key sha256:${c.spki} also encrypts downstream; SPS advises one key, one purpose (the upstream holds typed passwords)`,
        );
      }
    }
  }
}

/** Reads a list of entries; returns the count and the entries whose certificates are sound. */
function parseEntries(
  p: Problems,
  list: unknown,
  path: string,
): { count: number; good: GoodEntry[] } {
  if (list === undefined || list === null) return { count: 0, good: [] };
  if (!Array.isArray(list)) {
    p.report(
      path,
      "FIELD_TYPE",
      `must be a list of {certificate, four_eyes_certificate}, not ${typeName(list)}`,
    );
    return { count: 0, good: [] };
  }
  const good: GoodEntry[] = [];
  const pairs = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    const e = parseEntry(p, entry, `${path}[${i}]`);
    if (e === null) return;
    const pair = `${e.certificate.spki}/${e.fourEyes?.spki ?? ""}`;
    const earlier = pairs.get(pair);
    if (earlier !== undefined) {
      p.report(
        `${path}[${i}]`,
        "CERTIFICATE_DUPLICATE",
        `the same entry as ${path}[${earlier}]; one is enough`,
      );
    } else {
      pairs.set(pair, i);
    }
    good.push(e);
  });
  return { count: list.length, good };
}

function parseEntry(p: Problems, value: unknown, at: string): GoodEntry | null {
  const entry = p.object(value, at, "{certificate, four_eyes_certificate}");
  if (entry === null) return null;
  p.unknownFields(entry, at, F.entry, "audit");
  const certificate = parseCertificate(p, entry["certificate"], join(at, "certificate"), false);
  const fe = entry["four_eyes_certificate"];
  const fourEyes =
    fe === null || fe === undefined
      ? null
      : parseCertificate(p, fe, join(at, "four_eyes_certificate"), true);
  if (certificate === null || (fourEyes === null && fe !== null && fe !== undefined)) return null;
  if (fourEyes !== null && fourEyes.spki === certificate.spki) {
    p.report(
      fourEyes.path,
      "FOUR_EYES_SAME_KEY",
      `the four-eyes certificate has the same key (sha256:${certificate.spki}) as the certificate, so one person could decrypt alone; use the second person's certificate or null`,
    );
    return null;
  }
  return { certificate, fourEyes };
}

function parseCertificate(
  p: Problems,
  value: unknown,
  path: string,
  fourEyes: boolean,
): GoodCertificate | null {
  const r = checkApiCertificate(value);
  if (!r.ok) {
    switch (r.reason) {
      case "metadata":
      case "raw-line-breaks":
        p.report(
          path,
          "CERTIFICATE_NOT_API_FORM",
          `${r.message}; the API wants the bare PEM with \\n line breaks`,
        );
        break;
      case "several":
        p.report(
          path,
          "CERTIFICATE_SEVERAL",
          `${r.message}; ${fourEyes ? "four_eyes_certificate holds the second person's certificate only" : "put each certificate in a list entry of its own"}`,
        );
        break;
      case "not-a-string":
        p.report(
          path,
          "CERTIFICATE_INVALID",
          value === undefined
            ? `'${fourEyes ? "four_eyes_certificate" : "certificate"}' is required`
            : `${r.message}${fourEyes ? "; use null for no four-eyes certificate" : ""}`,
        );
        break;
      default:
        p.report(path, "CERTIFICATE_INVALID", r.message);
    }
    return null;
  }
  let spki: string;
  try {
    spki = spkiFingerprint(r.der);
  } catch (e) {
    p.report(
      path,
      "CERTIFICATE_INVALID",
      `cannot read the public key: ${e instanceof Error ? e.message : String(e)}`,
    );
    return null;
  }
  checkKey(p, r.der, path, spki);
  return { der: r.der, spki, path };
}

function checkKey(p: Problems, der: Uint8Array, path: string, spki: string): void {
  let info: { keyType: string; keySize: number; curve?: string };
  try {
    info = describeCertificate(der);
  } catch {
    return; // the fingerprint was readable; the description is only for advice
  }
  if (info.keyType === "RSA") {
    if (info.keySize < 2048) {
      p.report(
        path,
        "CERTIFICATE_WEAK_KEY",
        `a ${info.keySize}-bit RSA key (sha256:${spki}); use 2048 bits or more`,
      );
    }
  } else if (info.keyType === "EC") {
    const curve = info.curve ?? "";
    const ec = curve === "" ? "an EC key" : `an EC ${curve} key`;
    p.report(
      path,
      "CERTIFICATE_NOT_RSA",
      `${ec} (sha256:${spki}): SPS encrypts only to RSA keys; trailseal also takes EC`,
    );
  } else {
    p.report(
      path,
      "CERTIFICATE_UNSUPPORTED_KEY",
      `an ${info.keyType} key (sha256:${spki}): neither SPS nor trailseal can encrypt to it; use an RSA certificate`,
    );
  }
}
