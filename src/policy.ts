/**
 * SPS audit policies: the object types (8.0 LTS shape and the older 6.10 shape), a checker that
 * reports every problem with its JSON path, a builder for new 8.0 LTS bodies, and the sealing
 * plan the trail writer follows.
 *
 * The shapes come from the SPS REST API reference (`/api/configuration/policies/audit_policies`):
 * 8.0 LTS has a `timestamping` object (`server.selection` local/remote, `server_url`, `oid`) and
 * `signing_and_timestamping_interval`; 6.10 has a boolean `timestamping_enabled`. Disabled blocks
 * collapse to `{"enabled": false}`.
 */
import { TrailsealError } from "./errors.js";
import { checkApiCertificate, describeCertificate, spkiFingerprint, toApiString } from "./pem.js";
import { shownUrl } from "./timestamp/client.js";

// ---------------------------------------------------------------------------------------------
// Types

/** One alternative recipient: any entry of a list can decrypt; a four-eyes entry needs both keys. */
export interface PolicyCertificateEntry {
  /** One certificate in API form: PEM, no metadata, line breaks as `\n`. */
  certificate: string;
  /** A second certificate for joint (four-eyes) encryption, or null. */
  four_eyes_certificate: string | null;
}

export type UpstreamEncryption =
  { enabled: false } | { enabled: true; certificates: PolicyCertificateEntry[] };

export type PolicyEncryption =
  | { enabled: false }
  | {
      enabled: true;
      certificates: PolicyCertificateEntry[];
      different_certificates_for_upstream: UpstreamEncryption;
    };

/** How SPS writes a reference to an X.509 identity stored at `/api/configuration/x509/`. */
export interface X509IdentityReference {
  key: string;
  meta: { href: string };
}

export type PolicySigning =
  | { enabled: false }
  /** GET shows the reference object; a POST or PUT gives the bare key string (buildPolicy). */
  | { enabled: true; x509_identity: X509IdentityReference | string };

export type TimestampOid = { enabled: false } | { enabled: true; policy_oid: string };

export type TimestampServer =
  { selection: "local" } | { selection: "remote"; server_url: string; oid: TimestampOid };

export type PolicyTimestamping = { enabled: false } | { enabled: true; server: TimestampServer };

/** An audit-policy body in the SPS 8.0 LTS shape. */
export interface AuditPolicy {
  name: string;
  encryption: PolicyEncryption;
  signing: PolicySigning;
  timestamping: PolicyTimestamping;
  /** Seconds between signatures and timestamps, 10..100000; SPS's default is 30. */
  signing_and_timestamping_interval: number;
}

/** An audit-policy body in the older SPS 6.10 shape (accepted by `checkPolicy`, never built). */
export interface AuditPolicyV610 {
  name: string;
  encryption: PolicyEncryption;
  signing: PolicySigning;
  timestamping_enabled: boolean;
}

/** A REST object as GET returns it: `key`, `body` and `meta`. */
export interface AuditPolicyObject {
  key: string;
  body: AuditPolicy | AuditPolicyV610;
  meta?: Record<string, unknown>;
}

export type Severity = "error" | "warning" | "note";

export interface PolicyProblem {
  /** JSON path of the offending value, e.g. `body.encryption.certificates[1].four_eyes_certificate`. */
  path: string;
  severity: Severity;
  /** A stable rule code (see POLICY_RULES). */
  code: string;
  message: string;
}

/**
 * Every rule code `checkPolicy` reports, with its severity and what it means. The codes are
 * stable: scripts may switch on them.
 */
