/**
 * SPS audit policies (`/api/configuration/policies/audit_policies`): the object types in the
 * 8.0 LTS shape and the older 6.10 shape, and the reader that checks a body and builds the
 * `ParsedAuditPolicy` in one walk.
 *
 * 8.0 LTS has a `timestamping` object (`server.selection` local/remote, `server_url`, `oid`) and
 * `signing_and_timestamping_interval`; 6.10 has a boolean `timestamping_enabled`. Disabled blocks
 * collapse to `{"enabled": false}`.
 */
import { shownUrl } from "../timestamp/client.js";
import { parseEncryption, type ChannelRecipients } from "./encryption.js";
import {
  DEFAULT_INTERVAL,
  FIELDS,
  MAX_INTERVAL,
  MIN_INTERVAL,
  Problems,
  isObject,
  join,
  shown,
  typeName,
  type JsonObject,
} from "./rules.js";

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

/** An audit-policy body in the older SPS 6.10 shape (accepted by `parsePolicy`, never built). */
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

/** Who timestamps: null = nobody; the 6.10 `timestamping_enabled: true` means local. */
export type ParsedTimestamping =
  null | { selection: "local" } | { selection: "remote"; url: string; policyOid: string | null };

/** An audit policy that passed every check, typed: what the trail writer follows. */
export interface ParsedAuditPolicy {
  readonly kind: "audit";
  /** The REST object's key, or null for a bare body. */
  readonly key: string | null;
  /** Which SPS shape it was written in. */
  readonly shape: "8.0" | "6.10";
  readonly name: string;
  /** The recipients of each channel (null = clear). */
  readonly encryption: ChannelRecipients;
  /** The key of the x509 identity that signs, or null = not signed. */
  readonly signing: { x509Identity: string } | null;
  readonly timestamping: ParsedTimestamping;
  /** Seconds between checkpoints. */
  readonly interval: number;
}

const F = FIELDS.audit;

/** What an audit-policy body holds besides its name. */
export type AuditFields = Omit<ParsedAuditPolicy, "kind" | "key" | "name">;

/**
 * Reads the fields of an audit-policy body at `path` (parse.ts reads its name and unknown
 * fields); every problem goes to `p`, and what it returns is typed only if none is an error.
 */
export function parseAuditFields(p: Problems, body: JsonObject, path: string): AuditFields {
  const interval = parseInterval(p, body["signing_and_timestamping_interval"], path);
  const enc = p.block(body, "encryption", path);
  const encryption: ChannelRecipients =
    enc === null
      ? { downstream: null, upstream: null }
      : parseEncryption(p, enc, join(path, "encryption"));
  const sign = p.block(body, "signing", path);
  const signing = sign === null ? null : parseSigning(p, sign, join(path, "signing"));
  const shape = body["timestamping_enabled"] === undefined ? "8.0" : "6.10";
  const timestamping =
    shape === "8.0" ? parseTimestamping(p, body, path) : parseOldShape(p, body, path);
  return { shape, encryption, signing, timestamping, interval };
}

function parseInterval(p: Problems, v: unknown, bodyPath: string): number {
  if (v === undefined) return DEFAULT_INTERVAL; // SPS's default, 30 seconds
  if (typeof v !== "number" || !Number.isInteger(v) || v < MIN_INTERVAL || v > MAX_INTERVAL) {
    p.report(
      join(bodyPath, "signing_and_timestamping_interval"),
      "INTERVAL_RANGE",
      `must be a whole number of seconds from ${MIN_INTERVAL} to ${MAX_INTERVAL}, not ${typeof v === "number" ? String(v) : typeName(v)}`,
    );
    return DEFAULT_INTERVAL;
  }
  return v;
}

/** The 6.10 shape: `timestamping_enabled` true means the local service. */
function parseOldShape(p: Problems, body: JsonObject, path: string): ParsedTimestamping {
  const at = join(path, "timestamping_enabled");
  const old = body["timestamping_enabled"];
  if (body["timestamping"] !== undefined) {
    p.report(
      at,
      "SHAPE_MIXED",
      "give either 'timestamping' (8.0 LTS) or 'timestamping_enabled' (6.10), not both",
    );
    return null;
  }
  if (typeof old !== "boolean") {
    p.report(at, "FIELD_TYPE", `must be true or false, not ${typeName(old)}`);
    return null;
  }
  p.report(
    at,
    "OLD_SHAPE",
    `the 6.10 shape: read as ${old ? "local timestamping" : "no timestamping"}; 8.0 LTS writes 'timestamping': {"enabled": ${old}${old ? ', "server": {"selection": "local"}' : ""}}`,
  );
  return old ? { selection: "local" } : null;
}

