/**
 * SPS content policies (`/api/configuration/policies/content_policies`, "Real-time content
 * monitoring with Content Policies" in the 6.10 REST reference): the object types as SPS writes
 * them, and the reader that checks a body and compiles its patterns in one walk.
 *
 * A rule says what to look for (`event.selection`: typed commands, screen text, card numbers,
 * window titles), the PCRE patterns that match (`event.match`) and those that excuse a match
 * (`event.ignore`), the actions SPS takes, and the user groups it applies to.
 */
import { isTrailsealError } from "../errors.js";
import { compilePattern, scanPattern, type Pattern } from "../scan/pattern.js";
import { FIELDS, Problems, join, shown, typeName, type JsonObject } from "./rules.js";

/** What a rule looks at. */
export const CONTENT_SELECTIONS = [
  "command",
  "screen_content",
  "creditcard",
  "window_title",
] as const;
export type ContentSelection = (typeof CONTENT_SELECTIONS)[number];

/** The actions SPS takes when a rule matches (each a boolean). */
export interface ContentActions {
  log: boolean;
  notify: boolean;
  store_in_connection_database: boolean;
  terminate: boolean;
}

/** One rule of a content-policy body, as SPS writes it. */
export interface ContentPolicyRule {
  actions: ContentActions;
  event: { selection: ContentSelection; match: string[]; ignore: string[] };
  gateway_groups: string[];
  remote_groups: string[];
}

/** A content-policy body as SPS writes it. */
export interface ContentPolicy {
  name: string;
  rules: ContentPolicyRule[];
}

/** A content-policy REST object as GET returns it. */
export interface ContentPolicyObject {
  key: string;
  body: ContentPolicy;
  meta?: Record<string, unknown>;
}

/** A rule that passed every check, its patterns compiled. */
export interface ParsedContentRule {
  /** The rule's place in `rules`, from 0. */
  readonly index: number;
  readonly selection: ContentSelection;
  /** Tried in order; the first that finds wins (SPS: "start with the most specific one"). */
  readonly match: readonly Pattern[];
  /** A match is no hit when one of these also finds in the same text. */
  readonly ignore: readonly Pattern[];
  readonly actions: ContentActions;
  /** Empty = every user; else only users of these groups (gateway or remote). */
  readonly gatewayGroups: readonly string[];
  readonly remoteGroups: readonly string[];
}

/** A content policy that passed every check. */
export interface ParsedContentPolicy {
  readonly kind: "content";
  readonly key: string | null;
  readonly name: string;
  readonly rules: readonly ParsedContentRule[];
}

const F = FIELDS.content;
const RULE_SHAPE = "{actions, event, gateway_groups, remote_groups}";

/**
 * Reads the rules of a content-policy body at `path` (parse.ts reads its name and unknown
 * fields); every problem goes to `p`, and the rules are typed only if none is an error.
 */
export function parseContentRules(
  p: Problems,
  body: JsonObject,
  path: string,
): ParsedContentRule[] {
  const at = join(path, "rules");
  const list = body["rules"];
  const rules: ParsedContentRule[] = [];
  if (!Array.isArray(list)) {
    p.report(at, "FIELD_TYPE", `must be a list of rules ${RULE_SHAPE}, not ${typeName(list)}`);
  } else if (list.length === 0) {
    p.report(at, "RULES_EMPTY", "the policy has no rule, so it matches nothing");
  } else {
    list.forEach((rule: unknown, i) => {
      const parsed = parseRule(p, rule, `${at}[${i}]`, i);
      if (parsed !== null) rules.push(parsed);
    });
  }
  return rules;
}

function parseRule(
  p: Problems,
  value: unknown,
  at: string,
  index: number,
): ParsedContentRule | null {
  const rule = p.object(value, at, RULE_SHAPE);
  if (rule === null) return null;
  p.unknownFields(rule, at, F.rule, "content");
  const actions = parseActions(p, rule, at);
  const event = parseEvent(p, rule, at);
  const groups = "group names";
  const gatewayGroups = parseStrings(p, rule["gateway_groups"], join(at, "gateway_groups"), groups);
  const remoteGroups = parseStrings(p, rule["remote_groups"], join(at, "remote_groups"), groups);
  if (actions === null || event === null || gatewayGroups === null || remoteGroups === null) {
    return null;
  }
  return { index, ...event, actions, gatewayGroups, remoteGroups };
}