export const POLICY_RULES = {
  INPUT_NOT_OBJECT: ["error", "the input is not a JSON object (body, REST object or list)"],
  FIELD_MISSING: ["error", "a required block or `enabled` flag is absent"],
  FIELD_TYPE: ["error", "a value has the wrong JSON type"],
  UNKNOWN_FIELD: ["warning", "a field SPS does not define (ignored)"],
  REFERENCE_ONLY: ["note", "a list item or object with only `key`/`meta`: nothing to check"],
  OLD_SHAPE: ["note", "the 6.10 `timestamping_enabled` shape (8.0 LTS uses `timestamping`)"],
  SHAPE_MIXED: ["error", "both `timestamping_enabled` (6.10) and `timestamping` (8.0 LTS)"],
  NAME_MISSING: ["error", "`name` absent, not a string, or empty"],
  NAME_WHITESPACE: ["error", "`name` contains whitespace"],
  INTERVAL_RANGE: ["error", "`signing_and_timestamping_interval` not an integer 10..100000"],
  ENCRYPTION_NO_CERTIFICATES: ["error", "encryption enabled without any certificate entry"],
  CERTIFICATE_NOT_API_FORM: ["error", "certificate string with metadata or raw line breaks"],
  CERTIFICATE_SEVERAL: ["error", "one certificate string holds several certificates"],
  CERTIFICATE_INVALID: ["error", "certificate string empty, not a certificate, or corrupt"],
  CERTIFICATE_WEAK_KEY: ["warning", "RSA key under 2048 bits"],
  CERTIFICATE_NOT_RSA: ["warning", "not an RSA key: SPS encrypts only to RSA (trailseal takes EC)"],
  CERTIFICATE_UNSUPPORTED_KEY: ["error", "a key type nobody can encrypt to (neither RSA nor EC)"],
  CERTIFICATE_DUPLICATE: ["warning", "the same entry twice in one list"],
  FOUR_EYES_SAME_KEY: ["error", "`four_eyes_certificate` has the same key as `certificate`"],
  UPSTREAM_NO_CERTIFICATES: ["error", "upstream encryption enabled without any entry"],
  KEY_REUSED_UPSTREAM: ["warning", "a key used both downstream and upstream"],
  SIGNING_NO_IDENTITY: ["error", "signing enabled without an `x509_identity` reference"],
  TIMESTAMP_SELECTION: ["error", "timestamping enabled without `server.selection` local|remote"],
  TIMESTAMP_URL: ["error", "remote timestamping without an http(s) `server_url`"],
  TIMESTAMP_LOCAL_OID: ["error", "local timestamping with a policy OID enabled"],
  TIMESTAMP_OID_FORMAT: ["error", "an enabled `policy_oid` that is not a dotted OID"],
} as const satisfies Record<string, readonly [Severity, string]>;

export type PolicyRuleCode = keyof typeof POLICY_RULES;

export const DEFAULT_INTERVAL = 30;
export const MIN_INTERVAL = 10;
export const MAX_INTERVAL = 100_000;

