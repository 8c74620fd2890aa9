import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONTENT_RULE_CODES,
  POLICY_RULES,
  checkPolicy,
  parsePolicy,
  readAuditPolicy,
  readContentPolicy,
  type PolicyProblem,
  type PolicyRuleCode,
} from "../src/policy.js";

const POLICIES = join(import.meta.dirname, "..", "testdata", "policies");
const load = (f: string): unknown => JSON.parse(readFileSync(join(POLICIES, f), "utf8"));

// Test bodies are edited freely in the tables below; a loose type keeps them readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A valid content-policy body: one command rule. */
function base(): Loose {
  return {
    name: "content",
    rules: [
      {
        actions: { log: true, notify: false, store_in_connection_database: true, terminate: false },
        event: { ignore: [], match: ["rm\\s+-rf"], selection: "command" },
        gateway_groups: [],
        remote_groups: [],
      },
    ],
  };
}

function withChange(change: (b: Loose) => void): unknown {
  const b = base();
  change(b);
  return b;
}

const brief = (ps: PolicyProblem[]) => ps.map((p) => `${p.path} ${p.code}`);
const errorsOf = (ps: PolicyProblem[]) => ps.filter((p) => p.severity === "error");

describe("policy check on content policies: every rule fails with its path and message, and passes when fixed", () => {
  const cases: {
    code: PolicyRuleCode;
    path: string;
    message: string;
    fail: unknown;
    pass: unknown;
  }[] = [
    {
      code: "RULES_EMPTY",
      path: "rules",
      message: "the policy has no rule, so it matches nothing",
      fail: withChange((b) => (b.rules = [])),
      pass: base(),
    },
    {
      code: "SELECTION_INVALID",
      path: "rules[0].event.selection",
      message:
        'must be "command", "screen_content", "creditcard" or "window_title", not "commands"',
      fail: withChange((b) => (b.rules[0].event.selection = "commands")),
      pass: withChange((b) => (b.rules[0].event.selection = "screen_content")),
    },
    {
      code: "SELECTION_INVALID",
      path: "rules[0].event.selection",
      message: 'must be "command", "screen_content", "creditcard" or "window_title", not absent',
      fail: withChange((b) => delete b.rules[0].event.selection),
      pass: withChange((b) => (b.rules[0].event.selection = "window_title")),
    },
    {
      code: "MATCH_EMPTY",
      path: "rules[0].event.match",
      message: "a screen_content rule needs at least one pattern to match",
      fail: withChange((b) => {
        b.rules[0].event.selection = "screen_content";
        b.rules[0].event.match = [];
      }),
      // a card-number rule needs no pattern: the detector is its own
      pass: withChange((b) => {
        b.rules[0].event.selection = "creditcard";
        b.rules[0].event.match = [];
      }),
    },
    {
      code: "MATCH_EMPTY",
      path: "rules[0].event.match",
      message: "a command rule needs at least one pattern to match",
      fail: withChange((b) => delete b.rules[0].event.match),
      pass: base(),
    },
    {
      code: "PATTERN_QUOTE_UNESCAPED",
      path: "rules[0].event.match[1]",
      message: "the ' at offset 7 needs a backslash: SPS wants every single quote written \\'",
      fail: withChange((b) => b.rules[0].event.match.push("echo .*'")),
      pass: withChange((b) => b.rules[0].event.match.push("echo .*\\'")),
    },
    {
      code: "PATTERN_INVALID",
      path: "rules[0].event.match[0]",
      message: 'pattern "rm [": missing closing ]: `[` at offset 3',
      fail: withChange((b) => (b.rules[0].event.match = ["rm ["])),
      pass: withChange((b) => (b.rules[0].event.match = ["rm \\["])),
    },
    {
      code: "PATTERN_INVALID",
      path: "rules[0].event.ignore[0]",
      message: "the pattern is empty (it would match everything)",
      fail: withChange((b) => (b.rules[0].event.ignore = [""])),
      pass: withChange((b) => (b.rules[0].event.ignore = ["rm -rf \\./build"])),
    },
    {
      code: "PATTERN_UNSUPPORTED",
      path: "rules[0].event.match[0]",
      message:
        'pattern "(\\\\w+) \\\\1": a backreference (\\1) at offset 6 is not supported (no linear-time engine can run it)',
      fail: withChange((b) => (b.rules[0].event.match = ["(\\w+) \\1"])),
      pass: withChange((b) => (b.rules[0].event.match = ["(\\w+) \\w+"])),
    },
    {
      code: "PATTERN_UNSUPPORTED",
      path: "rules[0].event.ignore[0]",
      message:
        'pattern "rm(?= -rf)": a lookahead assertion at offset 2 is not supported (no linear-time engine can run it)',
      fail: withChange((b) => (b.rules[0].event.ignore = ["rm(?= -rf)"])),
      pass: withChange((b) => (b.rules[0].event.ignore = ["rm -rf"])),
    },
    {
      code: "FIELD_MISSING",
      path: "rules[0].actions.terminate",
      message: "'terminate' (true or false) is required",
      fail: withChange((b) => delete b.rules[0].actions.terminate),
      pass: base(),
    },
    {
      code: "FIELD_MISSING",
      path: "rules[0].event",
      message: "'event' is required",
      fail: withChange((b) => delete b.rules[0].event),
      pass: base(),
    },
    {
      code: "FIELD_TYPE",
      path: "rules[0].actions.notify",
      message: "must be true or false, not a string",
      fail: withChange((b) => (b.rules[0].actions.notify = "yes")),
      pass: base(),
    },
    {
      code: "FIELD_TYPE",
      path: "rules[0].gateway_groups",
      message: "must be a list of group names, not a string",
      fail: withChange((b) => (b.rules[0].gateway_groups = "group1")),
      pass: withChange((b) => (b.rules[0].gateway_groups = ["group1"])),
    },
    {
      code: "FIELD_TYPE",
      path: "rules[0].remote_groups[1]",
      message: "must be a string, not a number",
      fail: withChange((b) => (b.rules[0].remote_groups = ["group1", 3])),
      pass: withChange((b) => (b.rules[0].remote_groups = ["group1", "group3"])),
    },
    {
      code: "FIELD_TYPE",
      path: "rules[0].event.match",
      message: "must be a list of patterns (strings), not a string",
      fail: withChange((b) => (b.rules[0].event.match = "rm")),
      pass: withChange((b) => (b.rules[0].event.match = ["rm"])),
    },
    {
      code: "FIELD_TYPE",
      path: "rules[0]",
      message: "must be an object {actions, event, gateway_groups, remote_groups}, not a string",
      fail: withChange((b) => (b.rules = ["rm"])),
      pass: base(),
    },
    {
      code: "FIELD_TYPE",
      path: "rules",
      message:
        "must be a list of rules {actions, event, gateway_groups, remote_groups}, not an object",
      fail: withChange((b) => (b.rules = {})),
      pass: base(),
    },
    {
      code: "UNKNOWN_FIELD",
      path: "rules[0].event.colour",
      message: "'colour' is not a content-policy field",
      fail: withChange((b) => (b.rules[0].event.colour = "blue")),
      pass: base(),
    },
    {
      code: "NAME_WHITESPACE",
      path: "name",
      message: `the name "content policy" contains whitespace, which SPS refuses; use '_' or '-'`,
      fail: withChange((b) => (b.name = "content policy")),
      pass: withChange((b) => (b.name = "content_policy")),
    },
    {
      code: "NAME_MISSING",
      path: "name",
      message: "the policy needs a name",
      fail: withChange((b) => delete b.name),
      pass: base(),
    },
    {
      code: "REFERENCE_ONLY",
      path: "",
      message: "a reference without a body (nothing to check); GET its meta.href for the policy",
      fail: load("content-6.10-post-response.json"),
      pass: load("content-6.10-window-title.json"),
    },
  ];

  it("covers every content-policy rule code", () => {
    const covered = new Set(cases.map((c) => c.code));
    for (const code of CONTENT_RULE_CODES) expect(covered).toContain(code);
  });

  it.each(cases.map((c, i) => [`${c.code} #${i}`, c] as const))("%s", (_, c) => {
    const failed = checkPolicy(c.fail).filter((p) => p.code === c.code);
    expect(failed).toEqual([
      { path: c.path, severity: POLICY_RULES[c.code][0], code: c.code, message: c.message },
    ]);
    const passed = checkPolicy(c.pass);
    expect(passed.filter((p) => p.code === c.code)).toEqual([]);
    expect(errorsOf(passed)).toEqual([]);
  });
});

