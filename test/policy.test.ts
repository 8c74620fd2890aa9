import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  CONTENT_RULE_CODES,
  POLICY_RULES,
  buildPolicy,
  checkPolicy,
  isDottedOid,
  parsePolicy,
  readAuditPolicy,
  sealingPlan,
  type BuildOptions,
  type PolicyProblem,
} from "../src/policy.js";

const CERTS = join(import.meta.dirname, "..", "testdata", "certs");
const POLICIES = join(import.meta.dirname, "..", "testdata", "policies");

/** A certificate as openssl prints it: PEM, LF line ends, nothing else (the API value). */
function api(name: string): string {
  return execFileSync("openssl", ["x509", "-in", join(CERTS, name), "-outform", "PEM"], {
    encoding: "utf8",
  });
}
/** A certificate's DER, as openssl writes it. */
function der(name: string): Uint8Array {
  return new Uint8Array(
    execFileSync("openssl", ["x509", "-in", join(CERTS, name), "-outform", "DER"]),
  );
}

const A = api("rsa2048-a.crt");
const B = api("rsa2048-b.crt");
const C = api("rsa2048-c.crt");
const D = api("rsa2048-d.crt");

/** rsa2048-a's key in a second, different certificate (same SPKI, other subject). */
const tmp = mkdtempSync(join(tmpdir(), "trailseal-policy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const A_REISSUED = execFileSync(
  "openssl",
  [
    "req",
    "-new",
    "-x509",
    "-key",
    join(CERTS, "rsa2048-a.key"),
    "-subj",
    "/CN=same key, other certificate",
    "-days",
    "36500",
  ],
  { encoding: "utf8", cwd: tmp },
);

type Body = Record<string, unknown>;
// Test bodies are edited freely in the tables below; a loose type keeps them readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A valid 8.0 LTS body: one downstream entry, everything else off. */
function base(): Body {
  return {
    encryption: {
      certificates: [{ certificate: A, four_eyes_certificate: null }],
      different_certificates_for_upstream: { enabled: false },
      enabled: true,
    },
    name: "audit",
    signing: { enabled: false },
    signing_and_timestamping_interval: 30,
    timestamping: { enabled: false },
  };
}

function withChange(change: (b: Body & Record<string, Loose>) => void): Body {
  const b = base();
  change(b as Body & Record<string, Loose>);
  return b;
}

const errorsOf = (ps: PolicyProblem[]) => ps.filter((p) => p.severity === "error");
const brief = (ps: PolicyProblem[]) => ps.map((p) => `${p.path} ${p.code}`);

describe("checkPolicy: every rule fails with its exact path and code, and passes when fixed", () => {
  const cases: {
    code: keyof typeof POLICY_RULES;
    path: string;
    fail: unknown;
    pass: unknown;
  }[] = [
    { code: "INPUT_NOT_OBJECT", path: "", fail: [base()], pass: base() },
    {
      code: "FIELD_MISSING",
      path: "signing",
      fail: withChange((b) => delete b.signing),
      pass: base(),
    },
    {
      code: "FIELD_MISSING",
      path: "encryption.different_certificates_for_upstream",
      fail: withChange((b) => delete b.encryption.different_certificates_for_upstream),
      pass: base(),
    },
    {
      code: "FIELD_TYPE",
      path: "encryption.enabled",
      fail: withChange((b) => (b.encryption.enabled = "yes")),
      pass: base(),
    },
    {
      code: "UNKNOWN_FIELD",
      path: "colour",
      fail: withChange((b) => (b.colour = "blue")),
      pass: base(),
    },
    {
      code: "UNKNOWN_FIELD",
      path: 'encryption.certificates[0]["four_eyes_certificate.pem"]',
      fail: withChange((b) => (b.encryption.certificates[0]["four_eyes_certificate.pem"] = null)),
      pass: base(),
    },
    {
      code: "REFERENCE_ONLY",
      path: "items[0]",
      fail: {
        items: [{ key: "k1", meta: { href: "/api/configuration/policies/audit_policies/k1" } }],
      },
      pass: { items: [{ key: "k1", body: base() }] },
    },
    {
      code: "OLD_SHAPE",
      path: "timestamping_enabled",
      fail: withChange((b) => {
        delete b.timestamping;
        b.timestamping_enabled = true;
      }),
      pass: base(),
    },
    {
      code: "SHAPE_MIXED",
      path: "timestamping_enabled",
      fail: withChange((b) => (b.timestamping_enabled = false)),
      pass: base(),
    },
    { code: "NAME_MISSING", path: "name", fail: withChange((b) => delete b.name), pass: base() },
    { code: "NAME_MISSING", path: "name", fail: withChange((b) => (b.name = "")), pass: base() },
    {
      code: "NAME_WHITESPACE",
      path: "name",
      fail: withChange((b) => (b.name = "audit policy")),
      pass: withChange((b) => (b.name = "audit_policy-2")),
    },
    {
      code: "NAME_WHITESPACE",
      path: "name",
      fail: withChange((b) => (b.name = "audit\t")),
      pass: base(),
    },
    {
      code: "INTERVAL_RANGE",
      path: "signing_and_timestamping_interval",
      fail: withChange((b) => (b.signing_and_timestamping_interval = 9)),
      pass: withChange((b) => (b.signing_and_timestamping_interval = 10)),
    },
    {
      code: "INTERVAL_RANGE",
      path: "signing_and_timestamping_interval",
      fail: withChange((b) => (b.signing_and_timestamping_interval = 100001)),
      pass: withChange((b) => (b.signing_and_timestamping_interval = 100000)),
    },
    {
      code: "INTERVAL_RANGE",
      path: "signing_and_timestamping_interval",
      fail: withChange((b) => (b.signing_and_timestamping_interval = 30.5)),
      pass: withChange((b) => delete b.signing_and_timestamping_interval),
    },
    {
      code: "INTERVAL_RANGE",
      path: "signing_and_timestamping_interval",
      fail: withChange((b) => (b.signing_and_timestamping_interval = "30")),
      pass: base(),
    },
    {
      code: "ENCRYPTION_NO_CERTIFICATES",
      path: "encryption.certificates",
      fail: withChange((b) => (b.encryption.certificates = [])),
      // the upstream-only form: downstream empty, upstream enabled with an entry
      pass: withChange((b) => {
        b.encryption.certificates = [];
        b.encryption.different_certificates_for_upstream = {
          certificates: [{ certificate: A, four_eyes_certificate: null }],
          enabled: true,
        };
      }),
    },
    {
      code: "CERTIFICATE_NOT_API_FORM",
      path: "encryption.certificates[0].certificate",
      fail: withChange(
        (b) => (b.encryption.certificates[0].certificate = `subject=CN = trailseal test\n${A}`),
      ),
      pass: base(),
    },
    {
      code: "CERTIFICATE_NOT_API_FORM",
      path: "encryption.certificates[0].certificate",
      fail: withChange(
        (b) => (b.encryption.certificates[0].certificate = A.replace(/\n/g, "\r\n")),
      ),
      pass: base(),
    },
    {
      code: "CERTIFICATE_SEVERAL",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => (b.encryption.certificates[0].certificate = A + B)),
      pass: base(),
    },
    {
      code: "CERTIFICATE_INVALID",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => (b.encryption.certificates[0].certificate = "<cert>")),
      pass: base(),
    },
    {
      code: "CERTIFICATE_INVALID",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => delete b.encryption.certificates[0].certificate),
      pass: base(),
    },
    {
      code: "CERTIFICATE_INVALID",
      path: "encryption.certificates[0].four_eyes_certificate",
      fail: withChange((b) => (b.encryption.certificates[0].four_eyes_certificate = "")),
      pass: withChange((b) => delete b.encryption.certificates[0].four_eyes_certificate),
    },
    {
      code: "CERTIFICATE_WEAK_KEY",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => (b.encryption.certificates[0].certificate = api("rsa1024-weak.crt"))),
      pass: base(),
    },
    {
      code: "CERTIFICATE_NOT_RSA",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => (b.encryption.certificates[0].certificate = api("ec-p256-a.crt"))),
      pass: base(),
    },
    {
      code: "CERTIFICATE_UNSUPPORTED_KEY",
      path: "encryption.certificates[0].certificate",
      fail: withChange((b) => (b.encryption.certificates[0].certificate = api("ed25519-a.crt"))),
      pass: base(),
    },
    {
      code: "CERTIFICATE_DUPLICATE",
      path: "encryption.certificates[1]",
      fail: withChange((b) =>
        b.encryption.certificates.push({ certificate: A, four_eyes_certificate: null }),
      ),
      pass: withChange((b) =>
        b.encryption.certificates.push({ certificate: A, four_eyes_certificate: B }),
      ),
    },
    {
      code: "FOUR_EYES_SAME_KEY",
      path: "encryption.certificates[0].four_eyes_certificate",
      fail: withChange((b) => (b.encryption.certificates[0].four_eyes_certificate = A)),
      pass: withChange((b) => (b.encryption.certificates[0].four_eyes_certificate = B)),
    },
    {
      // the same key in another certificate is still the same key
      code: "FOUR_EYES_SAME_KEY",
      path: "encryption.certificates[0].four_eyes_certificate",
      fail: withChange((b) => (b.encryption.certificates[0].four_eyes_certificate = A_REISSUED)),
      pass: base(),
    },
    {
      code: "UPSTREAM_NO_CERTIFICATES",
      path: "encryption.different_certificates_for_upstream.certificates",
      fail: withChange(
        (b) =>
          (b.encryption.different_certificates_for_upstream = { certificates: [], enabled: true }),
      ),
      pass: withChange(
        (b) =>
          (b.encryption.different_certificates_for_upstream = {
            certificates: [{ certificate: C, four_eyes_certificate: D }],
            enabled: true,
          }),
      ),
    },
    {
      code: "KEY_REUSED_UPSTREAM",
      path: "encryption.different_certificates_for_upstream.certificates[0].four_eyes_certificate",
      fail: withChange(
        (b) =>
          (b.encryption.different_certificates_for_upstream = {
            certificates: [{ certificate: C, four_eyes_certificate: A_REISSUED }],
            enabled: true,
          }),
      ),
      pass: withChange(
        (b) =>
          (b.encryption.different_certificates_for_upstream = {
            certificates: [{ certificate: C, four_eyes_certificate: D }],
            enabled: true,
          }),
      ),
    },
    {
      code: "SIGNING_NO_IDENTITY",
      path: "signing.x509_identity",
      fail: withChange((b) => (b.signing = { enabled: true })),
      pass: withChange(
        (b) =>
          (b.signing = { enabled: true, x509_identity: "9508db81-4a3f-45a7-a2b1-a86f71c56416" }),
      ),
    },
    {
      code: "SIGNING_NO_IDENTITY",
      path: "signing.x509_identity.key",
      fail: withChange(
        (b) =>
          (b.signing = {
            enabled: true,
            x509_identity: { meta: { href: "/api/configuration/x509/x" } },
          }),
      ),
      pass: withChange(
        (b) =>
          (b.signing = {
            enabled: true,
            x509_identity: { key: "x", meta: { href: "/api/configuration/x509/x" } },
          }),
      ),
    },
    {
      code: "TIMESTAMP_SELECTION",
      path: "timestamping.server",
      fail: withChange((b) => (b.timestamping = { enabled: true })),
      pass: withChange((b) => (b.timestamping = { enabled: true, server: { selection: "local" } })),
    },
    {
      code: "TIMESTAMP_SELECTION",
      path: "timestamping.server.selection",
      fail: withChange((b) => (b.timestamping = { enabled: true, server: { selection: "cloud" } })),
      pass: withChange(
        (b) => (b.timestamping = { enabled: false, server: { selection: "cloud" } }),
      ),
    },
    {
      code: "TIMESTAMP_URL",
      path: "timestamping.server.server_url",
      fail: withChange(
        (b) => (b.timestamping = { enabled: true, server: { selection: "remote" } }),
      ),
      pass: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: {
              selection: "remote",
              server_url: "https://tsa.example.com/tsr",
              oid: { enabled: false },
            },
          }),
      ),
    },
    {
      code: "TIMESTAMP_URL",
      path: "timestamping.server.server_url",
      fail: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: { selection: "remote", server_url: "ftp://tsa.example.com/" },
          }),
      ),
      pass: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: { selection: "remote", server_url: "http://127.0.0.1:3180" },
          }),
      ),
    },
    {
      code: "TIMESTAMP_LOCAL_OID",
      path: "timestamping.server.oid.enabled",
      fail: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: { selection: "local", oid: { enabled: true, policy_oid: "1.2.3.4" } },
          }),
      ),
      pass: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: { selection: "local", oid: { enabled: false } },
          }),
      ),
    },
    {
      code: "TIMESTAMP_OID_FORMAT",
      path: "timestamping.server.oid.policy_oid",
      fail: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: {
              selection: "remote",
              server_url: "http://tsa.example.com",
              oid: { enabled: true, policy_oid: "1.3.6.x" },
            },
          }),
      ),
      pass: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: {
              selection: "remote",
              server_url: "http://tsa.example.com",
              oid: { enabled: true, policy_oid: "1.3.6.1.4.1.99999.1" },
            },
          }),
      ),
    },
    {
      code: "TIMESTAMP_OID_FORMAT",
      path: "timestamping.server.oid.policy_oid",
      fail: withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: {
              selection: "remote",
              server_url: "http://tsa.example.com",
              oid: { enabled: true },
            },
          }),
      ),
      pass: base(),
    },
  ];

  it("covers every rule code but those only content policies report", () => {
    const content: readonly string[] = CONTENT_RULE_CODES;
    expect(new Set(cases.map((c) => c.code))).toEqual(
      new Set(Object.keys(POLICY_RULES).filter((c) => !content.includes(c))),
    );
  });

  it.each(cases.map((c, i) => [`${c.code} #${i}`, c] as const))("%s", (_, c) => {
    const failed = checkPolicy(c.fail);
    const hit = failed.filter((p) => p.code === c.code);
    expect(hit.map((p) => p.path)).toEqual([c.path]);
    expect(hit[0]!.severity).toBe(POLICY_RULES[c.code][0]);
    expect(hit[0]!.message).toMatch(/^[^A-Z]/); // lower-case voice (or a quoted value)

    const passed = checkPolicy(c.pass);
    expect(passed.filter((p) => p.code === c.code)).toEqual([]);
    expect(errorsOf(passed)).toEqual([]);
  });

  it("says what is wrong in words that fit the value", () => {
    const messages = (body: unknown) => checkPolicy(body).map((p) => `${p.path}: ${p.message}`);
    expect(messages(withChange((b) => (b.name = "")))).toEqual(["name: the name is empty"]);
    expect(messages(withChange((b) => (b.name = 7)))).toEqual([
      "name: the name must be a non-empty string, not a number",
    ]);
    expect(
      messages(withChange((b) => (b.encryption.certificates[0].four_eyes_certificate = A + B))),
    ).toEqual([
      "encryption.certificates[0].four_eyes_certificate: holds 2 PEM blocks; the API takes one certificate per string; four_eyes_certificate holds the second person's certificate only",
    ]);
    expect(messages(withChange((b) => (b.encryption.certificates[0].certificate = A + B)))).toEqual(
      [
        "encryption.certificates[0].certificate: holds 2 PEM blocks; the API takes one certificate per string; put each certificate in a list entry of its own",
      ],
    );
  });

  it("accepts the base policy with no problem at all", () => {
    expect(checkPolicy(base())).toEqual([]);
  });

  it("says what the API wants of a certificate with metadata (the CLI adds the command)", () => {
    const ps = checkPolicy(
      withChange((b) => (b.encryption.certificates[0].certificate = `Bag Attributes\n${A}`)),
    );
    expect(ps).toEqual([
      {
        code: "CERTIFICATE_NOT_API_FORM",
        severity: "error",
        path: "encryption.certificates[0].certificate",
        message:
          "has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone; the API wants the bare PEM with \\n line breaks",
      },
    ]);
  });

  it("suggests the field a '.pem' name was meant to be", () => {
    const ps = checkPolicy(
      withChange((b) => (b.encryption.certificates[0]["four_eyes_certificate.pem"] = null)),
    );
    expect(ps).toEqual([
      {
        code: "UNKNOWN_FIELD",
        severity: "warning",
        path: 'encryption.certificates[0]["four_eyes_certificate.pem"]',
        message:
          "'four_eyes_certificate.pem' is not an audit-policy field; did you mean 'four_eyes_certificate'?",
      },
    ]);
  });

  it("does not check the contents of disabled blocks", () => {
    const ps = checkPolicy(
      withChange((b) => {
        b.encryption = {
          enabled: false,
          certificates: [{ certificate: "junk", four_eyes_certificate: null }],
        };
        b.signing = { enabled: false, x509_identity: null };
      }),
    );
    expect(ps).toEqual([]);
  });
});

