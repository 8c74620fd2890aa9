/**
 * The scan engine (src/scan/scan.ts) on the REAL recording of testdata/recordings/scan (a bash
 * session under `script --log-io` in tmux; see its generate.sh), sealed with a separate upstream
 * key and signed, then scanned with a content policy in the seed's shape: the exact hits, with
 * and without the upstream key, without trust anchors, on a truncated copy; and a pathological
 * pattern on a long line.
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readContentPolicy } from "../src/policy/parse.js";
import {
  adHocRules,
  policyRules,
  scanTrail,
  type ScanHit,
  type ScanOptions,
} from "../src/scan/scan.js";
import { certDer, stanzaKey } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { sealRecording } from "./helpers/scan-recording.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-scan-engine-"));
const p = (n: string) => join(dir, n);

/** A content policy as SPS writes it (REST body), one rule per selection and two for commands. */
export const CONTENT_POLICY = {
  name: "db-audit",
  rules: [
    {
      actions: { log: true, notify: true, store_in_connection_database: true, terminate: true },
      event: { selection: "command", match: ["rm\\s+-rf", "^read "], ignore: ["rm -rf \\./build"] },
      gateway_groups: [],
      remote_groups: [],
    },
    {
      actions: { log: true, notify: false, store_in_connection_database: false, terminate: false },
      event: { selection: "command", match: ["s3cret", "read"], ignore: [] },
      gateway_groups: [],
      remote_groups: [],
    },
    {
      actions: { log: true, notify: false, store_in_connection_database: true, terminate: false },
      event: { selection: "screen_content", match: ["got \\d+ characters", "line 40"], ignore: [] },
      gateway_groups: [],
      remote_groups: [],
    },
    {
      actions: { log: true, notify: true, store_in_connection_database: false, terminate: false },
      event: { selection: "creditcard", match: [], ignore: ["ref "] },
      gateway_groups: [],
      remote_groups: [],
    },
    {
      actions: { log: false, notify: true, store_in_connection_database: false, terminate: false },
      event: { selection: "window_title", match: ["maintenance"], ignore: [] },
      gateway_groups: [],
      remote_groups: [],
    },
  ],
};

const DOWN = stanzaKey("certs/rsa2048-a.key");
const UP = stanzaKey("certs/rsa2048-c.key");
const rules = policyRules(readContentPolicy(CONTENT_POLICY));

function scan(file: string, options: Partial<ScanOptions> = {}) {
  return scanTrail(() => createReadStream(p(file)), file, {
    rules,
    keys: [DOWN, UP],
    anchors: [certDer("pki/root-ca.pem")],
    ...options,
  });
}

const ALL = ["log", "notify", "store_in_connection_database", "terminate"] as const;

/** A hit of s.trail; `checkpoint` is its index (the times are those of the 10 s interval). */
function hit(
  rule: number,
  selection: ScanHit["selection"],
  text: string,
  context: string,
  time: number,
  record: number,
  checkpoint: number | null,
  actions: readonly string[],
  more: Partial<ScanHit> = {},
): ScanHit {
  return {
    trail: "s.trail",
    rule: { index: rule, policy: "db-audit", key: null },
    selection,
    text,
    context,
    time,
    channel: "downstream",
    record,
    checkpoint:
      checkpoint === null
        ? null
        : { index: checkpoint, timeUs: [10, 20, 28.225213][checkpoint - 1]! * 1e6 },
    verified: checkpoint !== null,
    actions: actions as ScanHit["actions"],
    ...more,
  };
}

const READ = `read -rsp 'Password: ' pw; echo; echo "got \${#pw} characters"`;
const CARD_LINE = "0".repeat(75) + " 555555******4444";
const CARD_COMMAND = "admin@db01:~$ printf '%075d 555555******4444\\n' 0";

/** Hits every scan of s.trail has, whatever the upstream key. */
const SCREEN_HITS = [
  hit(4, "window_title", "maintenance", "db01 maintenance", 17348267, 84, 2, ["notify"]),
  hit(2, "screen_content", "line 40", "inventory line 40: host db40.example ok", 21738811, 110, 3, [
    "log",
    "store_in_connection_database",
  ]),
  hit(2, "screen_content", "got 11 characters", "got 11 characters", 22592144, 115, 3, [
    "log",
    "store_in_connection_database",
  ]),
  // The printf'd 4111… card shares its line with "ref ", which the rule ignores; the echoed
  // command holds the 5555… card as well as the output line.
  hit(3, "creditcard", "555555******4444", CARD_COMMAND, 28225213, 143, 3, ["log", "notify"]),
  hit(3, "creditcard", "555555******4444", CARD_LINE, 28225213, 143, 3, ["log", "notify"]),
];

