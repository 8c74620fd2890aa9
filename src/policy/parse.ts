/**
 * Reading policy documents as the SPS REST API returns them: a bare body, a REST object
 * (`key`/`body`/`meta`) or a list response (`items`). Each body is told apart by its shape (an
 * audit policy has `encryption`, `signing`, …; a content policy has `rules`) and read in one walk
 * that checks it and builds its typed form.
 */
import { TrailsealError } from "../errors.js";
import { parseAuditFields, type ParsedAuditPolicy } from "./audit.js";
import { parseContentRules, type ParsedContentPolicy } from "./content.js";
import {
  AUDIT_ONLY_FIELDS,
  FIELDS,
  Problems,
  formatProblems,
  isObject,
  join,
  typeName,
  type JsonObject,
  type PolicyKind,
  type PolicyProblem,
} from "./rules.js";

/** A REST object with no body (as list responses give them): nothing to read. */
export interface PolicyReference {
  readonly kind: "reference";
  readonly key: string | null;
}

/** One policy document: a body or a REST object. */
export type ParsedItem = ParsedAuditPolicy | ParsedContentPolicy | PolicyReference;

/** A list response (`items`), each item read as the document it is. */
export interface ParsedPolicyList {
  readonly kind: "list";
  readonly items: readonly ParsedItem[];
}

export type ParsedPolicy = ParsedItem | ParsedPolicyList;

export interface ParseResult {
  /** The typed document, or null when any problem is an error. */
  policy: ParsedPolicy | null;
  /** Every problem, in document order; warnings and notes do not null the policy. */
  problems: PolicyProblem[];
}

const BODY_FIELDS: readonly string[] = [...FIELDS.audit.body, ...FIELDS.content.body];

/** A body with `rules` and no audit-policy field is a content policy; anything else is audit. */
function policyKindOf(body: unknown): PolicyKind {
  return isObject(body) && "rules" in body && !AUDIT_ONLY_FIELDS.some((f) => f in body)
    ? "content"
    : "audit";
}

/** What kind of JSON document the input is. */
function kindOf(input: JsonObject): "body" | "object" | "list" {
  if ("items" in input && !("name" in input)) return "list";
  if ("body" in input) return "object";
  // A body with a stray `key` is still a body: read as a reference it would pass unchecked.
  if ("key" in input && !BODY_FIELDS.some((f) => f in input)) return "object";
  return "body";
}

/**
 * Reads a policy body at `path`, of the kind its shape says. Returns the typed policy, or null
 * when any error was reported for it (every problem, error or not, is in `p`).
 */
function parseBody(
  p: Problems,
  body: unknown,
  path: string,
  key: string | null,
): ParsedItem | null {
  if (!isObject(body)) {
    p.report(
      path,
      path === "" ? "INPUT_NOT_OBJECT" : "FIELD_TYPE",
      `the policy body must be an object, not ${typeName(body)}`,
    );
    return null;
  }
  const kind = policyKindOf(body);
  const before = p.errorCount;
  p.unknownFields(body, path, FIELDS[kind].body, kind);
  const name = p.name(body["name"], join(path, "name"));
  // The kind's reader reports every problem it finds; one error and there is no typed policy.
  if (kind === "content") {
    const rules = parseContentRules(p, body, path);
    return p.errorCount > before || name === null ? null : { kind, key, name, rules };
  }
  const fields = parseAuditFields(p, body, path);
  return p.errorCount > before || name === null ? null : { kind, key, name, ...fields };
}

function parseObject(p: Problems, obj: JsonObject, path: string): ParsedItem | null {
  if (kindOf(obj) === "body") return parseBody(p, obj, path, null); // e.g. a list of bare bodies
  p.unknownFields(obj, path, FIELDS.object, policyKindOf(obj["body"]));
  const key = typeof obj["key"] === "string" ? obj["key"] : null;
  if (obj["body"] === undefined) {
    p.report(
      path,
      "REFERENCE_ONLY",
      "a reference without a body (nothing to check); GET its meta.href for the policy",
    );
    return { kind: "reference", key };
  }
  return parseBody(p, obj["body"], join(path, "body"), key);
}

function parseList(p: Problems, input: JsonObject): ParsedPolicyList | null {
  p.unknownFields(input, "", FIELDS.list, "audit");
  const items = input["items"];
  if (!Array.isArray(items)) {
    p.report(
      "items",
      "FIELD_TYPE",
      `must be a list of audit-policy objects, not ${typeName(items)}`,
    );
    return null;
  }
  const parsed: ParsedItem[] = [];
  items.forEach((item: unknown, i) => {
    const at = `items[${i}]`;
    if (!isObject(item)) {
      p.report(at, "FIELD_TYPE", `must be an audit-policy object, not ${typeName(item)}`);
      return;
    }
    const one = parseObject(p, item, at);
    if (one !== null) parsed.push(one);
  });
  return { kind: "list", items: parsed };
}

/**
 * Reads a policy document: an audit or content policy as a bare body, a REST object
 * (`key`/`body`/`meta`) or a list response (`items`). Checks it in the same walk that builds
 * its typed form: `policy` is null when any problem is an error. Never throws on bad input.
 * Paths are prefixed `body.` for a REST object and `items[i].body.` for a list.
 *
 * @example
 * const { policy, problems } = parsePolicy(JSON.parse(text));
 * if (policy?.kind === "audit") sealingPlan(policy);
 */
