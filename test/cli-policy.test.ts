import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certSpkiFingerprint } from "./helpers/fixtures.js";
import { afterAll, describe, expect, it } from "vitest";
import { checkPolicy, readAuditPolicy, sealingPlan } from "../src/policy.js";
import { runCli } from "./helpers/io.js";

const ROOT = join(import.meta.dirname, "..");
const CERTS = "testdata/certs";
const POLICIES = join(ROOT, "testdata", "policies");

/** A certificate as openssl prints it (PEM, LF): the API value. */
function api(path: string): string {
  return execFileSync("openssl", ["x509", "-in", join(ROOT, path), "-outform", "PEM"], {
    encoding: "utf8",
  });
}
function der(path: string): Uint8Array {
  return new Uint8Array(
    execFileSync("openssl", ["x509", "-in", join(ROOT, path), "-outform", "DER"]),
  );
}

const tmp = mkdtempSync(join(tmpdir(), "trailseal-cli-policy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (argv: string[], options: { stdin?: string; env?: Record<string, string> } = {}) =>
  runCli(argv, { cwd: ROOT, ...options });

describe("trailseal policy create", () => {
  it("prints an 8.0 LTS body that passes check and round-trips through sealingPlan", async () => {
    const r = await run([
      "policy",
      "create",
      "--name",
      "audit",
      "--encrypt",
      `${CERTS}/rsa2048-a.crt,${CERTS}/rsa2048-b.crt`,
      "--encrypt",
      `${CERTS}/rsa2048-e.crt`,
      "--upstream",
      `${CERTS}/rsa2048-c.crt,${CERTS}/rsa2048-d.crt`,
      "--sign-identity",
      "9508db81-4a3f-45a7-a2b1-a86f71c56416",
      "--timestamp",
      "http://127.0.0.1:3180/tsr",
      "--policy-oid",
      "1.3.6.1.4.1.99999.1",
      "--interval",
      "120",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const policy = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(r.stdout).toBe(`${JSON.stringify(policy, null, 2)}\n`);
    // ready to POST: the identity as its bare key, as the 8.0 LTS page says to add one
    expect(policy["signing"]).toEqual({
      enabled: true,
      x509_identity: "9508db81-4a3f-45a7-a2b1-a86f71c56416",
    });
    expect(checkPolicy(policy)).toEqual([]);
    expect(sealingPlan(readAuditPolicy(policy))).toEqual({
      name: "audit",
      downstream: [
        { certificate: der(`${CERTS}/rsa2048-a.crt`), fourEyes: der(`${CERTS}/rsa2048-b.crt`) },
        { certificate: der(`${CERTS}/rsa2048-e.crt`), fourEyes: null },
      ],
      upstream: [
        { certificate: der(`${CERTS}/rsa2048-c.crt`), fourEyes: der(`${CERTS}/rsa2048-d.crt`) },
      ],
      signing: { x509Identity: "9508db81-4a3f-45a7-a2b1-a86f71c56416" },
      timestamping: {
        selection: "remote",
        url: "http://127.0.0.1:3180/tsr",
        policyOid: "1.3.6.1.4.1.99999.1",
      },
      interval: 120,
    });

    const check = await run(["policy", "check", "-"], { stdin: r.stdout });
    expect(check.code).toBe(0);
    expect(check.stdout).toBe("<stdin>: valid (0 warnings, 0 notes)\n");
  });

  it("writes certificates byte-exact in API form whatever the input wrapping", async () => {
    const expected = api(`${CERTS}/rsa2048-a.crt`);
    for (const input of [
      "variants/der.der",
      "variants/text-dump.pem",
      "variants/bag-attributes.pem",
      "variants/crlf.pem",
      "variants/json-string.json",
      "variants/modern.p12",
      "variants/legacy-rc2.p12",
    ]) {
      const r = await run(
        [
          "policy",
          "create",
          "--name",
          "x",
          "--encrypt",
          `${CERTS}/${input}`,
          "--passin",
          "env:P12",
        ],
        { env: { P12: "trailseal-test" } },
      );
      expect(r.code, input).toBe(0);
      const policy = JSON.parse(r.stdout) as {
        encryption: { certificates: { certificate: string }[] };
      };
      expect(policy.encryption.certificates[0]!.certificate, input).toBe(expected);
      // the JSON text carries exactly the \n-escaped form the SPS pages show
      expect(r.stdout, input).toContain(`"certificate": ${JSON.stringify(expected)}`);
    }
  });

  it("defaults: everything off, interval 30; -o writes the file", async () => {
    const out = join(tmp, "off.json");
    const r = await run(["policy", "create", "--name", "off", "-o", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({
      encryption: { enabled: false },
      name: "off",
      signing: { enabled: false },
      signing_and_timestamping_interval: 30,
      timestamping: { enabled: false },
    });
  });

  it("-o that cannot be written says why, exit 2", async () => {
    const missing = join(tmp, "no-such-dir", "p.json");
    const r = await run(["policy", "create", "--name", "x", "-o", missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`trailseal: error: cannot write ${missing}: no such directory\n`);
    const dir = await run(["policy", "create", "--name", "x", "-o", tmp]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toBe(`trailseal: error: cannot write ${tmp}: it is a directory\n`);
  });

  it("a certificate with its CA chain (PKCS#12, PEM) gives the one certificate that is not a CA, with a notice", async () => {
    const signer = api(`${CERTS}/signer.crt`);
    for (const input of ["variants/signer-chain.p12", "signer-chain.pem"]) {
      const r = await run(
        ["policy", "create", "--name", "x", "--encrypt", `${CERTS}/${input}`, "--passin", "env:P"],
        { env: { P: "trailseal-test" } },
      );
      expect(r.code, input).toBe(0);
      const policy = JSON.parse(r.stdout) as {
        encryption: { certificates: { certificate: string }[] };
      };
      expect(policy.encryption.certificates[0]!.certificate, input).toBe(signer);
      expect(r.stderr, input).toBe(
        `trailseal: notice: ${CERTS}/${input} holds 2 certificates; using the one that is not a CA: O=trailseal tests, CN=trailseal test signer (sha256:${certSpkiFingerprint("certs/signer.crt")})\n`,
      );
    }
    // two certificates that are both not CAs: no guess
    const two = await run([
      "policy",
      "create",
      "--name",
      "x",
      "--encrypt",
      `${CERTS}/variants/comments-two.pem`,
    ]);
    expect(two.code).toBe(2);
    expect(two.stderr).toBe(
      `trailseal: error: ${CERTS}/variants/comments-two.pem holds 2 certificates; an entry takes exactly one\n` +
        "trailseal: hint: split it with 'trailseal pem FILE' and give the recipient's certificate\n",
    );
  });

  it("warns on stderr about an EC recipient (SPS encrypts only to RSA) and still writes", async () => {
    const r = await run([
      "policy",
      "create",
      "--name",
      "ec",
      "--encrypt",
      `${CERTS}/ec-p256-a.crt`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "trailseal: warning: encryption.certificates[0].certificate: an EC P-256 key (sha256:8dab428e49e0a8368c0755952723557b5bf7dbb73b6943b2cbe0596a64c4e85c): SPS encrypts only to RSA keys; trailseal also takes EC\n",
    );
  });

  const E = "trailseal: error: ";
  const NEEDS_REMOTE =
    `${E}--policy-oid needs a remote timestamp server (--timestamp URL)\n` +
    "trailseal: hint: the local timestamping service takes no policy OID\n";
  it.each([
    [
      ["--name", "a b"],
      `${E}the policy would be invalid: name: the name "a b" contains whitespace, which SPS refuses; use '_' or '-'\n`,
    ],
    [["--name", "x", "--timestamp", "local", "--policy-oid", "1.2.3"], NEEDS_REMOTE],
    [["--name", "x", "--policy-oid", "1.2.3"], NEEDS_REMOTE],
    [
      ["--name", "x", "--timestamp", "http://tsa", "--policy-oid", "1.2.x"],
      `${E}--policy-oid must be a dotted OID such as 1.3.6.1.4.1.99999.1, not '1.2.x'\n`,
    ],
    [
      ["--name", "x", "--timestamp", "ftp://tsa"],
      `${E}--timestamp must be 'local' or an http(s) URL, not 'ftp://tsa'\n`,
    ],
    [
      ["--name", "x", "--interval", "5"],
      `${E}--interval must be from 10 to 100000 seconds, not 5\n`,
    ],
    [
      ["--name", "x", "--interval", "3.5"],
      `${E}--interval must be a whole number of seconds, not '3.5'\n`,
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/rsa2048-a.crt,${CERTS}/rsa2048-a.crt`],
      `${E}the policy would be invalid: encryption.certificates[0].four_eyes_certificate: the four-eyes certificate has the same key (sha256:dd06f9ad05fe1415fb839ec0dee2eb015212fb139d7e5edcea0778870c70e82c) as the certificate, so one person could decrypt alone; use the second person's certificate or null\n`,
    ],
    [
      ["--name", "x", "--encrypt", "a,b,c"],
      `${E}--encrypt takes CERT or CERT,FOUR_EYES_CERT, not 'a,b,c'\n`,
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/variants/bundle.p7b`],
      `${E}${CERTS}/variants/bundle.p7b holds 2 certificates; an entry takes exactly one\n` +
        "trailseal: hint: split it with 'trailseal pem FILE' and give the recipient's certificate\n",
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/ed25519-a.crt`],
      `${E}the policy would be invalid: encryption.certificates[0].certificate: an Ed25519 key (sha256:77834283d747954d1627b355bd17343a48cec732dec2450243600324d2fc42fe): neither SPS nor trailseal can encrypt to it; use an RSA certificate\n`,
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/no-such.pem`],
      `${E}no such file: ${CERTS}/no-such.pem\n`,
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/bad/private-key.pem`],
      `${E}${CERTS}/bad/private-key.pem holds a private key, not a certificate: the API wants the certificate (the public half), never the private key\n` +
        "trailseal: hint: give the certificate file (.crt/.pem), or a PKCS#12 file with --passin\n",
    ],
    [
      ["--name", "x", "--encrypt", `${CERTS}/variants/modern.p12`, "--passin", "env:WRONG"],
      `${E}wrong password for PKCS#12 file ${CERTS}/variants/modern.p12\n` +
        "trailseal: hint: check the password given with --passin\n",
    ],
    [
      ["--encrypt", `${CERTS}/rsa2048-a.crt`],
      `${E}required option '--name <name>' not specified\ntrailseal: hint: see --help\n`,
    ],
  ])("exit 2 for %j", async (args, stderr) => {
    const r = await run(["policy", "create", ...args], { env: { WRONG: "wrong" } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(stderr);
  });
});

describe("trailseal policy check", () => {
  const seeds = readdirSync(POLICIES).filter((f) => f.startsWith("seed-"));

  it.each(seeds)("%s: exit 0", async (f) => {
    const r = await run(["policy", "check", `testdata/policies/${f}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `testdata/policies/${f.replace(/\./g, "\\.")}: valid \\(0 warnings, \\d notes?\\)\\n$`,
      ),
    );
  });

  it("prints the 6.10 shape note as path: severity: message [CODE]", async () => {
    const r = await run(["policy", "check", "testdata/policies/seed-6.10-default.json"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(
      /^timestamping_enabled: note: the 6\.10 shape: .* \[OLD_SHAPE\]$/,
    );
  });

  it("exit 1 with one line per problem, then the verdict", async () => {
    const r = await run(["policy", "check", "testdata/policies/invalid-several-errors.json"]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.replace(/: .*\[([A-Z_]+)\]$/, " $1"))).toEqual([
      "body.colour UNKNOWN_FIELD",
      "body.name NAME_WHITESPACE",
      "body.signing_and_timestamping_interval INTERVAL_RANGE",
      "body.encryption.certificates[1].four_eyes_certificate FOUR_EYES_SAME_KEY",
      "body.signing.x509_identity SIGNING_NO_IDENTITY",
      "body.timestamping.server.oid.enabled TIMESTAMP_LOCAL_OID",
      "testdata/policies/invalid-several-errors.json: invalid (5 errors, 1 warning, 0 notes)",
    ]);
    expect(lines[1]).toBe(
      "body.name: error: the name \"audit policy\" contains whitespace, which SPS refuses; use '_' or '-' [NAME_WHITESPACE]",
    );
  });

  it("--json gives [{path, severity, code, message}]", async () => {
    const r = await run([
      "policy",
      "check",
      "--json",
      "testdata/policies/invalid-several-errors.json",
    ]);
    expect(r.code).toBe(1);
    const problems = JSON.parse(r.stdout) as {
      path: string;
      severity: string;
      code: string;
      message: string;
    }[];
    expect(problems.map(({ path, severity, code }) => ({ path, severity, code }))).toEqual([
      { path: "body.colour", severity: "warning", code: "UNKNOWN_FIELD" },
      { path: "body.name", severity: "error", code: "NAME_WHITESPACE" },
      { path: "body.signing_and_timestamping_interval", severity: "error", code: "INTERVAL_RANGE" },
      {
        path: "body.encryption.certificates[1].four_eyes_certificate",
        severity: "error",
        code: "FOUR_EYES_SAME_KEY",
      },
      { path: "body.signing.x509_identity", severity: "error", code: "SIGNING_NO_IDENTITY" },
      {
        path: "body.timestamping.server.oid.enabled",
        severity: "error",
        code: "TIMESTAMP_LOCAL_OID",
      },
    ]);
    for (const p of problems)
      expect(Object.keys(p)).toEqual(["path", "severity", "code", "message"]);
  });

  it("--json on a clean policy: [] and exit 0; warnings alone keep exit 0", async () => {
    const clean = await run([
      "policy",
      "check",
      "--json",
      "testdata/policies/seed-8.0-remote-timestamp-oid.json",
    ]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe("[]\n");
    const warned = await run(["policy", "check", "--json", "-"], {
      stdin: JSON.stringify({
        name: "w",
        encryption: { enabled: false },
        signing: { enabled: false },
        timestamping: { enabled: false },
        extra: 1,
      }),
    });
    expect(warned.code).toBe(0);
    expect(JSON.parse(warned.stdout)).toMatchObject([
      { path: "extra", code: "UNKNOWN_FIELD", severity: "warning" },
    ]);
  });

  it("points a certificate with metadata to 'trailseal pem --api'", async () => {
    const body = {
      name: "meta",
      encryption: {
        enabled: true,
        certificates: [
          {
            certificate: readFileSync(join(ROOT, CERTS, "variants/bag-attributes.pem"), "utf8"),
            four_eyes_certificate: null,
          },
        ],
        different_certificates_for_upstream: { enabled: false },
      },
      signing: { enabled: false },
      timestamping: { enabled: false },
    };
    const r = await run(["policy", "check", "-"], { stdin: JSON.stringify(body) });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      "encryption.certificates[0].certificate: error: has text around the certificate (Bag Attributes, subject=/issuer= lines or a text dump); SPS wants the PEM block alone; the API wants the bare PEM with \\n line breaks: run 'trailseal pem --api FILE' [CERTIFICATE_NOT_API_FORM]\n" +
        "<stdin>: invalid (1 error, 0 warnings, 0 notes)\n",
    );
    expect(r.stderr).toBe("");
  });

  it("a JSON syntax error never echoes the input (a secret file given by mistake)", async () => {
    const r = await runCli(["policy", "check", "-"], { stdin: "hunter2" });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain("hunter2");
    expect(r.stderr).toBe(
      "trailseal: error: <stdin> is not JSON: Unexpected token 'h'\ntrailseal: hint: give the policy body or the REST object as JSON\n",
    );
  });

  it("exit 2: not JSON, no such file, no argument", async () => {
    const notJson = await run(["policy", "check", "-"], { stdin: "name: audit\n" });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toBe(
      "trailseal: error: <stdin> is not JSON: Unexpected token 'a'\ntrailseal: hint: give the policy body or the REST object as JSON\n",
    );
    const missing = await run(["policy", "check", "testdata/policies/nope.json"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("trailseal: error: no such file: testdata/policies/nope.json\n");
    const none = await run(["policy", "check"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      "trailseal: error: missing required argument 'file'\ntrailseal: hint: see --help\n",
    );
  });
});

describe("trailseal policy check on content policies", () => {
  it("the page's sample response and a rule per selection: exit 0, no problem", async () => {
    for (const f of ["content-6.10-window-title.json", "content-rules.json"]) {
      const r = await run(["policy", "check", `testdata/policies/${f}`]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toBe(`testdata/policies/${f}: valid (0 warnings, 0 notes)\n`);
    }
  });

  it("exit 1 with each planted problem as path: severity: message [CODE]", async () => {
    const r = await run(["policy", "check", "testdata/policies/invalid-content.json"]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(12);
    expect(lines.slice(3, 8)).toEqual([
      'body.rules[0].event.selection: error: must be "command", "screen_content", "creditcard" or "window_title", not "commands" [SELECTION_INVALID]',
      'body.rules[0].event.match[0]: error: pattern "(\\\\w+)\\\\1": a backreference (\\1) at offset 5 is not supported (no linear-time engine can run it) [PATTERN_UNSUPPORTED]',
      "body.rules[0].event.match[1]: error: the ' at offset 2 needs a backslash: SPS wants every single quote written \\' [PATTERN_QUOTE_UNESCAPED]",
      'body.rules[0].event.match[2]: error: pattern "a(?=b)": a lookahead assertion at offset 1 is not supported (no linear-time engine can run it) [PATTERN_UNSUPPORTED]',
      'body.rules[0].event.match[3]: error: pattern "a[": missing closing ]: `[` at offset 1 [PATTERN_INVALID]',
    ]);
    expect(lines[11]).toBe(
      "testdata/policies/invalid-content.json: invalid (10 errors, 1 warning, 0 notes)",
    );
  });

  it("--json gives the same problems as the library", async () => {
    const r = await run(["policy", "check", "--json", "testdata/policies/invalid-content.json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual(
      checkPolicy(JSON.parse(readFileSync(join(POLICIES, "invalid-content.json"), "utf8"))),
    );
  });
});

describe("trailseal policy", () => {
  it("--help lists both subcommands (exit 0); no subcommand is exit 2", async () => {
    const help = await run(["policy", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(
      "trailseal policy create --name audit --encrypt alice.pem,bob.pem --timestamp local",
    );
    const bare = await run(["policy"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe(help.stdout);
    expect(bare.stdout).toBe("");
    const unknown = await run(["policy", "delete"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "trailseal: error: unknown policy subcommand 'delete'\ntrailseal: hint: use 'trailseal policy create' or 'trailseal policy check'\n",
    );
  });

  it("subcommand --help shows examples", async () => {
    for (const sub of ["create", "check"]) {
      const r = await run(["policy", sub, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Examples:");
    }
  });

  it("is listed in trailseal --help", async () => {
    const r = await run(["--help"]);
    expect(r.stdout).toMatch(/^ {2}policy +create an SPS audit policy/m);
  });
});
