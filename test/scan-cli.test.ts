/**
 * `trailseal scan` (src/cli/scan.ts), in-process: the real recording of testdata/recordings/scan
 * sealed with a separate upstream key and signed, scanned with a content-policy file and ad-hoc
 * rules; human output, --json, --jsonl over many trails on worker threads, exit statuses.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certSpkiFingerprint, TESTDATA } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { readHit, sealRecording } from "./helpers/scan-recording.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-scan-cli-"));
const p = (n: string) => join(dir, n);
const certs = (n: string) => join(TESTDATA, "certs", n);
const pki = (n: string) => join(TESTDATA, "pki", n);
const KEYS = ["--key", certs("rsa2048-a.key"), "--key", certs("rsa2048-c.key")];
const CA = ["--ca", pki("root-ca.pem")];

const NOTE = "(trailseal does not act on them: the session is over)";
const DB_AUDIT = "rule 0 of db-audit [key 0f4c6d8e-content]";
const TERMINATE = `log, notify, terminate ${NOTE}`;

const POLICY = {
  key: "0f4c6d8e-content",
  body: {
    name: "db-audit",
    rules: [
      {
        actions: { log: true, notify: true, store_in_connection_database: false, terminate: true },
        event: { selection: "command", match: ["^read ", "rm\\s+-rf"], ignore: [] },
        gateway_groups: [],
        remote_groups: [],
      },
    ],
  },
};

beforeAll(async () => {
  await sealRecording(dir);
  writeFileSync(p("content.json"), JSON.stringify(POLICY));
  mkdirSync(p("archive"));
  copyFileSync(p("s.trail"), p("archive/a.trail"));
  // Cut inside the final checkpoint: its records are covered by nothing.
  copyFileSync(p("cut.trail"), p("archive/b.trail"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scan = (args: readonly string[]) => runCli(["scan", ...args], { cwd: dir });

describe("trailseal scan", () => {
  it("a content policy (REST object): the hit, its proof and its actions, in words; exit 1", async () => {
    const r = await scan(["--policy", "content.json", "s.trail", ...KEYS, ...CA]);
    expect([r.code, r.stderr]).toEqual([1, ""]);
    expect(r.stdout).toBe(
      [
        ...readHit(DB_AUDIT, "keystrokes", TERMINATE),
        "s.trail: 1 hit; 147 records, 147 under a verified checkpoint (complete); 4 card numbers on the screen; commands from the keystrokes",
        "",
      ].join("\n"),
    );
  });

  it("ad hoc, without the upstream key: --command from the screen (noted), --creditcard masked past --permitted, --match", async () => {
    const r = await scan([
      ...["s.trail", "--command", "s3cret", "--creditcard", "--permitted", "3"],
      ...["--match", "db01 maintenance", "--key", certs("rsa2048-a.key"), "--json", ...CA],
    ]);
    expect(r.code).toBe(1);
    const [s] = JSON.parse(r.stdout) as [{ hits: unknown[]; commands: string; notes: string[] }];
    // The password was typed with echo off: without the keystrokes nobody sees it.
    // The title itself is no screen text (window_title is its selection): --match finds the
    // echoed printf that set it. Ad-hoc rules: --match first, then --command, then --creditcard.
    expect(s.hits).toEqual([
      {
        trail: "s.trail",
        rule: { index: 0, policy: "ad-hoc", key: null },
        selection: "screen_content",
        text: "db01 maintenance",
        context: "admin@db01:~$ printf '\\033]2;db01 maintenance\\007'",
        time: 22592144,
        channel: "downstream",
        record: 115,
        checkpoint: { index: 3, timeUs: 28225213 },
        verified: true,
        actions: [],
      },
      {
        trail: "s.trail",
        rule: { index: 2, policy: "ad-hoc", key: null },
        selection: "creditcard",
        text: "555555******4444",
        context: `${"0".repeat(75)} 555555******4444`,
        time: 28225213,
        channel: "downstream",
        record: 143,
        checkpoint: { index: 3, timeUs: 28225213 },
        verified: true,
        actions: [],
      },
    ]);
    expect(s.commands).toBe("screen");
    expect(r.stdout).not.toContain("5555555555554444");
    // No command rule: no commands read, so no note about where they would have come from.
    const screenOnly = await scan(
      ["s.trail", "--match", "db01", "--key", certs("rsa2048-a.key"), "--json"].concat(CA),
    );
    const [only] = JSON.parse(screenOnly.stdout) as [{ notes: string[]; commands: string }];
    expect([screenOnly.code, only.commands, only.notes]).toEqual([1, "screen", []]);
  });

  it("a list response (items): every policy applies, each hit names its policy's key and name", async () => {
    const screen = {
      key: "7d1e-screen",
      body: {
        name: "screen-watch",
        rules: [
          {
            actions: {
              log: true,
              notify: false,
              store_in_connection_database: true,
              terminate: false,
            },
            event: { selection: "command", match: ["rm\\s+-rf", "^read "], ignore: [] },
            gateway_groups: [],
            remote_groups: [],
          },
          {
            actions: {
              log: false,
              notify: true,
              store_in_connection_database: false,
              terminate: false,
            },
            event: { selection: "window_title", match: ["maintenance"], ignore: [] },
            gateway_groups: [],
            remote_groups: [],
          },
        ],
      },
      meta: { href: "/api/configuration/policies/content_policies/7d1e-screen" },
    };
    writeFileSync(
      p("list.json"),
      JSON.stringify({
        items: [POLICY, screen],
        meta: { href: "/api/configuration/policies/content_policies" },
      }),
    );
    const r = await scan(["--policy", "list.json", "s.trail", ...KEYS, ...CA]);
    expect([r.code, r.stderr]).toEqual([1, ""]);
    // The same command is a hit of each policy (each applies on its own): two hits, in rule order.
    expect(r.stdout).toBe(
      [
        ...readHit(DB_AUDIT, "keystrokes", TERMINATE),
        ...readHit(
          "rule 0 of screen-watch [key 7d1e-screen]",
          "keystrokes",
          `log, store_in_connection_database ${NOTE}`,
        ),
        "s.trail: rule 1 of screen-watch [key 7d1e-screen] (window_title) at 17.348s, record 84 (downstream), checkpoint 2: verified",
        "  matched: maintenance",
        "  in:      db01 maintenance",
        "  actions: notify (trailseal does not act on them: the session is over)",
        "s.trail: 3 hits; 147 records, 147 under a verified checkpoint (complete); 4 card numbers on the screen; commands from the keystrokes",
        "",
      ].join("\n"),
    );
    const json = await scan(["--policy", "list.json", "s.trail", ...KEYS, ...CA, "--json"]);
    const [s] = JSON.parse(json.stdout) as [{ hits: { rule: unknown }[] }];
    expect(s.hits.map((h) => h.rule)).toEqual([
      { index: 0, policy: "db-audit", key: "0f4c6d8e-content" },
      { index: 0, policy: "screen-watch", key: "7d1e-screen" },
      { index: 1, policy: "screen-watch", key: "7d1e-screen" },
    ]);
  });

  it("a list response with a bad item, an audit policy or none: exit 2, the item named by index and key", async () => {
    const bad = structuredClone(POLICY);
    bad.key = "9a9a-bad";
    bad.body.rules[0]!.event.match = ["a(?=b)"];
    bad.body.rules[0]!.event.selection = "screen";
    const audit = {
      key: "a0-audit",
      body: JSON.parse(readFileSync(p("p.json"), "utf8")) as unknown,
    };
    const cases: [string, unknown, string][] = [
      [
        "bad.json",
        { items: [POLICY, bad] },
        'items[1] (key "9a9a-bad") fails the check: items[1].body.rules[0].event.selection: must be "command", "screen_content", "creditcard" or "window_title", not "screen"; items[1].body.rules[0].event.match[0]: pattern "a(?=b)": a lookahead assertion at offset 1 is not supported (no linear-time engine can run it)',
      ],
      [
        "mixed.json",
        { items: [POLICY, audit] },
        'items[1] (key "a0-audit") is an audit policy (scan); a content policy is needed here',
      ],
      [
        "ref.json",
        { items: [{ key: "b1-ref", meta: { href: "/api/x" } }] },
        'items[0] (key "b1-ref") is a reference without a body; GET its meta.href for the policy',
      ],
      ["empty.json", { items: [] }, "the list response has no items: no policy to apply"],
    ];
    for (const [file, doc, message] of cases) {
      writeFileSync(p(file), JSON.stringify(doc));
      const r = await scan(["--policy", file, "s.trail", ...KEYS]);
      expect([file, r.code, r.stdout, r.stderr]).toEqual([
        file,
        2,
        "",
        `trailseal: error: ${file}: ${message}\ntrailseal: hint: run 'trailseal policy check ${file}' to see every problem\n`,
      ]);
    }
  });

  it("no rule matched: exit 0; the report says what was scanned", async () => {
    const r = await scan(["s.trail", "--command", "shutdown", ...KEYS]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toBe(
      "s.trail: 0 hits; 147 records, 0 under a verified checkpoint (complete); 4 card numbers on the screen; commands from the keystrokes\n" +
        "  note: records 0 to 146 are not covered by a verified checkpoint: hits there are unverified\n",
    );
  });

  it("a directory on two worker threads, --jsonl: each trail as it finishes, the truncated one's hit unverified, then a summary", async () => {
    const r = await scan([
      "archive",
      "--command",
      "^exit$",
      "--jobs",
      "2",
      "--jsonl",
      ...KEYS,
      ...CA,
    ]);
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const scans = lines
      .filter((l) => l.type === "scan")
      .map((l) => {
        const [h] = l.hits as { record: number; verified: boolean; checkpoint: unknown }[];
        return [l.key, l.integrity, h!.record, h!.checkpoint, h!.verified];
      })
      .sort();
    expect(scans).toEqual([
      ["a.trail", "complete", 141, { index: 3, timeUs: 28225213 }, true],
      ["b.trail", "truncated", 141, null, false],
    ]);
    expect(lines.at(-1)).toMatchObject({
      type: "summary",
      trails: 2,
      trailsWithHits: 2,
      hits: 2,
      unverifiedHits: 1,
      unreadable: 0,
    });
    expect(r.stderr).toBe(
      "trailseal: summary: 2 trails: 2 hits (1 not verified) in 2, 0 unreadable\n",
    );
  });

  it("usage and I/O errors exit 2, with the pattern, the policy or the trail named", async () => {
    const norule = await scan(["s.trail", ...KEYS]);
    expect([norule.code, norule.stderr]).toEqual([
      2,
      "trailseal: error: no rule given\ntrailseal: hint: give --policy content.json, or --match REGEX, --command REGEX or --creditcard\n",
    ]);
    const look = await scan(["s.trail", "--match", "a(?=b)", ...KEYS]);
    expect([look.code, look.stderr]).toEqual([
      2,
      'trailseal: error: pattern "a(?=b)": a lookahead assertion at offset 1 is not supported (no linear-time engine can run it)\n',
    ]);
    writeFileSync(p("audit.json"), readFileSync(p("p.json")));
    const audit = await scan(["s.trail", "--policy", "audit.json", ...KEYS]);
    expect([audit.code, audit.stderr]).toEqual([
      2,
      "trailseal: error: audit.json: scan is an audit policy; a content policy is needed here\ntrailseal: hint: run 'trailseal policy check audit.json' to see every problem\n",
    ]);
    const nokey = await scan(["s.trail", "--creditcard"]);
    expect([nokey.code, nokey.stderr]).toEqual([
      2,
      `trailseal: error: s.trail: no key given opens the downstream channel (the screen); any one of these would: entry 0: sha256:${certSpkiFingerprint("certs/rsa2048-a.crt")} (O=trailseal tests, CN=trailseal test recipient rsa2048-a)\n`,
    ]);
    const stdin = await scan(["-", "--creditcard", ...KEYS]);
    expect([stdin.code, stdin.stderr]).toEqual([
      2,
      "trailseal: error: scan reads each trail twice (verified, then decrypted)\ntrailseal: hint: save the trail to a file and name it\n",
    ]);
    const bad = await scan(["s.trail", "--creditcard", "--permitted", "-1", ...KEYS]);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      "trailseal: error: --permitted takes a whole number from 0, not '-1'\n",
    ]);
  });

  it("--help shows examples and the limits", async () => {
    const r = await scan(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("trailseal scan --policy content.json session.trail");
    expect(r.stdout).toContain("trailseal does not terminate anything");
    expect(r.stdout).toContain(
      "Graphical protocols (RDP, ICA, VNC) are not recorded by trailseal.",
    );
    expect(r.stdout).toContain("--pkcs11-module <file>");
    expect(r.stdout).toContain("With a token key every trail is scanned in\nthis thread");
    expect(r.stdout).toContain("a body, a REST object or a list response");
  });
});