// ---------------------------------------------------------------------------------------------
// Checking

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function join(prefix: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  if (prefix === "") return part.startsWith('"') ? `[${part}]` : part;
  return part.startsWith('"') ? `${prefix}[${part}]` : `${prefix}.${part}`;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
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

class Checker {
  readonly problems: PolicyProblem[] = [];

  report(path: string, code: PolicyRuleCode, message: string): void {
    this.problems.push({ path, severity: POLICY_RULES[code][0], code, message });
  }

  /** Warns about every field of `obj` not in `known`. */
  unknownFields(obj: JsonObject, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const base = key.replace(/\.pem$/, "");
      const hint = base !== key && known.includes(base) ? `; did you mean '${base}'?` : "";
      this.report(join(path, key), "UNKNOWN_FIELD", `'${key}' is not an audit-policy field${hint}`);
    }
  }

  /** The `enabled` flag of a block: true, false, or null when absent or not a boolean. */
  enabled(block: JsonObject, path: string): boolean | null {
    const v = block["enabled"];
    if (v === undefined) {
      this.report(join(path, "enabled"), "FIELD_MISSING", "'enabled' (true or false) is required");
      return null;
    }
    if (typeof v !== "boolean") {
      this.report(join(path, "enabled"), "FIELD_TYPE", `must be true or false, not ${typeName(v)}`);
      return null;
    }
    return v;
  }

  /** A required block: returns it when it is an object, reporting absence or wrong type. */
  block(parent: JsonObject, key: string, path: string): JsonObject | null {
    const v = parent[key];
    const at = join(path, key);
    if (v === undefined) {
      this.report(at, "FIELD_MISSING", `'${key}' is required`);
      return null;
    }
    if (!isObject(v)) {
      this.report(at, "FIELD_TYPE", `must be an object, not ${typeName(v)}`);
      return null;
    }
    return v;
  }

  checkBody(body: unknown, path: string): void {
    if (!isObject(body)) {
      this.report(
        path,
        path === "" ? "INPUT_NOT_OBJECT" : "FIELD_TYPE",
        `the policy body must be an object, not ${typeName(body)}`,
      );
      return;
    }
    this.unknownFields(body, path, [
      "name",
      "encryption",
      "signing",
      "timestamping",
      "timestamping_enabled",
      "signing_and_timestamping_interval",
    ]);
    this.checkName(body["name"], join(path, "name"));
    this.checkInterval(
      body["signing_and_timestamping_interval"],
      join(path, "signing_and_timestamping_interval"),
    );
    const encryption = this.block(body, "encryption", path);
    if (encryption !== null) this.checkEncryption(encryption, join(path, "encryption"));
    const signing = this.block(body, "signing", path);
    if (signing !== null) this.checkSigning(signing, join(path, "signing"));

    const old = body["timestamping_enabled"];
    if (old !== undefined && body["timestamping"] !== undefined) {
      this.report(
        join(path, "timestamping_enabled"),
        "SHAPE_MIXED",
        "give either 'timestamping' (8.0 LTS) or 'timestamping_enabled' (6.10), not both",
      );
    } else if (old !== undefined) {
      if (typeof old !== "boolean") {
        this.report(
          join(path, "timestamping_enabled"),
          "FIELD_TYPE",
          `must be true or false, not ${typeName(old)}`,
        );
      } else {
        this.report(
          join(path, "timestamping_enabled"),
          "OLD_SHAPE",
          `the 6.10 shape: read as ${old ? "local timestamping" : "no timestamping"}; 8.0 LTS writes 'timestamping': {"enabled": ${old}${old ? ', "server": {"selection": "local"}' : ""}}`,
        );
      }
    } else {
      const ts = this.block(body, "timestamping", path);
      if (ts !== null) this.checkTimestamping(ts, join(path, "timestamping"));
    }
  }

  checkName(name: unknown, path: string): void {
    if (typeof name !== "string" || name === "") {
      this.report(
        path,
        "NAME_MISSING",
        name === undefined
          ? "the policy needs a name"
          : name === ""
            ? "the name is empty"
            : `the name must be a non-empty string, not ${typeName(name)}`,
      );
      return;
    }
    if (/\s/.test(name)) {
      this.report(
        path,
        "NAME_WHITESPACE",
        `the name ${JSON.stringify(name)} contains whitespace, which SPS refuses; use '_' or '-'`,
      );
    }
  }

  checkInterval(v: unknown, path: string): void {
    if (v === undefined) return; // SPS's default, 30 seconds
    if (typeof v !== "number" || !Number.isInteger(v) || v < MIN_INTERVAL || v > MAX_INTERVAL) {
      const shown = typeof v === "number" ? String(v) : typeName(v);
      this.report(
        path,
        "INTERVAL_RANGE",
        `must be a whole number of seconds from ${MIN_INTERVAL} to ${MAX_INTERVAL}, not ${shown}`,
      );
    }
  }

  checkEncryption(enc: JsonObject, path: string): void {
    this.unknownFields(enc, path, [
      "enabled",
      "certificates",
      "different_certificates_for_upstream",
    ]);
    if (this.enabled(enc, path) !== true) return;

    const downstream = this.checkEntries(enc["certificates"], join(path, "certificates"));
    const upstreamPath = join(path, "different_certificates_for_upstream");
    const up = this.block(enc, "different_certificates_for_upstream", path);
    let upstream: { count: number; good: GoodEntry[] } | null = null;
    let upstreamEnabled = false;
    if (up !== null) {
      this.unknownFields(up, upstreamPath, ["enabled", "certificates"]);
      upstreamEnabled = this.enabled(up, upstreamPath) === true;
      if (upstreamEnabled) {
        upstream = this.checkEntries(up["certificates"], join(upstreamPath, "certificates"));
        if (upstream.count === 0) {
          this.report(
            join(upstreamPath, "certificates"),
            "UPSTREAM_NO_CERTIFICATES",
            "upstream encryption is enabled but lists no certificate; add one or set enabled to false",
          );
        }
      }
    }
    if (downstream.count === 0 && !upstreamEnabled) {
      this.report(
        join(path, "certificates"),
        "ENCRYPTION_NO_CERTIFICATES",
        "encryption is enabled but lists no certificate (only the upstream-only form may leave it empty, with different_certificates_for_upstream enabled)",
      );
    }
    if (upstream !== null) {
      const seen = new Set<string>();
      for (const e of downstream.good) {
        seen.add(e.certificate.spki);
        if (e.fourEyes !== null) seen.add(e.fourEyes.spki);
      }
      for (const e of upstream.good) {
        for (const c of [e.certificate, e.fourEyes]) {
          if (c !== null && seen.has(c.spki)) {
            this.report(
              c.path,
              "KEY_REUSED_UPSTREAM",
              `key sha256:${c.spki} also encrypts downstream; SPS advises one key, one purpose (the upstream holds typed passwords)`,
            );
          }
        }
      }
    }
  }

  /** Checks a list of entries; returns the count and the entries whose certificates are sound. */
  checkEntries(list: unknown, path: string): { count: number; good: GoodEntry[] } {
    if (list === undefined || list === null) return { count: 0, good: [] };
    if (!Array.isArray(list)) {
      this.report(
        path,
        "FIELD_TYPE",
        `must be a list of {certificate, four_eyes_certificate}, not ${typeName(list)}`,
      );
      return { count: 0, good: [] };
    }
    const good: GoodEntry[] = [];
    const pairs = new Map<string, number>();
    list.forEach((entry: unknown, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(entry)) {
        this.report(
          at,
          "FIELD_TYPE",
          `must be an object {certificate, four_eyes_certificate}, not ${typeName(entry)}`,
        );
        return;
      }
      this.unknownFields(entry, at, ["certificate", "four_eyes_certificate"]);
      const cert = this.checkCertificate(entry["certificate"], join(at, "certificate"), false);
      const fe = entry["four_eyes_certificate"];
      const fourEyes =
        fe === null || fe === undefined
          ? null
          : this.checkCertificate(fe, join(at, "four_eyes_certificate"), true);
      if (cert === null || (fourEyes === null && fe !== null && fe !== undefined)) return;
      if (fourEyes !== null && fourEyes.spki === cert.spki) {
        this.report(
          fourEyes.path,
          "FOUR_EYES_SAME_KEY",
          `the four-eyes certificate has the same key (sha256:${cert.spki}) as the certificate, so one person could decrypt alone; use the second person's certificate or null`,
        );
        return;
      }
      const pair = `${cert.spki}/${fourEyes?.spki ?? ""}`;
      const earlier = pairs.get(pair);
      if (earlier !== undefined) {
        this.report(
          at,
          "CERTIFICATE_DUPLICATE",
          `the same entry as ${path}[${earlier}]; one is enough`,
        );
      } else {
        pairs.set(pair, i);
      }
      good.push({ certificate: cert, fourEyes });
    });
    return { count: list.length, good };
  }

  checkCertificate(value: unknown, path: string, fourEyes: boolean): GoodCertificate | null {
    const r = checkApiCertificate(value);
    if (!r.ok) {
      const what = fourEyes ? "four_eyes_certificate" : "certificate";
      switch (r.reason) {
        case "metadata":
        case "raw-line-breaks":
          this.report(
            path,
            "CERTIFICATE_NOT_API_FORM",
            `${r.message}; the API wants the bare PEM with \\n line breaks: run 'trailseal pem --api FILE'`,
          );
          break;
        case "several":
          this.report(
            path,
            "CERTIFICATE_SEVERAL",
            `${r.message}; ${fourEyes ? "four_eyes_certificate holds the second person's certificate only" : "put each certificate in a list entry of its own"}`,
          );
          break;
        case "not-a-string":
          this.report(
            path,
            "CERTIFICATE_INVALID",
            value === undefined
              ? `'${what}' is required`
              : `${r.message}${fourEyes ? "; use null for no four-eyes certificate" : ""}`,
          );
          break;
        default:
          this.report(path, "CERTIFICATE_INVALID", r.message);
      }
      return null;
    }
    let spki: string;
    try {
      spki = spkiFingerprint(r.der);
    } catch (e) {
      this.report(
        path,
        "CERTIFICATE_INVALID",
        `cannot read the public key: ${e instanceof Error ? e.message : String(e)}`,
      );
      return null;
    }
    this.checkKey(r.der, path, spki);
    return { der: r.der, spki, path };
  }

  checkKey(der: Uint8Array, path: string, spki: string): void {
    let info: { keyType: string; keySize: number; curve?: string };
    try {
      info = describeCertificate(der);
    } catch {
      return; // the fingerprint was readable; the description is only for advice
    }
    if (info.keyType === "RSA") {
      if (info.keySize < 2048) {
        this.report(
          path,
          "CERTIFICATE_WEAK_KEY",
          `a ${info.keySize}-bit RSA key (sha256:${spki}); use 2048 bits or more`,
        );
      }
    } else if (info.keyType === "EC") {
      this.report(
        path,
        "CERTIFICATE_NOT_RSA",
        `an EC ${info.curve ?? ""} key (sha256:${spki}): SPS encrypts only to RSA keys; trailseal also takes EC`.replace(
          "EC  key",
          "EC key",
        ),
      );
    } else {
      this.report(
        path,
        "CERTIFICATE_UNSUPPORTED_KEY",
        `an ${info.keyType} key (sha256:${spki}): neither SPS nor trailseal can encrypt to it; use an RSA certificate`,
      );
    }
  }

  checkSigning(signing: JsonObject, path: string): void {
    this.unknownFields(signing, path, ["enabled", "x509_identity"]);
    if (this.enabled(signing, path) !== true) return;
    const at = join(path, "x509_identity");
    const id = signing["x509_identity"];
    if (isObject(id)) {
      this.unknownFields(id, at, ["key", "meta"]);
      if (typeof id["key"] !== "string" || id["key"].trim() === "") {
        this.report(
          join(at, "key"),
          "SIGNING_NO_IDENTITY",
          "the x509 identity reference needs its 'key'",
        );
      }
      return;
    }
    if (typeof id !== "string" || id.trim() === "") {
      this.report(
        at,
        "SIGNING_NO_IDENTITY",
        "signing is enabled but names no x509 identity; give the key of a certificate stored at /api/configuration/x509/",
      );
    }
  }

  checkTimestamping(ts: JsonObject, path: string): void {
    this.unknownFields(ts, path, ["enabled", "server"]);
    if (this.enabled(ts, path) !== true) return;
    const serverPath = join(path, "server");
    const server = ts["server"];
    if (!isObject(server)) {
      this.report(
        serverPath,
        "TIMESTAMP_SELECTION",
        'timestamping is enabled but has no server; give {"selection": "local"} or a remote server_url',
      );
      return;
    }
    this.unknownFields(server, serverPath, ["selection", "server_url", "oid"]);
    const selection = server["selection"];
    if (selection !== "local" && selection !== "remote") {
      this.report(
        join(serverPath, "selection"),
        "TIMESTAMP_SELECTION",
        `must be "local" or "remote", not ${typeof selection === "string" ? JSON.stringify(selection) : typeName(selection)}`,
      );
      return;
    }
    if (selection === "remote") {
      const url = server["server_url"];
      if (!isHttpUrl(url)) {
        this.report(
          join(serverPath, "server_url"),
          "TIMESTAMP_URL",
          url === undefined || url === null || url === ""
            ? "remote timestamping needs the http(s) URL of an RFC 3161 server"
            : `must be an http or https URL, not ${typeof url === "string" ? JSON.stringify(shownUrl(url)) : typeName(url)}`,
        );
      }
    }
    const oidPath = join(serverPath, "oid");
    const oid = server["oid"];
    if (oid === undefined || oid === null) return;
    if (!isObject(oid)) {
      this.report(
        oidPath,
        "FIELD_TYPE",
        `must be an object {enabled, policy_oid}, not ${typeName(oid)}`,
      );
      return;
    }
    this.unknownFields(oid, oidPath, ["enabled", "policy_oid"]);
    if (this.enabled(oid, oidPath) !== true) return;
    if (selection === "local") {
      this.report(
        join(oidPath, "enabled"),
        "TIMESTAMP_LOCAL_OID",
        "the local timestamping service takes no policy OID; set oid.enabled to false or use a remote server",
      );
      return;
    }
    const policyOid = oid["policy_oid"];
    if (typeof policyOid !== "string" || !isDottedOid(policyOid)) {
      this.report(
        join(oidPath, "policy_oid"),
        "TIMESTAMP_OID_FORMAT",
        `must be a dotted object identifier such as 1.3.6.1.4.1.99999.1, not ${typeof policyOid === "string" ? JSON.stringify(policyOid) : typeName(policyOid)}`,
      );
    }
  }
}

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== "string") return false;
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** A dotted OID per X.680 §32: first arc 0..2, second arc under 40 unless the first is 2. */
export function isDottedOid(s: string): boolean {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(s)) return false;
  const [first, second] = s.split(".").map(Number);
  return first === 2 || (second !== undefined && second < 40);
}