function parseSigning(
  p: Problems,
  signing: JsonObject,
  path: string,
): { x509Identity: string } | null {
  p.unknownFields(signing, path, F.signing, "audit");
  if (p.flag(signing, "enabled", path) !== true) return null;
  const at = join(path, "x509_identity");
  const id = signing["x509_identity"];
  if (isObject(id)) {
    p.unknownFields(id, at, F.identity, "audit");
    const key = id["key"];
    if (typeof key !== "string" || key.trim() === "") {
      p.report(
        join(at, "key"),
        "SIGNING_NO_IDENTITY",
        "the x509 identity reference needs its 'key'",
      );
      return null;
    }
    return { x509Identity: key };
  }
  if (typeof id !== "string" || id.trim() === "") {
    p.report(
      at,
      "SIGNING_NO_IDENTITY",
      "signing is enabled but names no x509 identity; give the key of a certificate stored at /api/configuration/x509/",
    );
    return null;
  }
  return { x509Identity: id };
}

function parseTimestamping(p: Problems, body: JsonObject, bodyPath: string): ParsedTimestamping {
  const ts = p.block(body, "timestamping", bodyPath);
  if (ts === null) return null;
  const path = join(bodyPath, "timestamping");
  p.unknownFields(ts, path, F.timestamping, "audit");
  if (p.flag(ts, "enabled", path) !== true) return null;
  const serverPath = join(path, "server");
  const server = ts["server"];
  if (!isObject(server)) {
    p.report(
      serverPath,
      "TIMESTAMP_SELECTION",
      'timestamping is enabled but has no server; give {"selection": "local"} or a remote server_url',
    );
    return null;
  }
  p.unknownFields(server, serverPath, F.server, "audit");
  const selection = server["selection"];
  if (selection !== "local" && selection !== "remote") {
    p.report(
      join(serverPath, "selection"),
      "TIMESTAMP_SELECTION",
      `must be "local" or "remote", not ${shown(selection)}`,
    );
    return null;
  }
  const url = selection === "remote" ? parseServerUrl(p, server["server_url"], serverPath) : "";
  const policyOid = parseOid(p, server["oid"], join(serverPath, "oid"), selection);
  return selection === "local" ? { selection } : { selection, url, policyOid };
}

function parseServerUrl(p: Problems, url: unknown, serverPath: string): string {
  if (isHttpUrl(url)) return url;
  p.report(
    join(serverPath, "server_url"),
    "TIMESTAMP_URL",
    url === undefined || url === null || url === ""
      ? "remote timestamping needs the http(s) URL of an RFC 3161 server"
      : `must be an http or https URL, not ${typeof url === "string" ? JSON.stringify(shownUrl(url)) : typeName(url)}`,
  );
  return "";
}

/** The TSA policy OID (`reqPolicy`, RFC 3161 §2.4.1), or null when none is enabled. */
function parseOid(
  p: Problems,
  oid: unknown,
  oidPath: string,
  selection: "local" | "remote",
): string | null {
  if (oid === undefined || oid === null) return null;
  const block = p.object(oid, oidPath, "{enabled, policy_oid}");
  if (block === null) return null;
  p.unknownFields(block, oidPath, F.oid, "audit");
  if (p.flag(block, "enabled", oidPath) !== true) return null;
  if (selection === "local") {
    p.report(
      join(oidPath, "enabled"),
      "TIMESTAMP_LOCAL_OID",
      "the local timestamping service takes no policy OID; set oid.enabled to false or use a remote server",
    );
    return null;
  }
  const policyOid = block["policy_oid"];
  if (typeof policyOid !== "string" || !isDottedOid(policyOid)) {
    p.report(
      join(oidPath, "policy_oid"),
      "TIMESTAMP_OID_FORMAT",
      `must be a dotted object identifier such as 1.3.6.1.4.1.99999.1, not ${shown(policyOid)}`,
    );
    return null;
  }
  return policyOid;
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