describe("checkPolicy: paths by input form", () => {
  const bad = withChange((b) => {
    b.name = "my policy";
    b.encryption.certificates[0].four_eyes_certificate = A;
  });

  it("bare body: no prefix", () => {
    expect(brief(checkPolicy(bad))).toEqual([
      "name NAME_WHITESPACE",
      "encryption.certificates[0].four_eyes_certificate FOUR_EYES_SAME_KEY",
    ]);
  });

  it("REST object: body. prefix", () => {
    expect(brief(checkPolicy({ key: "k", body: bad, meta: { href: "/x" } }))).toEqual([
      "body.name NAME_WHITESPACE",
      "body.encryption.certificates[0].four_eyes_certificate FOUR_EYES_SAME_KEY",
    ]);
  });

  it("list response: items[i].body. prefix", () => {
    const list = {
      items: [
        { key: "a", body: base() },
        { key: "b", body: bad },
      ],
      meta: {},
    };
    expect(brief(checkPolicy(list))).toEqual([
      "items[1].body.name NAME_WHITESPACE",
      "items[1].body.encryption.certificates[0].four_eyes_certificate FOUR_EYES_SAME_KEY",
    ]);
  });

  it("a body where a REST object is expected is checked as a body, never passed as a reference", () => {
    // a body with a stray key, and a list of bare bodies: both once said "valid" (a reference)
    const nameless: Record<string, unknown> = { ...bad };
    delete nameless["name"];
    expect(brief(checkPolicy({ key: "k", ...nameless }))).toEqual([
      "key UNKNOWN_FIELD",
      "name NAME_MISSING",
      "encryption.certificates[0].four_eyes_certificate FOUR_EYES_SAME_KEY",
    ]);
    expect(brief(checkPolicy({ items: [base(), bad] }))).toEqual([
      "items[1].name NAME_WHITESPACE",
      "items[1].encryption.certificates[0].four_eyes_certificate FOUR_EYES_SAME_KEY",
    ]);
    // a real reference is still a note
    expect(brief(checkPolicy({ key: "k", meta: { href: "/x" } }))).toEqual([" REFERENCE_ONLY"]);
    // and sealingPlan reads a body with a stray key as the body it is
    expect(sealingPlan(readAuditPolicy({ key: "k", ...base() })).name).toBe("audit");
  });

  it("non-objects in the wrong places", () => {
    expect(brief(checkPolicy("policy"))).toEqual([" INPUT_NOT_OBJECT"]);
    expect(brief(checkPolicy(null))).toEqual([" INPUT_NOT_OBJECT"]);
    expect(brief(checkPolicy({ key: "k", body: [] }))).toEqual(["body FIELD_TYPE"]);
    expect(brief(checkPolicy({ items: {} }))).toEqual(["items FIELD_TYPE"]);
    expect(brief(checkPolicy({ items: [7] }))).toEqual(["items[0] FIELD_TYPE"]);
  });
});