/** What kind of JSON document the input is. */
type InputKind = "body" | "object" | "list";

/** The fields of a body; a REST object or reference has none of them at its top. */
const BODY_FIELDS = [
  "name",
  "encryption",
  "signing",
  "timestamping",
  "timestamping_enabled",
  "signing_and_timestamping_interval",
];

function kindOf(input: JsonObject): InputKind {
  if ("items" in input && !("name" in input)) return "list";
  if ("body" in input) return "object";
  // A body with a stray `key` is still a body: read as a reference it would pass unchecked.
  if ("key" in input && !BODY_FIELDS.some((f) => f in input)) return "object";
  return "body";
}

function checkObject(c: Checker, obj: JsonObject, path: string): void {
  if (kindOf(obj) === "body") {
    c.checkBody(obj, path); // a list of bare bodies: check each as the body it is
    return;
  }
  c.unknownFields(obj, path, ["key", "body", "meta"]);
  if (obj["body"] === undefined) {
    c.report(
      path,
      "REFERENCE_ONLY",
      "a reference without a body (nothing to check); GET its meta.href for the policy",
    );
    return;
  }
  c.checkBody(obj["body"], join(path, "body"));
}

/**
 * Checks an audit policy: a bare body, a REST object (`key`/`body`/`meta`) or a list response
 * (`items`). Returns every problem found (an empty list for a clean policy); never throws on
 * bad input. Paths are prefixed `body.` for a REST object and `items[i].body.` for a list.
 *
 * @example
 * checkPolicy({ name: "my policy", encryption: { enabled: false }, signing: { enabled: false },
 *   timestamping: { enabled: false } })
 * // [{ path: "name", severity: "error", code: "NAME_WHITESPACE", message: "…" }]
 */
