/**
 * What every policy reader shares: the rule codes with their severities, the one table of the
 * fields SPS defines, and the `Problems` list that the readers report into with JSON paths.
 */

export type Severity = "error" | "warning" | "note";

/**
 * Every rule code `parsePolicy` reports, with its severity and what it means. The codes are
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
  // content policies
  RULES_EMPTY: ["warning", "a content policy with no rule (it matches nothing)"],
  SELECTION_INVALID: [
    "error",
    "`event.selection` not command, screen_content, creditcard or window_title",
  ],
  MATCH_EMPTY: ["error", "`event.match` absent or empty (creditcard alone may leave it empty)"],
  PATTERN_QUOTE_UNESCAPED: ["error", "a `'` in a pattern without the backslash SPS requires"],
  PATTERN_INVALID: ["error", "a pattern that does not compile"],
  PATTERN_UNSUPPORTED: ["error", "a PCRE construct a linear-time engine cannot run"],
} as const satisfies Record<string, readonly [Severity, string]>;

export type PolicyRuleCode = keyof typeof POLICY_RULES;

/** The codes only content policies report (the rest are shared or audit-policy rules). */
export const CONTENT_RULE_CODES = [
  "RULES_EMPTY",
  "SELECTION_INVALID",
  "MATCH_EMPTY",
  "PATTERN_QUOTE_UNESCAPED",
  "PATTERN_INVALID",
  "PATTERN_UNSUPPORTED",
] as const satisfies readonly PolicyRuleCode[];

export interface PolicyProblem {
  /** JSON path of the offending value, e.g. `body.encryption.certificates[1].four_eyes_certificate`. */
  path: string;
  severity: Severity;
  /** A stable rule code (see POLICY_RULES). */
  code: PolicyRuleCode;
  message: string;
}

export const DEFAULT_INTERVAL = 30;
export const MIN_INTERVAL = 10;
export const MAX_INTERVAL = 100_000;

/**
 * The one table of the fields SPS defines, per block: the readers take their field names from
 * here, the unknown-field warning and the shape detection too.
 */
export const FIELDS = {
  audit: {
    body: [
      "name",
      "encryption",
      "signing",
      "timestamping",
      "timestamping_enabled",
      "signing_and_timestamping_interval",
    ],
    encryption: ["enabled", "certificates", "different_certificates_for_upstream"],
    upstream: ["enabled", "certificates"],
    entry: ["certificate", "four_eyes_certificate"],
    signing: ["enabled", "x509_identity"],
    identity: ["key", "meta"],
    timestamping: ["enabled", "server"],
    server: ["selection", "server_url", "oid"],
    oid: ["enabled", "policy_oid"],
  },
  content: {
    body: ["name", "rules"],
    rule: ["actions", "event", "gateway_groups", "remote_groups"],
    actions: ["log", "notify", "store_in_connection_database", "terminate"],
    event: ["selection", "match", "ignore"],
  },
  object: ["key", "body", "meta"],
  list: ["items", "meta"],
} as const;

/** The fields an audit-policy body has and a content-policy body has not. */
export const AUDIT_ONLY_FIELDS: readonly string[] = FIELDS.audit.body.filter((f) => f !== "name");

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A child's JSON path: `a.b`, or `a["odd key"]` for keys that are not identifiers. */
export function join(prefix: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  if (prefix === "") return part.startsWith('"') ? `[${part}]` : part;
  return part.startsWith('"') ? `${prefix}[${part}]` : `${prefix}.${part}`;
}

export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

/** A value for a message: a string quoted, anything else by its type. */
export function shown(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : typeName(v);
}

/** Which kind of policy a body is, for the unknown-field message. */
export type PolicyKind = "audit" | "content";

/** The problems found so far, in document order, and the helpers that report them. */
export class Problems {
  readonly list: PolicyProblem[] = [];
  private errors = 0;

  report(path: string, code: PolicyRuleCode, message: string): void {
    const severity = POLICY_RULES[code][0];
    if (severity === "error") this.errors++;
    this.list.push({ path, severity, code, message });
  }

  /** How many errors have been reported: a reader compares it before and after a block. */
  get errorCount(): number {
    return this.errors;
  }

  /** Warns about every field of `obj` not in `known`. */
  unknownFields(obj: JsonObject, path: string, known: readonly string[], kind: PolicyKind): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const base = key.replace(/\.pem$/, "");
      const hint = base !== key && known.includes(base) ? `; did you mean '${base}'?` : "";
      this.report(
        join(path, key),
        "UNKNOWN_FIELD",
        `'${key}' is not ${kind === "audit" ? "an audit" : "a content"}-policy field${hint}`,
      );
    }
  }

  /** A boolean field: its value, or null when absent or not a boolean (reported). */
  flag(block: JsonObject, key: string, path: string): boolean | null {
    const v = block[key];
    if (v === undefined) {
      this.report(join(path, key), "FIELD_MISSING", `'${key}' (true or false) is required`);
      return null;
    }
    if (typeof v !== "boolean") {
      this.report(join(path, key), "FIELD_TYPE", `must be true or false, not ${typeName(v)}`);
      return null;
    }
    return v;
  }

  /** `v` when it is an object; else reports FIELD_TYPE ("must be an object {shape}, not …"). */
  object(v: unknown, path: string, shape: string): JsonObject | null {
    if (isObject(v)) return v;
    this.report(path, "FIELD_TYPE", `must be an object ${shape}, not ${typeName(v)}`);
    return null;
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

  /** The policy name: a non-empty string without whitespace (SPS refuses whitespace). */
  name(name: unknown, path: string): string | null {
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
      return null;
    }
    if (/\s/.test(name)) {
      this.report(
        path,
        "NAME_WHITESPACE",
        `the name ${JSON.stringify(name)} contains whitespace, which SPS refuses; use '_' or '-'`,
      );
      return null;
    }
    return name;
  }
}

/** Joins problems as `path: message; …` (for one-line error messages). */
export function formatProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => (p.path === "" ? p.message : `${p.path}: ${p.message}`)).join("; ");
}