describe("the SPS pages' audit-policy examples (testdata/policies)", () => {
  const seeds = readdirSync(POLICIES).filter((f) => f.startsWith("seed-") && f.endsWith(".json"));
  const load = (f: string): unknown => JSON.parse(readFileSync(join(POLICIES, f), "utf8"));

  it("has all ten", () => {
    expect(seeds).toHaveLength(10);
  });

  it.each(seeds)("%s passes check with no error and no warning", (f) => {
    const ps = checkPolicy(load(f));
    expect(ps.filter((p) => p.severity !== "note")).toEqual([]);
    // 6.10 bodies get the old-shape note, the 6.10 list its three references, 8.0 nothing.
    expect(f).toMatch(/^seed-(6\.10|8\.0)-/);
    const expected =
      f === "seed-6.10-list-response.json"
        ? ["REFERENCE_ONLY", "REFERENCE_ONLY", "REFERENCE_ONLY"]
        : f.startsWith("seed-6.10-")
          ? ["OLD_SHAPE"]
          : [];
    expect(ps.map((p) => p.code)).toEqual(expected);
  });

  it("the pages' own API-form certificate is what openssl prints", () => {
    const pem = readFileSync(join(POLICIES, "seed-6.10-api-audit-pol.json"), "utf8");
    const cert = (JSON.parse(pem) as Loose).encryption.certificates[0].certificate as string;
    const viaOpenssl = execFileSync("openssl", ["x509", "-outform", "PEM"], {
      input: cert,
      encoding: "utf8",
    });
    expect(cert).toBe(viaOpenssl);
  });

  it("invalid-several-errors.json reports each planted problem", () => {
    expect(brief(checkPolicy(load("invalid-several-errors.json")))).toEqual([
      "body.colour UNKNOWN_FIELD",
      "body.name NAME_WHITESPACE",
      "body.signing_and_timestamping_interval INTERVAL_RANGE",
      "body.encryption.certificates[1].four_eyes_certificate FOUR_EYES_SAME_KEY",
      "body.signing.x509_identity SIGNING_NO_IDENTITY",
      "body.timestamping.server.oid.enabled TIMESTAMP_LOCAL_OID",
    ]);
  });

  describe("sealingPlan", () => {
    it("6.10 default: everything off, interval 30", () => {
      expect(sealingPlan(readAuditPolicy(load("seed-6.10-default.json")))).toEqual({
        name: "default",
        downstream: null,
        upstream: null,
        signing: null,
        timestamping: null,
        interval: 30,
      });
    });

    it("upstream only: downstream clear, upstream to the pages' certificate", () => {
      const spsDer = new Uint8Array(
        execFileSync("openssl", ["x509", "-outform", "DER"], {
          input: (load("seed-6.10-upstream-only.json") as Loose).encryption
            .different_certificates_for_upstream.certificates[0].certificate,
        }),
      );
      for (const f of ["seed-6.10-upstream-only.json", "seed-8.0-upstream-only-request.json"]) {
        const plan = sealingPlan(readAuditPolicy(load(f)));
        expect(plan.downstream).toBeNull();
        expect(plan.upstream).toEqual([{ certificate: spsDer, fourEyes: null }]);
      }
    });

    it("6.10 specific policy (REST object): four-eyes both ways, signing, timestamping_enabled = local", () => {
      expect(sealingPlan(readAuditPolicy(load("seed-6.10-specific-policy.json")))).toEqual({
        name: "<policy-name>",
        downstream: [{ certificate: der("rsa2048-a.crt"), fourEyes: der("rsa2048-b.crt") }],
        upstream: [{ certificate: der("rsa2048-c.crt"), fourEyes: der("rsa2048-d.crt") }],
        signing: { x509Identity: "ec0b6604-37f6-4df6-bd2f-d7879a75b324" },
        timestamping: { selection: "local" },
        interval: 30,
      });
    });

    it("single certificate without separate upstream: upstream uses the same list", () => {
      const plan = sealingPlan(readAuditPolicy(load("seed-6.10-api-audit-pol.json")));
      expect(plan.upstream).toEqual(plan.downstream);
      expect(plan.downstream).toHaveLength(1);
      expect(plan.signing).toEqual({ x509Identity: "d0286f64-41aa-45e1-ab19-830ac2f99f57" });
    });

    it("8.0 remote TSA with policy OID, bare identity key, interval 600", () => {
      const plan = sealingPlan(readAuditPolicy(load("seed-8.0-remote-timestamp-oid.json")));
      expect(plan.timestamping).toEqual({
        selection: "remote",
        url: "http://tsa.example.com/tsr",
        policyOid: "1.3.6.1.4.1.99999.1",
      });
      expect(plan.signing).toEqual({ x509Identity: "ec0b6604-37f6-4df6-bd2f-d7879a75b324" });
      expect(plan.interval).toBe(600);
    });

    it("8.0 local timestamping and remote without OID", () => {
      expect(
        sealingPlan(readAuditPolicy(load("seed-8.0-sign-local-timestamp.json"))).timestamping,
      ).toEqual({
        selection: "local",
      });
      const remote = withChange(
        (b) =>
          (b.timestamping = {
            enabled: true,
            server: {
              selection: "remote",
              server_url: "https://tsa.example.com",
              oid: { enabled: false },
            },
          }),
      );
      expect(sealingPlan(readAuditPolicy(remote)).timestamping).toEqual({
        selection: "remote",
        url: "https://tsa.example.com",
        policyOid: null,
      });
    });

    it("refuses an invalid policy with every error as path: message", () => {
      let thrown: unknown;
      try {
        sealingPlan(readAuditPolicy(load("invalid-several-errors.json")));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: "POLICY_INVALID" });
      const message = (thrown as Error).message;
      // Every error, in document order, each as path: message; warnings (body.colour) do not block.
      expect(message.split("; body.")).toEqual([
        `body.name: the name "audit policy" contains whitespace, which SPS refuses; use '_' or '-'`,
        "signing_and_timestamping_interval: must be a whole number of seconds from 10 to 100000, not 5",
        "encryption.certificates[1].four_eyes_certificate: the four-eyes certificate has the same key (sha256:b51302da3d38d75a656a42b9d84446c069425e0e7ba0a94cc30084633bd4acb2) as the certificate, so one person could decrypt alone; use the second person's certificate or null",
        "signing.x509_identity: signing is enabled but names no x509 identity; give the key of a certificate stored at /api/configuration/x509/",
        "timestamping.server.oid.enabled: the local timestamping service takes no policy OID; set oid.enabled to false or use a remote server",
      ]);
    });

    it("refuses a list response and a reference without body", () => {
      expect(() => sealingPlan(readAuditPolicy(load("seed-6.10-list-response.json")))).toThrow(
        expect.objectContaining({ code: "POLICY_INVALID" }),
      );
      expect(() => sealingPlan(readAuditPolicy({ key: "k", meta: { href: "/x" } }))).toThrow(
        expect.objectContaining({ code: "POLICY_INVALID" }),
      );
    });
  });
});