beforeAll(async () => sealRecording(dir));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scanTrail on the real recording, sealed", () => {
  it("with both keys: commands from the keystrokes (the password typed blind too), first rule wins, cards masked, all verified", async () => {
    const s = await scan("s.trail");
    expect(s.hits).toEqual([
      hit(0, "command", "read ", READ, 14812160, 72, 2, ALL, {
        channel: "upstream",
        source: "keystrokes",
      }),
      hit(1, "command", "s3cret", "s3cret-pass", 15661611, 75, 2, ["log"], {
        channel: "upstream",
        source: "keystrokes",
      }),
      ...SCREEN_HITS,
    ]);
    expect({ ...s, hits: undefined }).toEqual({
      trail: "s.trail",
      hits: undefined,
      commands: "keystrokes",
      cards: 4,
      integrity: "complete",
      verifiedRecords: 147,
      records: 147,
      notes: [],
    });
  });

  it("with the downstream key alone: commands from the echoed lines, said so; the blind password is not seen", async () => {
    const s = await scan("s.trail", { keys: [DOWN] });
    expect(s.hits).toEqual([
      hit(0, "command", "read ", READ, 14812315, 73, 2, ALL, { source: "screen" }),
      ...SCREEN_HITS,
    ]);
    expect([s.commands, s.notes]).toEqual([
      "screen",
      [
        "the keystrokes (upstream) are hidden: commands were read from the echoed lines on the screen, so commands typed with echo off are missed",
      ],
    ]);
  });

  it("without the downstream key there is no screen to scan: NO_MATCHING_KEY naming the recipient", async () => {
    await expect(scan("s.trail", { keys: [UP] })).rejects.toMatchObject({
      code: "NO_MATCHING_KEY",
      message:
        "s.trail: no key given opens the downstream channel (the screen); any one of these would: entry 0: sha256:dd06f9ad05fe1415fb839ec0dee2eb015212fb139d7e5edcea0778870c70e82c (O=trailseal tests, CN=trailseal test recipient rsa2048-a)",
    });
  });

  it("without trust anchors nothing is proven: the same hits, each unverified, its checkpoint named", async () => {
    const s = await scan("s.trail", { anchors: [] });
    expect(s.hits.map((h) => [h.record, h.checkpoint?.index, h.verified])).toEqual([
      [72, 2, false],
      [75, 2, false],
      [84, 2, false],
      [110, 3, false],
      [115, 3, false],
      [143, 3, false],
      [143, 3, false],
    ]);
    expect([s.verifiedRecords, s.notes]).toEqual([
      0,
      ["records 0 to 146 are not covered by a verified checkpoint: hits there are unverified"],
    ]);
  });

  it("a truncated trail: hits after the last checkpoint are unverified, with no checkpoint", async () => {
    const s = await scan("cut.trail");
    expect(
      s.hits.map((h) => [h.selection, h.text, h.record, h.checkpoint?.index ?? null, h.verified]),
    ).toEqual([
      ["command", "read ", 72, 2, true],
      ["command", "s3cret", 75, 2, true],
      ["window_title", "maintenance", 84, 2, true],
      ["screen_content", "line 40", 110, null, false],
      ["screen_content", "got 11 characters", 115, null, false],
      ["creditcard", "555555******4444", 143, null, false],
      ["creditcard", "555555******4444", 143, null, false],
    ]);
    expect([s.integrity, s.verifiedRecords, s.records, s.notes]).toEqual([
      "truncated",
      103,
      146,
      ["records 103 to 145 are not covered by a verified checkpoint: hits there are unverified"],
    ]);
  });

  it("a trail tampered in the middle is scanned up to the fault, with a note; only hits under checkpoint 1 are proven", async () => {
    const bytes = readFileSync(p("s.trail"));
    bytes[Math.floor(bytes.byteLength / 2)]! ^= 0x01;
    writeFileSync(p("flip.trail"), bytes);
    const s = await scan("flip.trail", { rules: adHocRules({ command: ["^echo "] }) });
    expect(s.hits.map((h) => [h.text, h.record, h.checkpoint?.index ?? null, h.verified])).toEqual([
      ["echo ", 7, 1, true],
      ["echo ", 25, 1, true],
      ["echo ", 37, 1, true],
      ["echo ", 50, null, false],
      ["echo ", 63, null, false],
    ]);
    expect([s.integrity, s.verifiedRecords, s.notes]).toEqual([
      "tampered",
      48,
      [
        "the scan stopped at a fault in the trail: record 95: downstream frame 52 fails authentication",
        "records 48 to 101 are not covered by a verified checkpoint: hits there are unverified",
      ],
    ]);
  });

  it("--permitted: card rules hit only once the trail has shown more cards than that", async () => {
    const cards = adHocRules({ creditcard: true });
    const s = await scan("s.trail", { rules: cards, permitted: 3 });
    expect(s.hits.map((h) => [h.rule, h.text, h.context, h.actions])).toEqual([
      [{ index: 0, policy: "ad-hoc", key: null }, "555555******4444", CARD_LINE, []],
    ]);
    const none = await scan("s.trail", { rules: cards, permitted: 4 });
    expect([none.hits, none.cards]).toEqual([[], 4]);
  });
});

describe("patterns from users on lines from attackers", () => {
  // One line (wrapped over 200 rows of 80 columns) within the screen's longest line, 16 384.
  const long = `${"a".repeat(16_000)}!`;
  beforeAll(async () => {
    const cast = [
      JSON.stringify({ version: 2, width: 80, height: 24 }),
      JSON.stringify([0.5, "o", `${long}\r\n$ `]),
      "",
    ].join("\n");
    writeFileSync(p("long.cast"), cast);
    const create = await runCli(["policy", "create", "--name", "plain", "-o", p("plain.json")]);
    expect(create.code).toBe(0);
    const seal = await runCli([
      ...["seal", "--policy", p("plain.json"), p("long.cast"), "-o", p("long.trail")],
    ]);
    expect(seal.code).toBe(0);
  });

  it("catastrophic backtracking patterns on a 16 001-character line finish with the right answer", async () => {
    // (a+)+$ and (x+x+)+y take exponential time in a backtracking engine on this line.
    const rules = adHocRules({ match: ["(a+)+$", "(x+x+)+y", "(a|aa)+!"] });
    const s = await scanTrail(() => createReadStream(p("long.trail")), "long.trail", { rules });
    expect(s.hits.map((h) => [h.rule.index, h.text === long, h.context === long])).toEqual([
      [2, true, true],
    ]);
    // No key, no anchors, an unsigned trail: nothing is proven.
    expect([s.hits[0]!.verified, s.hits[0]!.checkpoint]).toEqual([
      false,
      { index: 1, timeUs: 500_000 },
    ]);
  });
});