export function parsePolicy(input: unknown): ParseResult {
  const p = new Problems();
  let policy: ParsedPolicy | null = null;
  if (!isObject(input)) {
    p.report("", "INPUT_NOT_OBJECT", `expected an audit-policy object, got ${typeName(input)}`);
  } else {
    const kind = kindOf(input);
    policy =
      kind === "list"
        ? parseList(p, input)
        : kind === "object"
          ? parseObject(p, input, "")
          : parseBody(p, input, "", null);
  }
  return { policy: p.errorCount > 0 ? null : policy, problems: p.list };
}

/**
 * Checks a policy document (see `parsePolicy`) and returns every problem found, an empty list
 * for a clean policy.
 *
 * @example
 * checkPolicy({ name: "my policy", encryption: { enabled: false }, signing: { enabled: false },
 *   timestamping: { enabled: false } })
 * // [{ path: "name", severity: "error", code: "NAME_WHITESPACE", message: "…" }]
 */
export function checkPolicy(input: unknown): PolicyProblem[] {
  return parsePolicy(input).problems;
}

const invalid = (message: string, hint?: string): TrailsealError =>
  new TrailsealError("POLICY_INVALID", message, hint === undefined ? undefined : { hint });

/** One policy (a body or a REST object with its body), or POLICY_INVALID naming every error. */
function readOne(input: unknown): ParsedAuditPolicy | ParsedContentPolicy {
  if (isObject(input) && kindOf(input) === "list") {
    throw invalid(
      "a list response holds several policies; give one policy body or REST object",
      "GET /api/configuration/policies/audit_policies/<key> for one policy",
    );
  }
  const { policy, problems } = parsePolicy(input);
  if (policy === null) {
    throw invalid(formatProblems(problems.filter((p) => p.severity === "error")));
  }
  if (policy.kind === "reference" || policy.kind === "list") {
    throw invalid("the object is a reference without a body; GET its meta.href for the policy");
  }
  return policy;
}

/**
 * Reads one audit policy (a body or a REST object): the typed policy, or `POLICY_INVALID`
 * listing every error as `path: message; …`.
 */
export function readAuditPolicy(input: unknown): ParsedAuditPolicy {
  const policy = readOne(input);
  if (policy.kind === "content") {
    throw invalid(`${policy.name} is a content policy; an audit policy is needed here`);
  }
  return policy;
}

/**
 * Reads one content policy (a body or a REST object): the typed policy with its patterns
 * compiled, or `POLICY_INVALID` listing every error as `path: message; …`.
 */
export function readContentPolicy(input: unknown): ParsedContentPolicy {
  const policy = readOne(input);
  if (policy.kind === "audit") {
    throw invalid(`${policy.name} is an audit policy; a content policy is needed here`);
  }
  return policy;
}

/** How a list item is named in a message: its place, and its REST key when it has one. */
function itemName(items: readonly unknown[], i: number): string {
  const item = items[i];
  const key = isObject(item) && typeof item["key"] === "string" ? item["key"] : null;
  return `items[${i}]${key === null ? "" : ` (key ${JSON.stringify(key)})`}`;
}

/** The item a problem path is in (`items[3].body…` → 3), or null for the list itself. */
function itemOf(path: string): number | null {
  const m = /^items\[(\d+)\]/.exec(path);
  return m === null ? null : Number(m[1]);
}

/**
 * Reads the content policies of a document: the one of a body or REST object, or every item of
 * a list response (`items`, as GET /api/configuration/policies/content_policies returns it), in
 * order, each with its patterns compiled. `POLICY_INVALID` when the list is empty or an item
 * fails its check (each such item named by its index and key, with every error's path as
 * `policy check` reports it), is an audit policy, or is a reference without a body.
 *
 * @example
 * for (const policy of readContentPolicies(JSON.parse(listResponse))) console.log(policy.key, policy.name);
 */
export function readContentPolicies(input: unknown): ParsedContentPolicy[] {
  if (!isObject(input) || kindOf(input) !== "list") return [readContentPolicy(input)];
  const items: readonly unknown[] = Array.isArray(input["items"]) ? input["items"] : [];
  const { policy, problems } = parsePolicy(input);
  if (policy === null || policy.kind !== "list") {
    const byItem = new Map<number | null, PolicyProblem[]>();
    for (const p of problems.filter((q) => q.severity === "error"))
      byItem.set(itemOf(p.path), [...(byItem.get(itemOf(p.path)) ?? []), p]);
    throw invalid(
      [...byItem]
        .map(([i, errors]) => {
          const what = i === null ? "the list" : itemName(items, i);
          return `${what} fails the check: ${formatProblems(errors)}`;
        })
        .join("; "),
    );
  }
  if (policy.items.length === 0)
    throw invalid("the list response has no items: no policy to apply");
  return policy.items.map((item, i) => {
    if (item.kind === "content") return item;
    throw invalid(
      item.kind === "audit"
        ? `${itemName(items, i)} is an audit policy (${item.name}); a content policy is needed here`
        : `${itemName(items, i)} is a reference without a body; GET its meta.href for the policy`,
    );
  });
}