describe("buildPolicy", () => {
  const entry = (c: string, f: string | null = null) => ({
    certificate: der(c),
    fourEyes: f === null ? null : der(f),
  });

  it("writes the 8.0 LTS body as SPS writes it, byte-exact API certificate strings", () => {
    const policy = buildPolicy({
      name: "split",
      encrypt: [entry("rsa2048-a.crt", "rsa2048-b.crt"), entry("rsa2048-e.crt")],
      upstream: [entry("rsa2048-c.crt", "rsa2048-d.crt")],
      signIdentity: "9508db81-4a3f-45a7-a2b1-a86f71c56416",
      timestamp: "https://tsa.example.com/tsr",
      policyOid: "1.3.6.1.4.1.99999.1",
      interval: 600,
    });
    expect(JSON.stringify(policy, null, 2)).toBe(
      JSON.stringify(
        {
          encryption: {
            certificates: [
              { certificate: A, four_eyes_certificate: B },
              { certificate: api("rsa2048-e.crt"), four_eyes_certificate: null },
            ],
            different_certificates_for_upstream: {
              certificates: [{ certificate: C, four_eyes_certificate: D }],
              enabled: true,
            },
            enabled: true,
          },
          name: "split",
          signing: {
            enabled: true,
            // the bare key, as the 8.0 LTS page says to add one (GET shows {key, meta})
            x509_identity: "9508db81-4a3f-45a7-a2b1-a86f71c56416",
          },
          signing_and_timestamping_interval: 600,
          timestamping: {
            enabled: true,
            server: {
              oid: { enabled: true, policy_oid: "1.3.6.1.4.1.99999.1" },
              selection: "remote",
              server_url: "https://tsa.example.com/tsr",
            },
          },
        },
        null,
        2,
      ),
    );
    expect(checkPolicy(policy)).toEqual([]);
    expect(sealingPlan(readAuditPolicy(policy))).toEqual({
      name: "split",
      downstream: [entry("rsa2048-a.crt", "rsa2048-b.crt"), entry("rsa2048-e.crt")],
      upstream: [entry("rsa2048-c.crt", "rsa2048-d.crt")],
      signing: { x509Identity: "9508db81-4a3f-45a7-a2b1-a86f71c56416" },
      timestamping: {
        selection: "remote",
        url: "https://tsa.example.com/tsr",
        policyOid: "1.3.6.1.4.1.99999.1",
      },
      interval: 600,
    });
  });

  it("collapses disabled blocks to {enabled: false}, interval defaults to 30", () => {
    expect(buildPolicy({ name: "off", encrypt: [], upstream: [] })).toEqual({
      encryption: { enabled: false },
      name: "off",
      signing: { enabled: false },
      signing_and_timestamping_interval: 30,
      timestamping: { enabled: false },
    });
  });

  it("local timestamping, no separate upstream, identity given as its href", () => {
    const policy = buildPolicy({
      name: "local",
      encrypt: [entry("rsa2048-a.crt")],
      upstream: [],
      signIdentity: "/api/configuration/x509/abc-1",
      timestamp: "local",
    });
    expect(policy.timestamping).toEqual({ enabled: true, server: { selection: "local" } });
    expect(policy.encryption).toEqual({
      certificates: [{ certificate: A, four_eyes_certificate: null }],
      different_certificates_for_upstream: { enabled: false },
      enabled: true,
    });
    expect(policy.signing).toEqual({ enabled: true, x509_identity: "abc-1" });
    const plan = sealingPlan(readAuditPolicy(policy));
    expect(plan.upstream).toEqual(plan.downstream);
  });

  it("upstream only: an empty downstream list with upstream entries", () => {
    const policy = buildPolicy({ name: "up", encrypt: [], upstream: [entry("rsa2048-c.crt")] });
    expect(checkPolicy(policy)).toEqual([]);
    const plan = sealingPlan(readAuditPolicy(policy));
    expect(plan.downstream).toBeNull();
    expect(plan.upstream).toEqual([entry("rsa2048-c.crt")]);
  });

  it("refuses options that make an invalid policy", () => {
    expect(() => buildPolicy({ name: "a b", encrypt: [], upstream: [] })).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        message: expect.stringContaining("name: "),
      }),
    );
    expect(() =>
      buildPolicy({ name: "x", encrypt: [], upstream: [], timestamp: "local", policyOid: "1.2.3" }),
    ).toThrow(expect.objectContaining({ code: "POLICY_INVALID" }));
    expect(() =>
      buildPolicy({ name: "x", encrypt: [entry("rsa2048-a.crt", "rsa2048-a.crt")], upstream: [] }),
    ).toThrow(
      expect.objectContaining({
        code: "POLICY_INVALID",
        message: expect.stringContaining("encryption.certificates[0].four_eyes_certificate: "),
      }),
    );
    expect(() => buildPolicy({ name: "x", encrypt: [], upstream: [], interval: 5 })).toThrow(
      expect.objectContaining({ code: "POLICY_INVALID" }),
    );
  });
});