export function checkPolicy(input: unknown): PolicyProblem[] {
  const c = new Checker();
  if (!isObject(input)) {
    c.report("", "INPUT_NOT_OBJECT", `expected an audit-policy object, got ${typeName(input)}`);
    return c.problems;
  }
  switch (kindOf(input)) {
    case "list": {
      c.unknownFields(input, "", ["items", "meta"]);
      const items = input["items"];
      if (!Array.isArray(items)) {
        c.report(
          "items",
          "FIELD_TYPE",
          `must be a list of audit-policy objects, not ${typeName(items)}`,
        );
        break;
      }
      items.forEach((item: unknown, i) => {
        const at = `items[${i}]`;
        if (!isObject(item))
          c.report(at, "FIELD_TYPE", `must be an audit-policy object, not ${typeName(item)}`);
        else checkObject(c, item, at);
      });
      break;
    }
    case "object":
      checkObject(c, input, "");
      break;
    case "body":
      c.checkBody(input, "");
  }
  return c.problems;
}

/** Joins problems as `path: message; …` (for one-line error messages). */
export function formatProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => (p.path === "" ? p.message : `${p.path}: ${p.message}`)).join("; ");
}

// ---------------------------------------------------------------------------------------------
// Building

export interface RecipientEntry {
  /** DER of the certificate. */
  certificate: Uint8Array;
  /** DER of the four-eyes certificate, or null. */
  fourEyes: Uint8Array | null;
}

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
  const encrypt = apiEntries(options.encrypt);
  const upstream = apiEntries(options.upstream);
  const encryption: PolicyEncryption =
    encrypt.length === 0 && upstream.length === 0
      ? { enabled: false }
      : {
          certificates: encrypt,
          different_certificates_for_upstream:
            upstream.length === 0 ? { enabled: false } : { certificates: upstream, enabled: true },
          enabled: true,
        };

  let signing: PolicySigning = { enabled: false };
  if (options.signIdentity !== undefined) {
    // GET shows the identity as {key, meta: {href}}; to add or modify, the 8.0 LTS page says:
    // "use the value of the returned key as the value of the x509_identity element, and remove
    // any child elements (including the key)". A body to POST carries the bare key.
    signing = { enabled: true, x509_identity: identityKey(options.signIdentity) };
  }

  let timestamping: PolicyTimestamping = { enabled: false };
  if (
    options.policyOid !== undefined &&
    (options.timestamp === undefined || options.timestamp === "local")
  ) {
    throw new TrailsealError(
      "POLICY_INVALID",
      "a policy OID needs a remote timestamp server (--timestamp URL)",
      {
        hint: "the local timestamping service takes no policy OID",
      },
    );
  }
  if (options.timestamp === "local") {
    timestamping = { enabled: true, server: { selection: "local" } };
  } else if (options.timestamp !== undefined) {
    const oid: TimestampOid =
      options.policyOid === undefined
        ? { enabled: false }
        : { enabled: true, policy_oid: options.policyOid };
    timestamping = {
      enabled: true,
      server: { oid, selection: "remote", server_url: options.timestamp },
    };
  }

  const policy: AuditPolicy = {
    encryption,
    name: options.name,
    signing,
    signing_and_timestamping_interval: options.interval ?? DEFAULT_INTERVAL,
    timestamping,
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

// ---------------------------------------------------------------------------------------------
// The sealing plan

export interface SealingPlan {
  name: string;
  /** Downstream recipients; null = clear. */
  downstream: RecipientEntry[] | null;
  /** Upstream recipients; null = clear. */
  upstream: RecipientEntry[] | null;
  signing: { x509Identity: string } | null;
  timestamping:
    null | { selection: "local" } | { selection: "remote"; url: string; policyOid: string | null };
  /** Seconds between checkpoints. */
  interval: number;
}

function recipientsOf(list: unknown): RecipientEntry[] {
  if (!Array.isArray(list)) return [];
  return list.map((entry: unknown) => {
    const e = entry as JsonObject;
    return {
      certificate: derOf(e["certificate"]),
      fourEyes: e["four_eyes_certificate"] == null ? null : derOf(e["four_eyes_certificate"]),
    };
  });
}

function derOf(value: unknown): Uint8Array {
  const r = checkApiCertificate(value);
  if (!r.ok) throw new TrailsealError("POLICY_INVALID", r.message); // checkPolicy has passed: unreachable
  return r.der;
}

/**
 * What a trail written under this policy must do: who can read each channel, who signs, who
 * timestamps and how often. Accepts a body or a single REST object; throws `POLICY_INVALID`
 * listing every error (`path: message; …`) when `checkPolicy` finds any.
 */
export function sealingPlan(input: unknown): SealingPlan {
  if (isObject(input) && kindOf(input) === "list") {
    throw new TrailsealError(
      "POLICY_INVALID",
      "a list response holds several policies; give one policy body or REST object",
      {
        hint: "GET /api/configuration/policies/audit_policies/<key> for one policy",
      },
    );
  }
  const errors = checkPolicy(input).filter((p) => p.severity === "error");
  if (errors.length > 0)
    throw new TrailsealError("POLICY_INVALID", formatProblems(errors), {
      hint: "run 'trailseal policy check' for details",
    });
  const root = input as JsonObject;
  if (kindOf(root) === "object" && root["body"] === undefined) {
    throw new TrailsealError(
      "POLICY_INVALID",
      "the object is a reference without a body; GET its meta.href for the policy",
    );
  }
  const body = (kindOf(root) === "object" ? root["body"] : root) as JsonObject;

  const enc = body["encryption"] as JsonObject;
  let downstream: RecipientEntry[] | null = null;
  let upstream: RecipientEntry[] | null = null;
  if (enc["enabled"] === true) {
    const down = recipientsOf(enc["certificates"]);
    const up = enc["different_certificates_for_upstream"] as JsonObject;
    downstream = down.length === 0 ? null : down;
    upstream = up["enabled"] === true ? recipientsOf(up["certificates"]) : down;
  }

  const sign = body["signing"] as JsonObject;
  let signing: SealingPlan["signing"] = null;
  if (sign["enabled"] === true) {
    const id = sign["x509_identity"];
    signing = { x509Identity: isObject(id) ? (id["key"] as string) : (id as string) };
  }

  let timestamping: SealingPlan["timestamping"] = null;
  if (body["timestamping_enabled"] === true) {
    timestamping = { selection: "local" };
  } else if (isObject(body["timestamping"]) && body["timestamping"]["enabled"] === true) {
    const server = body["timestamping"]["server"] as JsonObject;
    if (server["selection"] === "local") {
      timestamping = { selection: "local" };
    } else {
      const oid = server["oid"];
      timestamping = {
        selection: "remote",
        url: server["server_url"] as string,
        policyOid: isObject(oid) && oid["enabled"] === true ? (oid["policy_oid"] as string) : null,
      };
    }
  }

  const interval = body["signing_and_timestamping_interval"];
  return {
    name: body["name"] as string,
    downstream,
    upstream,
    signing,
    timestamping,
    interval: typeof interval === "number" ? interval : DEFAULT_INTERVAL,
  };
}