type ParsedEvent = Pick<ParsedContentRule, "selection" | "match" | "ignore">;

function parseEvent(p: Problems, rule: JsonObject, at: string): ParsedEvent | null {
  const event = p.block(rule, "event", at);
  if (event === null) return null;
  const path = join(at, "event");
  p.unknownFields(event, path, F.event, "content");
  const selection = parseSelection(p, event["selection"], join(path, "selection"));
  const match = parsePatterns(p, event["match"], join(path, "match"));
  const ignore = parsePatterns(p, event["ignore"], join(path, "ignore"));
  if (match !== null && match.length === 0 && selection !== "creditcard") {
    p.report(
      join(path, "match"),
      "MATCH_EMPTY",
      `${selection === null ? "a" : `a ${selection}`} rule needs at least one pattern to match`,
    );
    return null;
  }
  if (selection === null || match === null || ignore === null) return null;
  return { selection, match, ignore };
}

function parseActions(p: Problems, rule: JsonObject, at: string): ContentActions | null {
  const block = p.block(rule, "actions", at);
  if (block === null) return null;
  const path = join(at, "actions");
  p.unknownFields(block, path, F.actions, "content");
  const [log, notify, store, terminate] = F.actions.map((k) => p.flag(block, k, path));
  if (log == null || notify == null || store == null || terminate == null) return null;
  return { log, notify, store_in_connection_database: store, terminate };
}

function parseSelection(p: Problems, v: unknown, path: string): ContentSelection | null {
  const found = CONTENT_SELECTIONS.find((s) => s === v);
  if (found !== undefined) return found;
  p.report(
    path,
    "SELECTION_INVALID",
    `must be ${CONTENT_SELECTIONS.map((s) => `"${s}"`)
      .join(", ")
      .replace(/, ([^,]*)$/, " or $1")}, not ${v === undefined ? "absent" : shown(v)}`,
  );
  return null;
}

/** An optional list of strings (absent = empty); null when it is not one (reported). */
function parseStrings(p: Problems, v: unknown, path: string, what: string): string[] | null {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.report(path, "FIELD_TYPE", `must be a list of ${what}, not ${typeName(v)}`);
    return null;
  }
  const out: string[] = [];
  v.forEach((item: unknown, i) => {
    if (typeof item === "string") out.push(item);
    else p.report(`${path}[${i}]`, "FIELD_TYPE", `must be a string, not ${typeName(item)}`);
  });
  return out.length === v.length ? out : null;
}

/** A list of patterns, each checked for SPS's quote rule and compiled. */
function parsePatterns(p: Problems, v: unknown, path: string): Pattern[] | null {
  const sources = parseStrings(p, v, path, "patterns (strings)");
  if (sources === null) return null;
  const patterns: Pattern[] = [];
  sources.forEach((source, i) => {
    const pattern = parsePattern(p, source, `${path}[${i}]`);
    if (pattern !== null) patterns.push(pattern);
  });
  return patterns.length === sources.length ? patterns : null;
}

function parsePattern(p: Problems, source: string, path: string): Pattern | null {
  if (source === "") {
    p.report(path, "PATTERN_INVALID", "the pattern is empty (it would match everything)");
    return null;
  }
  try {
    const { quotes } = scanPattern(source);
    if (quotes.length > 0) {
      p.report(
        path,
        "PATTERN_QUOTE_UNESCAPED",
        `the ' at offset ${quotes.join(", ")} needs a backslash: SPS wants every single quote written \\'`,
      );
    }
    return compilePattern(source);
  } catch (e) {
    if (isTrailsealError(e, "PATTERN_INVALID") || isTrailsealError(e, "PATTERN_UNSUPPORTED")) {
      p.report(
        path,
        e.code === "PATTERN_INVALID" ? "PATTERN_INVALID" : "PATTERN_UNSUPPORTED",
        e.message,
      );
      return null;
    }
    throw e;
  }
}