describe("isDottedOid", () => {
  it.each([
    ["1.3.6.1.4.1.99999.1", true],
    ["2.999.1", true],
    ["0.39", true],
    ["1.40", false],
    ["3.1", false],
    ["1", false],
    ["1.02", false],
    ["1..2", false],
    [" 1.2", false],
  ])("%s -> %s", (oid, ok) => {
    expect(isDottedOid(oid)).toBe(ok);
  });
});

describe("properties", () => {
  const RSA = ["rsa2048-a.crt", "rsa2048-b.crt", "rsa2048-c.crt", "rsa2048-d.crt", "rsa2048-e.crt"];
  const DER = new Map(RSA.map((n) => [n, der(n)]));
  const entryArb = fc
    .tuple(fc.constantFrom(...RSA), fc.option(fc.constantFrom(...RSA), { nil: null }))
    .filter(([c, f]) => c !== f)
    .map(([c, f]) => ({ certificate: DER.get(c)!, fourEyes: f === null ? null : DER.get(f)! }));
  const optionsArb = fc.record({
    name: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/),
    encrypt: fc.array(entryArb, { maxLength: 3 }),
    upstream: fc.array(entryArb, { maxLength: 2 }),
    signIdentity: fc.option(fc.uuid(), { nil: undefined }),
    timestamp: fc.option(
      fc.constantFrom("local", "http://127.0.0.1:3180/tsr", "https://tsa.example.com"),
      {
        nil: undefined,
      },
    ),
    policyOid: fc.option(fc.constantFrom("1.3.6.1.4.1.99999.1", "2.5.29.32.0"), { nil: undefined }),
    interval: fc.integer({ min: 10, max: 100000 }),
  });

  it("buildPolicy output always passes check (no error) and sealingPlan returns the options", () => {
    fc.assert(
      fc.property(optionsArb, (o) => {
        const options = {
          ...o,
          ...(o.timestamp === undefined || o.timestamp === "local" ? { policyOid: undefined } : {}),
        };
        const clean = Object.fromEntries(
          Object.entries(options).filter(([, v]) => v !== undefined),
        );
        const policy = buildPolicy(clean as unknown as BuildOptions);
        expect(errorsOf(checkPolicy(policy))).toEqual([]);
        const plan = sealingPlan(readAuditPolicy(JSON.parse(JSON.stringify(policy))));
        const encrypting = o.encrypt.length > 0 || o.upstream.length > 0;
        expect(plan.downstream).toEqual(o.encrypt.length > 0 ? o.encrypt : null);
        expect(plan.upstream).toEqual(
          !encrypting ? null : o.upstream.length > 0 ? o.upstream : o.encrypt,
        );
        expect(plan.signing).toEqual(
          o.signIdentity === undefined ? null : { x509Identity: o.signIdentity },
        );
        expect(plan.interval).toBe(o.interval);
        expect(plan.name).toBe(o.name);
      }),
      { numRuns: 60 },
    );
  });

  it("checkPolicy never throws, whatever JSON it is given", () => {
    const policyish = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom(A, `x${A}`, A + B, "", null, true, 30, "local", "remote"),
        fc.dictionary(
          fc.constantFrom(
            "name",
            "encryption",
            "signing",
            "timestamping",
            "timestamping_enabled",
            "enabled",
            "certificates",
            "certificate",
            "four_eyes_certificate",
            "different_certificates_for_upstream",
            "x509_identity",
            "key",
            "server",
            "selection",
            "server_url",
            "oid",
            "policy_oid",
            "body",
            "items",
            "meta",
            "signing_and_timestamping_interval",
            "__proto__",
            "constructor",
          ),
          tie("value"),
          { maxKeys: 6 },
        ),
        fc.array(tie("value"), { maxLength: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(policyish, (input) => {
        const problems = checkPolicy(input);
        for (const p of problems) {
          expect(Object.keys(POLICY_RULES)).toContain(p.code);
          expect(p.severity).toBe(POLICY_RULES[p.code as keyof typeof POLICY_RULES][0]);
        }
        // sealingPlan either returns a plan or throws POLICY_INVALID, never anything else
        try {
          sealingPlan(readAuditPolicy(input));
        } catch (e) {
          expect(e).toMatchObject({ code: "POLICY_INVALID" });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("parsePolicy: one walk that checks and builds", () => {
  it("a clean body gives the typed policy and no problem", () => {
    expect(parsePolicy(base())).toEqual({
      policy: {
        kind: "audit",
        key: null,
        shape: "8.0",
        name: "audit",
        encryption: {
          downstream: [{ certificate: der("rsa2048-a.crt"), fourEyes: null }],
          upstream: [{ certificate: der("rsa2048-a.crt"), fourEyes: null }],
        },
        signing: null,
        timestamping: null,
        interval: 30,
      },
      problems: [],
    });
  });

  it("an error nulls the policy; warnings and notes do not", () => {
    const bad = parsePolicy(withChange((b) => (b.name = "my policy")));
    expect(bad.policy).toBeNull();
    expect(brief(bad.problems)).toEqual(["name NAME_WHITESPACE"]);
    const warned = parsePolicy({ key: "k", body: withChange((b) => (b.colour = "blue")) });
    expect(brief(warned.problems)).toEqual(["body.colour UNKNOWN_FIELD"]);
    expect(warned.policy).toMatchObject({ kind: "audit", key: "k", name: "audit" });
  });

  it("a list response gives its items, references as references", () => {
    const { policy, problems } = parsePolicy({
      items: [
        { key: "r", meta: { href: "/x" } },
        { key: "a", body: base() },
      ],
    });
    expect(brief(problems)).toEqual(["items[0] REFERENCE_ONLY"]);
    expect(policy).toMatchObject({
      kind: "list",
      items: [
        { kind: "reference", key: "r" },
        { kind: "audit", key: "a" },
      ],
    });
  });

  it("the 6.10 shape reads timestamping_enabled as local timestamping", () => {
    const { policy } = parsePolicy(
      withChange((b) => {
        delete b.timestamping;
        delete b.signing_and_timestamping_interval;
        b.timestamping_enabled = true;
      }),
    );
    expect(policy).toMatchObject({
      shape: "6.10",
      timestamping: { selection: "local" },
      interval: 30,
    });
  });
});