describe("content policies as the REST API gives them", () => {
  it("the page's sample response (a body in a REST object) is clean and reads typed", () => {
    const { policy, problems } = parsePolicy(load("content-6.10-window-title.json"));
    expect(problems).toEqual([]);
    expect(policy).toMatchObject({
      kind: "content",
      key: null,
      name: "example-content-policy-window-title",
      rules: [
        {
          index: 0,
          selection: "window_title",
          match: [{ source: "mmc.exe" }],
          ignore: [],
          actions: {
            log: true,
            notify: true,
            store_in_connection_database: true,
            terminate: false,
          },
          gatewayGroups: [],
          remoteGroups: [],
        },
      ],
    });
  });

  it("a policy with a rule per selection: patterns compiled, in order", () => {
    const policy = readContentPolicy(load("content-rules.json"));
    expect(policy.rules.map((r) => [r.selection, r.match.map((m) => m.source)])).toEqual([
      ["command", ["rm\\s+-rf\\s+/", "shutdown", "echo .*\\'"]],
      ["screen_content", ["BEGIN (RSA|OPENSSH) PRIVATE KEY"]],
      ["creditcard", []],
      ["window_title", ["\\.exe"]],
    ]);
    const command = policy.rules[0]!;
    expect(command.gatewayGroups).toEqual(["group1", "group2"]);
    expect(command.remoteGroups).toEqual(["group1", "group3"]);
    expect(command.match[2]!.find("echo it's")).toEqual({ index: 0, length: 8 });
    expect(command.ignore[0]!.find("rm -rf ./build")).toEqual({ index: 0, length: 14 });
  });

  it("a list response checks each item as the policy it is", () => {
    const list = {
      items: [
        { key: "a", body: base() },
        { key: "b", body: withChange((b) => (b.rules[0].event.selection = "keystrokes")) },
        { key: "c", meta: { href: "/api/configuration/policies/content_policies/c" } },
      ],
    };
    const { policy, problems } = parsePolicy(list);
    expect(brief(problems)).toEqual([
      "items[1].body.rules[0].event.selection SELECTION_INVALID",
      "items[2] REFERENCE_ONLY",
    ]);
    expect(policy).toBeNull();
    const fixed = parsePolicy({ items: [list.items[0], list.items[2]] }).policy;
    expect(fixed).toMatchObject({
      kind: "list",
      items: [{ kind: "content", key: "a" }, { kind: "reference" }],
    });
  });

  it("invalid-content.json reports each planted problem, in document order", () => {
    expect(brief(checkPolicy(load("invalid-content.json")))).toEqual([
      "body.name NAME_WHITESPACE",
      "body.rules[0].actions.notify FIELD_TYPE",
      "body.rules[0].actions.terminate FIELD_MISSING",
      "body.rules[0].event.selection SELECTION_INVALID",
      "body.rules[0].event.match[0] PATTERN_UNSUPPORTED",
      "body.rules[0].event.match[1] PATTERN_QUOTE_UNESCAPED",
      "body.rules[0].event.match[2] PATTERN_UNSUPPORTED",
      "body.rules[0].event.match[3] PATTERN_INVALID",
      "body.rules[0].gateway_groups FIELD_TYPE",
      "body.rules[1].colour UNKNOWN_FIELD",
      "body.rules[1].event.match MATCH_EMPTY",
    ]);
  });

  it("the shape tells the kinds apart; each reader refuses the other kind", () => {
    // rules beside an audit-policy field: an audit policy with an unknown field
    const mixed = { ...base(), signing: { enabled: false } };
    expect(brief(checkPolicy(mixed))).toEqual([
      "rules UNKNOWN_FIELD",
      "encryption FIELD_MISSING",
      "timestamping FIELD_MISSING",
    ]);
    expect(() => readAuditPolicy(base())).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        message: "content is a content policy; an audit policy is needed here",
      }),
    );
    const audit = {
      name: "audit",
      encryption: { enabled: false },
      signing: { enabled: false },
      timestamping: { enabled: false },
    };
    expect(() => readContentPolicy(audit)).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        message: "audit is an audit policy; a content policy is needed here",
      }),
    );
    expect(() => readContentPolicy(load("invalid-content.json"))).toThrow(
      expect.objectContaining({ code: "POLICY_INVALID" }),
    );
  });
});
